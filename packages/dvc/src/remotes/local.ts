import { createReadStream } from 'node:fs';
import { type FileHandle, open, stat } from 'node:fs/promises';
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
    async read(objectPath) {
      const file = join(root, objectPath);
      // One open and fstat instead of stat + open: the thread pool runs several reads at once.
      let handle: FileHandle;
      try {
        handle = await open(file, 'r');
      } catch (error) {
        if (['ENOENT', 'ENOTDIR', 'EISDIR'].includes((error as NodeJS.ErrnoException).code ?? ''))
          return undefined;
        throw error;
      }
      try {
        const info = await handle.stat();
        if (!info.isFile()) return undefined;
        return info.size <= WHOLE_READ_LIMIT ? await handle.readFile() : null;
      } finally {
        await handle.close();
      }
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
