import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadDefinition, readmeOf, renderActionYml, renderReference, withReference } from './action-metadata';
import { actionIds, root } from './bundle';

for (const id of actionIds()) {
  const definition = await loadDefinition(id);
  writeFileSync(join(root, 'actions', id, 'action.yml'), renderActionYml(definition));
  writeFileSync(
    join(root, 'actions', id, 'README.md'),
    withReference(readmeOf(id), renderReference(definition)),
  );
  console.log(`actions/${id}: action.yml and README reference written`);
}
