import { ActionError } from '@mlops-actions/kit';
import { isDigest } from './media';

export interface Reference {
  /** Registry host with optional port as written by the user, `docker.io` for Docker Hub. */
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

export const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_API = 'registry-1.docker.io';

const COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const REPOSITORY = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const HOST =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$/;

export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}

export function isValidRepository(repository: string): boolean {
  return REPOSITORY.test(repository) && repository.length <= 255;
}

/**
 * Parses `[oci://]host[:port]/repo[:tag][@sha256:…]`. A first component without a dot or colon that is not
 * `localhost` is a Docker Hub repository (`busybox` → `docker.io/library/busybox`).
 */
export function parseReference(text: string): Reference {
  const raw = text.trim().replace(/^oci:\/\//, '');
  const fail = (why: string) =>
    new ActionError(
      `'${text}' is not an image reference: ${why}; expected [oci://]host[:port]/repository[:tag][@sha256:<64 hex>]`,
    );
  if (!raw) throw fail('it is empty');
  let rest = raw;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) throw fail(`'${digest}' is not a digest`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!isValidTag(tag))
      throw fail(
        `'${tag}' is not a valid tag (letters, digits, _ . -, at most 128, not starting with . or -)`,
      );
  }
  const slash = rest.indexOf('/');
  const first = slash < 0 ? '' : rest.slice(0, slash);
  let registry: string;
  let repository: string;
  if (
    first &&
    (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('['))
  ) {
    registry = first;
    repository = rest.slice(slash + 1);
    if (!HOST.test(registry)) throw fail(`'${registry}' is not a registry host`);
  } else {
    registry = DOCKER_HUB;
    repository = rest;
  }
  if (registry === DOCKER_HUB || registry === 'index.docker.io') {
    registry = DOCKER_HUB;
    if (!repository.includes('/')) repository = `library/${repository}`;
  }
  if (!isValidRepository(repository))
    throw fail(
      `'${repository}' is not a repository name (lowercase letters, digits and separators . _ __ - /)`,
    );
  return { registry, repository, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** `host/repo[:tag][@digest]`, the form skopeo and docker accept (no `oci://`). */
export function formatReference(ref: Reference): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** The host that answers the distribution API for a registry name (Docker Hub's API lives elsewhere). */
export function registryApiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API : registry;
}

/** Plain HTTP only for loopback registries, as docker and skopeo default to; anything else needs TLS unless asked. */
export function isLoopback(registry: string): boolean {
  const host = registry.replace(/:[0-9]+$/, '').replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}
