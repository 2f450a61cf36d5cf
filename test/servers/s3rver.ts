import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { freePort } from './process';

export interface S3rverInstance {
  endpoint: string;
  /** s3rver's fixed credentials. */
  accessKeyId: string;
  secretAccessKey: string;
  stop(): Promise<void>;
}

/** Starts s3rver (an S3 API implementation) on 127.0.0.1 with the given buckets, data in a temp dir. */
export async function startS3rver(buckets: string[]): Promise<S3rverInstance> {
  // s3rver ships no types; its constructor options and run()/close() are documented in its README.
  const moduleName = 's3rver';
  const { default: S3rver } = (await import(moduleName)) as {
    default: new (options: Record<string, unknown>) => { run(): Promise<unknown>; close(): Promise<void> };
  };
  const directory = mkdtempSync(join(tmpdir(), 's3rver-'));
  const port = await freePort();
  const server = new S3rver({
    port,
    address: '127.0.0.1',
    silent: true,
    directory,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  await server.run();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    async stop() {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** Uploads every file under `dir` to `bucket` under `prefix`, keys with `/`. */
export async function uploadTree(
  instance: S3rverInstance,
  bucket: string,
  prefix: string,
  dir: string,
): Promise<number> {
  const { S3Client, PutObjectCommand } = await import('@aws-sdk/client-s3');
  const client = new S3Client({
    region: 'us-east-1',
    endpoint: instance.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: instance.accessKeyId, secretAccessKey: instance.secretAccessKey },
  });
  const files: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.push(path);
    }
  };
  walk(dir);
  for (const file of files) {
    const key = [prefix, relative(dir, file).split(sep).join('/')].filter(Boolean).join('/');
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: readFileSync(file) }));
  }
  client.destroy();
  return files.length;
}
