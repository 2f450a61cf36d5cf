import { PassThrough, type Readable } from 'node:stream';
import { ActionError } from '@mlops-actions/kit';
import {
  type Descriptor,
  formatPlatform,
  type ImageConfig,
  type ImageIndex,
  type ImageManifest,
  isIndex,
  MediaType,
  type Platform,
  samePlatform,
} from './media';
import type { BlobSource, OciStore, PushOutcome } from './store';

/** One platform of an image: its manifest and config as read from a store. */
export interface PlatformImage {
  descriptor: Descriptor;
  manifest: ImageManifest;
  config: ImageConfig;
  platform: Platform;
}

export interface ImageRead {
  /** The digest of what the reference points to (an index or a manifest). */
  descriptor: Descriptor;
  index?: ImageIndex;
  images: PlatformImage[];
}

/**
 * Reads an image over a store: the index (when there is one), then each platform's manifest and config.
 * `platforms` keeps only those (each must exist); attestation manifests (`unknown/unknown`) are skipped.
 */
export async function readImage(
  store: OciStore,
  repository: string,
  reference: string,
  platforms: Platform[] = [],
): Promise<ImageRead | undefined> {
  const top = await store.getManifest(repository, reference);
  if (!top) return undefined;
  const readOne = async (descriptor: Descriptor, manifest: ImageManifest): Promise<PlatformImage> => {
    const config = JSON.parse(
      (await store.getBlob(repository, manifest.config.digest)).toString('utf8'),
    ) as ImageConfig;
    const platform: Platform = descriptor.platform ?? {
      os: config.os,
      architecture: config.architecture,
      ...(config.variant ? { variant: config.variant } : {}),
    };
    return { descriptor, manifest, config, platform };
  };
  if (!isIndex(top.manifest)) {
    const image = await readOne(top.descriptor, top.manifest);
    if (platforms.length && !platforms.some((p) => samePlatform(p, image.platform)))
      throw new ActionError(
        `${store.name}/${repository}:${reference} is a single-platform image for ${formatPlatform(image.platform)}; it lacks ${platforms.map(formatPlatform).join(', ')}`,
      );
    return { descriptor: top.descriptor, images: [image] };
  }
  const index = top.manifest;
  const candidates = index.manifests.filter((m) => m.platform && m.platform.os !== 'unknown');
  const chosen = platforms.length
    ? platforms.map((wanted) => {
        const found = candidates.find((m) => samePlatform(m.platform!, wanted));
        if (!found)
          throw new ActionError(
            `${store.name}/${repository}:${reference} has no ${formatPlatform(wanted)} image; it has ${candidates.map((m) => formatPlatform(m.platform!)).join(', ')}`,
          );
        return found;
      })
    : candidates;
  const images: PlatformImage[] = [];
  for (const descriptor of chosen) {
    const fetched = await store.getManifest(repository, descriptor.digest);
    if (!fetched || isIndex(fetched.manifest))
      throw new ActionError(
        `${store.name}/${repository}@${descriptor.digest} (from the index) is missing or not an image manifest`,
      );
    images.push(await readOne({ ...descriptor, mediaType: fetched.descriptor.mediaType }, fetched.manifest));
  }
  return { descriptor: top.descriptor, index, images };
}

export interface ConfigChanges {
  env?: Record<string, string>;
  entrypoint?: string[];
  cmd?: string[];
  workdir?: string;
  user?: string;
  ports?: string[];
  labels?: Record<string, string>;
}

/** The config with a layer appended (diff_id and history entry) and the runtime settings changed. */
export function appendLayer(
  config: ImageConfig,
  diffId: string,
  history: { created: string; createdBy: string; comment?: string },
  changes: ConfigChanges = {},
): ImageConfig {
  const runtime = { ...(config.config ?? {}) };
  if (changes.env && Object.keys(changes.env).length) {
    const env = new Map((runtime.Env ?? []).map((line) => [line.split('=')[0]!, line] as const));
    for (const [key, value] of Object.entries(changes.env)) env.set(key, `${key}=${value}`);
    runtime.Env = [...env.values()];
  }
  if (changes.entrypoint) {
    runtime.Entrypoint = changes.entrypoint;
    // As docker does: a new entrypoint drops the base's cmd unless a cmd is given too.
    if (!changes.cmd) runtime.Cmd = null;
  }
  if (changes.cmd) runtime.Cmd = changes.cmd;
  if (changes.workdir) runtime.WorkingDir = changes.workdir;
  if (changes.user) runtime.User = changes.user;
  if (changes.ports?.length) {
    runtime.ExposedPorts = { ...(runtime.ExposedPorts ?? {}) };
    for (const port of changes.ports) runtime.ExposedPorts[port.includes('/') ? port : `${port}/tcp`] = {};
  }
  if (changes.labels && Object.keys(changes.labels).length)
    runtime.Labels = { ...(runtime.Labels ?? {}), ...changes.labels };
  return {
    ...config,
    created: history.created,
    config: runtime,
    rootfs: { type: 'layers', diff_ids: [...config.rootfs.diff_ids, diffId] },
    history: [
      ...(config.history ?? []),
      {
        created: history.created,
        created_by: history.createdBy,
        ...(history.comment ? { comment: history.comment } : {}),
      },
    ],
  };
}

/** An OCI manifest for a config and layers (Docker media types of base layers are kept: they name the same bytes). */
export function imageManifest(
  config: Descriptor,
  layers: Descriptor[],
  annotations?: Record<string, string>,
): ImageManifest {
  return {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({
      mediaType: l.mediaType,
      digest: l.digest,
      size: l.size,
      ...(l.annotations ? { annotations: l.annotations } : {}),
    })),
    ...(annotations && Object.keys(annotations).length ? { annotations } : {}),
  };
}

/** A blob source that opens a store's blob only if the bytes are really needed (no mount, not present). */
export function lazyBlob(store: OciStore, repository: string, digest: string): BlobSource {
  return () => {
    const out = new PassThrough();
    store.openBlob(repository, digest).then(
      (stream: Readable) => {
        stream.on('error', (error) => out.destroy(error));
        stream.pipe(out);
      },
      (error: Error) => out.destroy(error),
    );
    return out;
  };
}

/** Copies a blob between stores: nothing when present, a mount when both are the same registry, else a stream. */
export async function copyBlob(
  from: OciStore,
  fromRepository: string,
  to: OciStore,
  toRepository: string,
  descriptor: Descriptor,
  onProgress?: (bytes: number) => void,
): Promise<PushOutcome> {
  return to.pushBlob(toRepository, descriptor, lazyBlob(from, fromRepository, descriptor.digest), {
    ...(from === to || from.name === to.name ? { mountFrom: fromRepository } : {}),
    onProgress,
  });
}
