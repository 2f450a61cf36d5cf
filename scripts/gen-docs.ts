import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  loadDefinition,
  ROOT_ACTION,
  readmeOf,
  renderActionYml,
  renderReference,
  withReference,
} from './action-metadata';
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

writeFileSync(
  join(root, 'action.yml'),
  renderActionYml(await loadDefinition(ROOT_ACTION.id), ROOT_ACTION.bundle, ROOT_ACTION.source),
);
console.log(`action.yml (the root action: ${ROOT_ACTION.id}) written`);
