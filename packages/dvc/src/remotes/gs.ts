import { cpus } from 'node:os';
import { ActionError } from '@mlops-actions/kit';
import type { RemoteConfig } from '../config';
import { primeStream } from './first-chunk';
import { parseBucketUrl } from './s3';
import type { RemoteOptions, RemoteStore } from './types';

function statusOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

/**
 * A Google Cloud Storage remote through @google-cloud/storage, loaded only here. Credentials come from
 * `credentialpath` in the remote's config or the environment (GOOGLE_APPLICATION_CREDENTIALS, as
 * google-github-actions/auth leaves it).
 */
export async function gsRemote(remote: RemoteConfig, _options: RemoteOptions): Promise<RemoteStore> {
  const { Storage } = await import('@google-cloud/storage');
  const o = remote.options;
  const { bucket, prefix } = parseBucketUrl(remote.url);
  const storage = new Storage({
    ...(o.projectname ? { projectId: o.projectname } : {}),
    ...(o.credentialpath ? { keyFilename: o.credentialpath } : {}),
    ...(o.endpointurl ? { apiEndpoint: o.endpointurl } : {}),
  });
  const keyOf = (objectPath: string) => (prefix ? `${prefix}/${objectPath}` : objectPath);
  return {
    name: remote.name,
    kind: 'gs',
    display: remote.url,
    defaultJobs: Math.min(32, cpus().length * 4),
    locate: (objectPath) => `gs://${bucket}/${keyOf(objectPath)}`,
    async open(objectPath) {
      const stream = storage.bucket(bucket).file(keyOf(objectPath)).createReadStream({ validation: false });
      try {
        return await primeStream(stream, (error) => statusOf(error) === 404);
      } catch (error) {
        const status = statusOf(error);
        if (status === 401 || status === 403) {
          throw new ActionError(
            `DVC remote '${remote.name}' (${remote.url}) rejected the credentials: ${status}; authenticate with google-github-actions/auth or set credentialpath`,
          );
        }
        throw error;
      }
    },
  };
}
