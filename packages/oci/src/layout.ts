import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  createReadStream,
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { ActionError, type ByteSource, writeFileAtomic } from '@mlops-actions/kit';
import { writeHashed } from './layer';
import { type Descriptor, type ImageIndex, MediaType, sha256 } from './media';
import { parseManifest } from './registry';
import type { BlobSource, FetchedManifest, OciStore, PushOutcome, StreamedBlob } from './store';

export const REF_NAME = 'org.opencontainers.image.ref.name';

/**
 * An OCI image-layout directory seen as a registry: each repository is a layout in its own sub-folder
 * (the root itself for the repository ''), so `skopeo copy oci:<root>/<repository>:<tag>` reads it. Blobs
 * are verified before they land and every file is written atomically.
 */
export class LayoutStore implements OciStore {
  readonly name: string;
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.name = this.root;
  }

  /** The layout folder of a repository. */
  dir(repository: string): string {
    if (repository.split('/').some((part) => part === '..'))
      throw new ActionError(`'${repository}' is not a repository name`);
    return repository ? join(this.root, repository) : this.root;
  }

  blobPath(repository: string, digest: string): string {
    const [algorithm, hex] = digest.split(':');
    if (!algorithm || !hex || !/^[a-f0-9]+$/.test(hex)) throw new ActionError(`'${digest}' is not a digest`);
    return join(this.dir(repository), 'blobs', algorithm, hex);
  }

  private init(repository: string): void {
    const dir = this.dir(repository);
    if (!existsSync(join(dir, 'oci-layout'))) {
      mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
      writeFileAtomic(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    }
    if (!existsSync(join(dir, 'index.json')))
      this.writeIndex(repository, { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] });
  }

  readIndex(repository: string): ImageIndex {
    const path = join(this.dir(repository), 'index.json');
    if (!existsSync(path)) return { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] };
    return JSON.parse(readFileSync(path, 'utf8')) as ImageIndex;
  }

  private writeIndex(repository: string, index: ImageIndex): void {
    writeFileAtomic(join(this.dir(repository), 'index.json'), `${JSON.stringify(index, null, 2)}\n`);
  }

  async resolve(repository: string, reference: string): Promise<Descriptor | undefined> {
    if (reference.includes(':')) {
      const found = this.readIndex(repository).manifests.find((m) => m.digest === reference);
      if (found) return { mediaType: found.mediaType, digest: found.digest, size: found.size };
      return (await this.getManifest(repository, reference))?.descriptor;
    }
    const found = this.readIndex(repository).manifests.find((m) => m.annotations?.[REF_NAME] === reference);
    return found && { mediaType: found.mediaType, digest: found.digest, size: found.size };
  }

  async getManifest(repository: string, reference: string): Promise<FetchedManifest | undefined> {
    const descriptor = reference.includes(':')
      ? { digest: reference, mediaType: undefined }
      : await this.resolve(repository, reference);
    if (!descriptor) return undefined;
    const path = this.blobPath(repository, descriptor.digest);
    if (!existsSync(path)) return undefined;
    return parseManifest(
      readFileSync(path),
      descriptor.digest,
      descriptor.mediaType ?? null,
      `${this.name}/${repository}@${descriptor.digest}`,
    );
  }

  async putManifest(
    repository: string,
    bytes: Uint8Array,
    mediaType: string,
    tag?: string,
  ): Promise<Descriptor> {
    const descriptor: Descriptor = { mediaType, digest: sha256(bytes), size: bytes.byteLength };
    await this.pushBlob(repository, descriptor, bytes);
    const index = this.readIndex(repository);
    const others = index.manifests.filter((m) =>
      tag
        ? m.annotations?.[REF_NAME] !== tag
        : !(m.digest === descriptor.digest && !m.annotations?.[REF_NAME]),
    );
    const untaggedPresent = !tag && index.manifests.some((m) => m.digest === descriptor.digest);
    index.manifests = untaggedPresent
      ? index.manifests
      : [...others, tag ? { ...descriptor, annotations: { [REF_NAME]: tag } } : descriptor];
    this.writeIndex(repository, index);
    return descriptor;
  }

  async hasBlob(repository: string, digest: string): Promise<number | undefined> {
    const path = this.blobPath(repository, digest);
    return existsSync(path) ? statSync(path).size : undefined;
  }

  async getBlob(repository: string, digest: string): Promise<Buffer> {
    const path = this.blobPath(repository, digest);
    if (!existsSync(path)) throw new ActionError(`Blob ${digest} is missing from ${this.dir(repository)}`);
    const bytes = readFileSync(path);
    if (sha256(bytes) !== digest) throw new ActionError(`Blob ${path} does not match its digest`);
    return bytes;
  }

  async openBlob(repository: string, digest: string): Promise<Readable> {
    const path = this.blobPath(repository, digest);
    if (!existsSync(path)) throw new ActionError(`Blob ${digest} is missing from ${this.dir(repository)}`);
    return createReadStream(path);
  }

  async pushBlob(
    repository: string,
    descriptor: Descriptor,
    source: BlobSource,
    options: { onProgress?: (bytes: number) => void; mountFrom?: string } = {},
  ): Promise<PushOutcome> {
    this.init(repository);
    const target = this.blobPath(repository, descriptor.digest);
    if (existsSync(target)) return 'exists';
    if (
      options.mountFrom !== undefined &&
      (await this.mountBlob(repository, descriptor.digest, options.mountFrom))
    )
      return 'mounted';
    mkdirSync(dirname(target), { recursive: true });
    const pending = `${target}.${randomBytes(6).toString('hex')}.pending`;
    try {
      const input = source instanceof Uint8Array ? Readable.from([Buffer.from(source)]) : source();
      const stored = await writeHashed(input, pending, { onProgress: options.onProgress });
      if (stored.digest !== descriptor.digest || stored.size !== descriptor.size)
        throw new ActionError(
          `Blob for ${descriptor.digest} (${descriptor.size} bytes) had digest ${stored.digest} and ${stored.size} bytes`,
        );
      renameSync(pending, target);
    } finally {
      rmSync(pending, { force: true });
    }
    return 'uploaded';
  }

  async pushStream(
    repository: string,
    open: () => ByteSource,
    options: { onProgress?: (bytes: number) => void; signal?: AbortSignal } = {},
  ): Promise<StreamedBlob> {
    this.init(repository);
    // The digest is known only at the end: write under a temporary name in the layout, then rename.
    const pending = join(this.dir(repository), 'blobs', 'sha256', `upload-${randomBytes(6).toString('hex')}`);
    try {
      const stored = await writeHashed(open(), pending, options);
      const target = this.blobPath(repository, stored.digest);
      if (existsSync(target)) return { ...stored, outcome: 'exists' };
      renameSync(pending, target);
      return { ...stored, outcome: 'uploaded' };
    } finally {
      rmSync(pending, { force: true });
    }
  }

  async mountBlob(repository: string, digest: string, from: string): Promise<boolean> {
    const source = this.blobPath(from, digest);
    if (!existsSync(source)) return false;
    this.init(repository);
    const target = this.blobPath(repository, digest);
    if (existsSync(target)) return true;
    mkdirSync(dirname(target), { recursive: true });
    const temp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      linkSync(source, temp);
    } catch {
      copyFileSync(source, temp);
    }
    renameSync(temp, target);
    return true;
  }

  async listTags(repository: string): Promise<string[]> {
    const tags = this.readIndex(repository).manifests.flatMap((m) => m.annotations?.[REF_NAME] ?? []);
    return [...new Set(tags)].sort();
  }

  async deleteTag(repository: string, tag: string): Promise<boolean> {
    const index = this.readIndex(repository);
    const kept = index.manifests.filter((m) => m.annotations?.[REF_NAME] !== tag);
    if (kept.length === index.manifests.length) return false;
    this.writeIndex(repository, { ...index, manifests: kept });
    return true;
  }

  /** A layout has no referrers API: referrers live under the `sha256-<hex>` tag schema. */
  async referrersApi(): Promise<undefined> {
    return undefined;
  }
}
