import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type ActionContext, ActionError, InputError } from '@mlops-actions/kit';
import {
  appendLayer,
  buildLayer,
  type ConfigChanges,
  copyBlob,
  type Descriptor,
  describe,
  encodeJson,
  formatPlatform,
  formatReference,
  type ImageIndex,
  type ImageRead,
  imageManifest,
  type Layer,
  LayoutStore,
  listTree,
  MediaType,
  type OciStore,
  type Platform,
  type PushOutcome,
  type Reference,
  readImage,
  streamLayer,
} from '@mlops-actions/oci';

export interface LayerRow {
  platform: string;
  digest: string;
  size: number;
  source: 'base' | 'model' | 'config';
  outcome: PushOutcome;
}

/** Reads the base image over the distribution API; a missing image or platform is the input's fault. */
export async function readBase(store: OciStore, ref: Reference, platforms: Platform[]): Promise<ImageRead> {
  const reference = ref.digest ?? ref.tag ?? 'latest';
  let read: ImageRead | undefined;
  try {
    read = await readImage(store, ref.repository, reference, platforms);
  } catch (error) {
    if (error instanceof ActionError && / has no | lacks /.test(error.message))
      throw new InputError('platforms', error.message);
    throw error;
  }
  if (!read)
    throw new InputError('base-image', `'${formatReference(ref)}' does not exist on ${ref.registry}`);
  return read;
}

export interface PackedModel {
  layer: Layer;
  /** Where the layer was streamed to while it was packed. */
  store: OciStore;
  repository: string;
  outcome: PushOutcome;
}

/**
 * Packs the model folder into one reproducible layer at `modelDir` inside the image, streamed straight
 * into `into` (the target registry while pushing): compressing and uploading overlap and no layer file
 * is written.
 */
export async function packModel(
  modelPath: string,
  modelDir: string,
  into: { store: OciStore; repository: string },
  mtime: number,
  level: number,
  ctx: ActionContext,
): Promise<PackedModel> {
  const entries = listTree(modelPath, modelDir);
  const totalBytes = entries.reduce((sum, e) => sum + e.size, 0);
  const progress = ctx.progress({ label: 'model layer', totalBytes, unit: 'bytes' });
  let outcome: PushOutcome = 'uploaded';
  let packed = 0;
  const layer = await streamLayer(
    entries,
    {
      mtime,
      level,
      signal: ctx.signal,
      onProgress: (n) => {
        // A retried upload packs the layer again from the start; progress only counts new ground.
        packed += n;
        if (packed > progress.totals.bytes) progress.tick(0, packed - progress.totals.bytes);
      },
    },
    async (open) => {
      packed = 0;
      // Hashing first would compress the layer twice: it is hashed while it is sent.
      const stored = await into.store.pushStream(into.repository, open, {
        digestFirst: false,
        signal: ctx.signal,
      });
      outcome = stored.outcome;
      return stored;
    },
  );
  progress.done();
  return { layer, store: into.store, repository: into.repository, outcome };
}

export interface Assembled {
  platform: Platform;
  config: Buffer;
  configDescriptor: Descriptor;
  manifest: Buffer;
  descriptor: Descriptor;
  baseLayers: Descriptor[];
}

/** Every platform of the base gets the same model layer, a merged config and the annotations. */
export function assemble(
  base: ImageRead,
  layer: Layer,
  options: {
    created: string;
    createdBy: string;
    changes: ConfigChanges;
    annotations: Record<string, string>;
  },
): { images: Assembled[]; index?: Buffer; indexDescriptor?: Descriptor } {
  const images = base.images.map((image) => {
    const config = encodeJson(
      appendLayer(
        image.config,
        layer.diffId,
        { created: options.created, createdBy: options.createdBy, comment: 'model layer' },
        options.changes,
      ),
    );
    const configDescriptor = describe(MediaType.ociConfig, config);
    const manifest = encodeJson(
      imageManifest(configDescriptor, [...image.manifest.layers, layer.descriptor], options.annotations),
    );
    return {
      platform: image.platform,
      config,
      configDescriptor,
      manifest,
      descriptor: describe(MediaType.ociManifest, manifest, { platform: image.platform }),
      baseLayers: image.manifest.layers,
    };
  });
  if (!base.index && images.length === 1) return { images };
  const index: ImageIndex = {
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: images.map((i) => i.descriptor),
    annotations: options.annotations,
  };
  const bytes = encodeJson(index);
  return { images, index: bytes, indexDescriptor: describe(MediaType.ociIndex, bytes) };
}

/**
 * Pushes what the target lacks: base layers (HEAD, then a mount from the base repository on the same
 * registry, else streamed from the base), the model layer, configs, platform manifests, then the index
 * and tags last, so no manifest exists before all its blobs.
 */
export async function publish(
  target: { store: OciStore; repository: string },
  base: { store: OciStore; repository: string },
  built: ReturnType<typeof assemble>,
  model: PackedModel,
  tags: string[],
  ctx: ActionContext,
): Promise<{ rows: LayerRow[]; descriptor: Descriptor }> {
  const rows: LayerRow[] = [];
  const total = built.images.reduce((s, i) => s + i.baseLayers.length + 2, 0);
  const progress = ctx.progress({ label: `push to ${target.store.name}`, total, unit: 'blobs' });
  const done = new Map<string, PushOutcome>();
  for (const image of built.images) {
    const platform = formatPlatform(image.platform);
    for (const blob of image.baseLayers) {
      const outcome =
        done.get(blob.digest) ??
        (await copyBlob(base.store, base.repository, target.store, target.repository, blob, (n) =>
          progress.tick(0, n),
        ));
      if (!done.has(blob.digest))
        rows.push({ platform, digest: blob.digest, size: blob.size, source: 'base', outcome });
      done.set(blob.digest, outcome);
      progress.tick(1);
    }
    if (!done.has(model.layer.descriptor.digest)) {
      const streamedHere = model.store === target.store && model.repository === target.repository;
      const outcome = streamedHere
        ? model.outcome
        : await copyBlob(
            model.store,
            model.repository,
            target.store,
            target.repository,
            model.layer.descriptor,
            (n) => progress.tick(0, n),
          );
      done.set(model.layer.descriptor.digest, outcome);
      rows.push({
        platform: 'all',
        digest: model.layer.descriptor.digest,
        size: model.layer.descriptor.size,
        source: 'model',
        outcome,
      });
    }
    progress.tick(1);
    const outcome = await target.store.pushBlob(target.repository, image.configDescriptor, image.config);
    rows.push({
      platform,
      digest: image.configDescriptor.digest,
      size: image.configDescriptor.size,
      source: 'config',
      outcome,
    });
    progress.tick(1);
  }
  progress.done();
  for (const image of built.images)
    await target.store.putManifest(target.repository, image.manifest, MediaType.ociManifest);
  const [top, mediaType] = built.index
    ? [built.index, MediaType.ociIndex]
    : [built.images[0]!.manifest, MediaType.ociManifest];
  let descriptor = await target.store.putManifest(target.repository, top, mediaType);
  for (const tag of tags) descriptor = await target.store.putManifest(target.repository, top, mediaType, tag);
  return { rows, descriptor };
}

/** Writes the image into an OCI layout folder, or an oci-archive (the layout as one plain tar). */
export async function writeOutput(
  output: string,
  base: { store: OciStore; repository: string },
  built: ReturnType<typeof assemble>,
  model: PackedModel,
  tags: string[],
  tempDir: string,
  ctx: ActionContext,
): Promise<Descriptor> {
  const archive = /\.tar$/.test(output);
  const dir = archive ? join(tempDir, 'oci-archive') : output;
  if (archive) rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const { descriptor } = await publish(
    { store: new LayoutStore(dir), repository: '' },
    base,
    built,
    model,
    tags,
    ctx,
  );
  if (archive) {
    await buildLayer(listTree(dir, ''), { output, gzip: false });
    rmSync(dir, { recursive: true, force: true });
  }
  return descriptor;
}
