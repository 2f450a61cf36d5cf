import { cpus } from 'node:os';
import { ActionError } from '@mlops-actions/kit';
import type { RemoteConfig } from '../config';
import type { RemoteOptions, RemoteStore } from './types';

/** `azure://container/prefix` → container and key prefix. */
export function parseContainerUrl(url: string): { container: string; prefix: string } {
  const parsed = new URL(url);
  return { container: parsed.host, prefix: decodeURIComponent(parsed.pathname).replace(/^\/+|\/+$/g, '') };
}

/**
 * An Azure Blob Storage remote through @azure/storage-blob, loaded only here. Credentials, as DVC reads
 * them: connection_string, account_name + account_key or sas_token from the remote's config, else
 * AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCOUNT (+ AZURE_STORAGE_KEY / AZURE_STORAGE_SAS_TOKEN).
 */
export async function azureRemote(remote: RemoteConfig, options: RemoteOptions): Promise<RemoteStore> {
  const { BlobServiceClient, StorageSharedKeyCredential } = await import('@azure/storage-blob');
  const o = remote.options;
  const env = options.env;
  const { container, prefix } = parseContainerUrl(remote.url);
  for (const secret of [o.connection_string, o.account_key, o.sas_token]) if (secret) options.mask?.(secret);
  const connection = o.connection_string || env.AZURE_STORAGE_CONNECTION_STRING;
  const account = o.account_name || env.AZURE_STORAGE_ACCOUNT;
  const key = o.account_key || env.AZURE_STORAGE_KEY;
  const sas = o.sas_token || env.AZURE_STORAGE_SAS_TOKEN;
  let service: InstanceType<typeof BlobServiceClient>;
  if (connection) service = BlobServiceClient.fromConnectionString(connection);
  else if (account && key) {
    service = new BlobServiceClient(
      `https://${account}.blob.core.windows.net`,
      new StorageSharedKeyCredential(account, key),
    );
  } else if (account) {
    service = new BlobServiceClient(
      `https://${account}.blob.core.windows.net${sas ? `?${sas.replace(/^\?/, '')}` : ''}`,
    );
  } else {
    throw new ActionError(
      `DVC remote '${remote.name}' (${remote.url}): no Azure account; set AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCOUNT (with AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN), or use-dvc-cli: true`,
    );
  }
  const client = service.getContainerClient(container);
  const keyOf = (objectPath: string) => (prefix ? `${prefix}/${objectPath}` : objectPath);
  return {
    name: remote.name,
    kind: 'azure',
    display: remote.url,
    defaultJobs: Math.min(32, cpus().length * 4),
    locate: (objectPath) => `azure://${container}/${keyOf(objectPath)}`,
    async open(objectPath, signal) {
      try {
        const response = await client
          .getBlobClient(keyOf(objectPath))
          .download(0, undefined, { abortSignal: signal });
        return response.readableStreamBody as AsyncIterable<Uint8Array> | undefined;
      } catch (error) {
        const status = (error as { statusCode?: number }).statusCode;
        if (status === 404) return undefined;
        if (status === 401 || status === 403) {
          throw new ActionError(
            `DVC remote '${remote.name}' (${remote.url}) rejected the credentials: ${status}; check the Azure storage credentials`,
          );
        }
        throw error;
      }
    },
  };
}
