import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { freePort, type ManagedProcess, startProcess, waitFor } from './process';

/** Azurite's published development account (the same for every Azurite install; not a secret). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface AzuriteInstance {
  blobEndpoint: string;
  connectionString(key?: string): string;
  stop(): Promise<void>;
}

/** Starts Microsoft's Azurite blob service (npm `azurite`) on 127.0.0.1 with its data in a temp dir. */
export async function startAzurite(): Promise<AzuriteInstance> {
  const location = mkdtempSync(join(tmpdir(), 'azurite-'));
  const port = await freePort();
  const bin = join(
    import.meta.dirname ?? new URL('.', import.meta.url).pathname,
    '..',
    '..',
    'node_modules',
    '.bin',
    'azurite-blob',
  );
  const proc: ManagedProcess = startProcess(bin, [
    '--blobHost',
    '127.0.0.1',
    '--blobPort',
    String(port),
    '--location',
    location,
    '--silent',
    '--skipApiVersionCheck',
    '--loose',
  ]);
  const blobEndpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  await waitFor(
    async () => {
      const response = await fetch(`${blobEndpoint}?comp=list`, { signal: AbortSignal.timeout(2000) });
      await response.body?.cancel();
      return response.status < 500;
    },
    30_000,
    `azurite on port ${port}: ${proc.output()}`,
  );
  return {
    blobEndpoint,
    connectionString: (key = AZURITE_KEY) =>
      `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${key};BlobEndpoint=${blobEndpoint};`,
    async stop() {
      await proc.stop();
      rmSync(location, { recursive: true, force: true });
    },
  };
}

/** Uploads every file under `dir` into `container` (created) under `prefix`. */
export async function uploadTreeToAzurite(
  instance: AzuriteInstance,
  container: string,
  prefix: string,
  dir: string,
): Promise<number> {
  const { BlobServiceClient } = await import('@azure/storage-blob');
  const client = BlobServiceClient.fromConnectionString(instance.connectionString()).getContainerClient(
    container,
  );
  await client.createIfNotExists();
  let count = 0;
  const walk = async (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) await walk(path);
      else {
        const key = [prefix, relative(dir, path).split(sep).join('/')].filter(Boolean).join('/');
        await client.getBlockBlobClient(key).uploadData(readFileSync(path));
        count++;
      }
    }
  };
  await walk(dir);
  return count;
}
