import { cpus } from 'node:os';
import { ActionError } from '@mlops-actions/kit';
import type { RemoteConfig } from '../config';
import type { RemoteOptions, RemoteStore } from './types';

const AUTH_ERRORS = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'Forbidden',
]);

/** Splits `s3://bucket/prefix` into bucket and key prefix (no trailing slash). */
export function parseBucketUrl(url: string): { bucket: string; prefix: string } {
  const parsed = new URL(url);
  return { bucket: parsed.host, prefix: decodeURIComponent(parsed.pathname).replace(/^\/+|\/+$/g, '') };
}

/**
 * An S3 (or S3-compatible, with `endpointurl`) remote through the AWS SDK v3, loaded only here. Credentials
 * come from the environment, as aws-actions/configure-aws-credentials leaves them, unless the remote's
 * config sets access_key_id / secret_access_key.
 */
export async function s3Remote(remote: RemoteConfig, options: RemoteOptions): Promise<RemoteStore> {
  const { S3Client, GetObjectCommand } = await import('@aws-sdk/client-s3');
  const o = remote.options;
  const { bucket, prefix } = parseBucketUrl(remote.url);
  const env = options.env;
  for (const secret of [o.secret_access_key, o.session_token]) if (secret) options.mask?.(secret);
  const endpoint = o.endpointurl || env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL;
  const client = new S3Client({
    region: o.region || env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1',
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    ...(o.access_key_id && o.secret_access_key
      ? {
          credentials: {
            accessKeyId: o.access_key_id,
            secretAccessKey: o.secret_access_key,
            sessionToken: o.session_token,
          },
        }
      : {}),
    maxAttempts: 5,
  });
  const keyOf = (objectPath: string) => (prefix ? `${prefix}/${objectPath}` : objectPath);
  return {
    name: remote.name,
    kind: 's3',
    display: remote.url,
    defaultJobs: Math.min(32, cpus().length * 4),
    locate: (objectPath) => `s3://${bucket}/${keyOf(objectPath)}`,
    async open(objectPath, signal) {
      try {
        const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: keyOf(objectPath) }), {
          abortSignal: signal,
        });
        return response.Body as AsyncIterable<Uint8Array>;
      } catch (error) {
        const err = error as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
        const code = err.name ?? err.Code ?? '';
        const status = err.$metadata?.httpStatusCode;
        if (code === 'NoSuchKey' || code === 'NotFound' || status === 404) return undefined;
        if (code === 'NoSuchBucket')
          throw new ActionError(
            `DVC remote '${remote.name}' (${remote.url}): bucket '${bucket}' does not exist`,
          );
        if (AUTH_ERRORS.has(code) || status === 401 || status === 403) {
          throw new ActionError(
            `DVC remote '${remote.name}' (${remote.url}) rejected the credentials: ${code || status}; set AWS credentials in the environment (aws-actions/configure-aws-credentials)`,
          );
        }
        if (code === 'CredentialsProviderError') {
          throw new ActionError(
            `DVC remote '${remote.name}' (${remote.url}): no AWS credentials found in the environment`,
          );
        }
        throw error;
      }
    },
  };
}
