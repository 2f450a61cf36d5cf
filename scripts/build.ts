import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { actionIds, buildAll, root } from './bundle';

const only = process.argv.slice(2);
const ids = only.length > 0 ? only : actionIds();
const dist = join(root, 'dist');
if (only.length === 0 && existsSync(dist)) {
  for (const stale of readdirSync(dist))
    if (!ids.includes(stale)) rmSync(join(dist, stale), { recursive: true });
}
await buildAll(dist, ids);
