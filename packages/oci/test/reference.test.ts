import { describe, expect, it } from 'vitest';
import { formatReference, isValidTag, parseReference, registryApiHost } from '../src/reference';

describe('parseReference', () => {
  it('reads host, port, repository, tag and digest', () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    expect(parseReference(`oci://127.0.0.1:5000/team/model:v1@${digest}`)).toEqual({
      registry: '127.0.0.1:5000',
      repository: 'team/model',
      tag: 'v1',
      digest,
    });
    expect(parseReference('ghcr.io/acme/serving')).toEqual({
      registry: 'ghcr.io',
      repository: 'acme/serving',
    });
    expect(parseReference('localhost/x:1.0')).toEqual({ registry: 'localhost', repository: 'x', tag: '1.0' });
  });

  it('applies the Docker Hub defaults', () => {
    expect(parseReference('busybox:1.36')).toEqual({
      registry: 'docker.io',
      repository: 'library/busybox',
      tag: '1.36',
    });
    expect(parseReference('seldonio/mlserver')).toEqual({
      registry: 'docker.io',
      repository: 'seldonio/mlserver',
    });
    expect(parseReference('index.docker.io/nginx').repository).toBe('library/nginx');
    expect(registryApiHost('docker.io')).toBe('registry-1.docker.io');
  });

  it('refuses what is not a reference, saying what is accepted', () => {
    expect(() => parseReference('Ghcr.io/Acme/X')).toThrow(
      /not a repository name.*expected \[oci:\/\/\]host/,
    );
    expect(() => parseReference('r.io/a:-bad')).toThrow(/'-bad' is not a valid tag/);
    expect(() => parseReference('r.io/a@sha256:123')).toThrow(/is not a digest/);
    expect(() => parseReference('')).toThrow(/empty/);
  });

  it('formats back and validates tags', () => {
    expect(formatReference(parseReference('oci://r.io:443/a/b:t'))).toBe('r.io:443/a/b:t');
    expect(isValidTag('v1.2_3-x')).toBe(true);
    expect(isValidTag('.x')).toBe(false);
    expect(isValidTag('a'.repeat(129))).toBe(false);
  });
});
