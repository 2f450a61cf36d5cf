import { createReadStream, readFileSync, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { RemoteStore } from './types';

const WHOLE_READ_LIMIT = 16 << 20;

export function localRemote(name: string, root: string): RemoteStore {
  return {
    name,
    kind: 'local',
    display: root,
    defaultJobs: Math.max(2, Math.min(8, cpus().length * 2)),
    locate: (objectPath) => join(root, objectPath),
    read(objectPath) {
      const file = join(root, objectPath);
      const info = statSync(file, { throwIfNoEntry: false });
      if (!info?.isFile()) return undefined;
      return info.size <= WHOLE_READ_LIMIT ? readFileSync(file) : null;
    },
    async open(objectPath) {
      const file = join(root, objectPath);
      try {
        const info = await stat(file);
        if (!info.isFile()) return undefined;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
      return createReadStream(file, { highWaterMark: 1 << 20 });
    },
  };
}
