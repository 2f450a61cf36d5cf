import { ActionError } from '@mlops-actions/kit';
import type { RemoteConfig } from '../config';
import { httpRemote } from './http';
import { localRemote } from './local';
import type { RemoteOptions, RemoteStore } from './types';

export type { RemoteKind, RemoteOptions, RemoteStore } from './types';

/** The scheme of a remote URL (`local` for a path). */
export function schemeOf(url: string): string {
  const match = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url);
  return match ? match[1]!.toLowerCase() : 'local';
}

/** Opens a remote by its URL scheme; each cloud SDK is imported only when a remote of its kind is used. */
export async function openRemote(remote: RemoteConfig, options: RemoteOptions): Promise<RemoteStore> {
  const scheme = schemeOf(remote.url);
  switch (scheme) {
    case 'local':
      return localRemote(remote.name, remote.url);
    case 'http':
    case 'https':
      return httpRemote(remote, options);
    case 's3':
      return (await import('./s3')).s3Remote(remote, options);
    case 'gs':
      return (await import('./gs')).gsRemote(remote, options);
    case 'azure':
      return (await import('./azure')).azureRemote(remote, options);
    default:
      throw new ActionError(
        `DVC remote '${remote.name}' uses ${scheme}://, which dvc-pull does not read natively (it reads local paths, http(s), s3, gs and azure); set use-dvc-cli: true to run an installed 'dvc pull' instead`,
      );
  }
}
