import { existsSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { ActionError, Progress } from '@mlops-actions/kit';
import {
  type Descriptor,
  describe,
  EMPTY_JSON,
  encodeJson,
  type ImageManifest,
  isValidTag,
  type LayerEntry,
  listReferrers,
  listTree,
  MediaType,
  type OciStore,
  pushReferrer,
  SourceChangedError,
  sourceDateEpoch,
  streamLayer,
  tarSize,
} from '@mlops-actions/oci';
import type { HistoryEntry, ModelRegistry, ModelVersionInfo, RegisterOptions, WaitOptions } from './registry';

/** CNCF ModelPack (model-spec v1) media types. */
export const ModelPack = {
  manifest: 'application/vnd.cncf.model.manifest.v1+json',
  config: 'application/vnd.cncf.model.config.v1+json',
  weightTar: 'application/vnd.cncf.model.weight.v1.tar',
  weightTarGzip: 'application/vnd.cncf.model.weight.v1.tar+gzip',
  filepath: 'org.cncf.model.filepath',
} as const;

/** Our records about a version, pushed as OCI 1.1 referrers of its manifest. */
export const RecordType = {
  history: 'application/vnd.mlops.promotion.v1+json',
  tag: 'application/vnd.mlops.version-tag.v1+json',
} as const;

const A = {
  runId: 'org.mlops.run-id',
  source: 'org.mlops.source',
  version: 'org.mlops.version',
  record: 'org.mlops.record',
  created: 'org.opencontainers.image.created',
  title: 'org.opencontainers.image.title',
  description: 'org.opencontainers.image.description',
  tagPrefix: 'org.mlops.tag.',
} as const;

const VERSION_TAG = /^v(\d+)$/;

export const LAYER_FORMATS = ['tar', 'tar+gzip'] as const;
export type LayerFormat = (typeof LAYER_FORMATS)[number];

export interface OciRegistryOptions {
  /** `oci` for a distribution registry, `local` for an image layout on disk. */
  kind: 'oci' | 'local';
  store: OciStore;
  /** Repository prefix (the namespace of `oci://host/<namespace>`); empty for a layout. */
  namespace: string;
  /** Shown in messages and outputs, without credentials. */
  uri: string;
  /** How a version is referred to: `oci://host/ns/name@sha256:…`, `oci:<dir>/<name>:v3`. */
  reference(repository: string, digest: string, tag: string): string;
  log?: (line: string) => void;
  /**
   * The weight layer: a plain tar (default: weights barely compress, so gzip costs time for no space) or
   * tar+gzip; both are model-spec media types.
   */
  layerFormat?: LayerFormat;
  /** Pushes of a version tag lost to another run before giving up. */
  raceAttempts?: number;
  /** How long after claiming a tag it is read again, to catch a racing push that landed just after ours. */
  settleMs?: number;
}

/**
 * Models as CNCF ModelPack artifacts in an OCI registry or image layout: versions are immutable tags `v1`,
 * `v2`, … (found by listing the tags, pushing the next one and re-reading it to detect a lost race),
 * aliases are movable tags, and the history and version tags are referrers of the version's manifest.
 */
export class OciModelRegistry implements ModelRegistry {
  readonly kind: 'oci' | 'local';
  readonly uri: string;
  private readonly store: OciStore;

  constructor(private readonly options: OciRegistryOptions) {
    this.kind = options.kind;
    this.uri = options.uri;
    this.store = options.store;
  }

  repository(name: string): string {
    if (!/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/.test(name))
      throw new ActionError(
        `model-name '${name}' is not an OCI repository name: use lowercase letters, digits and separators . _ -`,
      );
    return this.options.namespace ? `${this.options.namespace}/${name}` : name;
  }

  validateAlias(alias: string): void {
    if (!isValidTag(alias))
      throw new ActionError(
        `alias '${alias}' is not a valid OCI tag (letters, digits, _ . -, at most 128, not starting with . or -)`,
      );
    if (VERSION_TAG.test(alias) || /^sha256-/.test(alias))
      throw new ActionError(
        `alias '${alias}' is reserved in an OCI model registry (v<number> tags are versions, sha256-… tags hold referrers)`,
      );
  }

  async ensureModel(name: string): Promise<{ created: boolean }> {
    return { created: !(await this.modelExists(name)) };
  }

  async modelExists(name: string): Promise<boolean> {
    return (await this.versionTags(name)).length > 0;
  }

  private async versionTags(name: string): Promise<number[]> {
    const tags = await this.store.listTags(this.repository(name));
    return tags
      .flatMap((t) => (VERSION_TAG.test(t) ? [Number(VERSION_TAG.exec(t)![1])] : []))
      .sort((a, b) => a - b);
  }

  private async info(name: string, tag: string): Promise<ModelVersionInfo | undefined> {
    const repository = this.repository(name);
    const fetched = await this.store.getManifest(repository, tag);
    if (!fetched) return undefined;
    const manifest = fetched.manifest as ImageManifest;
    const a = manifest.annotations ?? {};
    const version = a[A.version] ?? VERSION_TAG.exec(tag)?.[1] ?? '';
    const tags = Object.fromEntries(
      Object.entries(a)
        .filter(([k]) => k.startsWith(A.tagPrefix))
        .map(([k, v]) => [k.slice(A.tagPrefix.length), v]),
    );
    return {
      name,
      version,
      runId: a[A.runId] || undefined,
      source: a[A.source] ?? '',
      status: 'READY',
      aliases: VERSION_TAG.test(tag) ? [] : [tag],
      tags,
      description: a[A.description],
      uri: this.options.reference(repository, fetched.descriptor.digest, `v${version}`),
      digest: fetched.descriptor.digest,
    };
  }

  async registerVersion(options: RegisterOptions): Promise<{ version: ModelVersionInfo; created: boolean }> {
    const repository = this.repository(options.name);
    if (options.runId) {
      const existing = await this.searchVersions(options.name, { runId: options.runId });
      if (existing[0]) return { version: existing[0], created: false };
    }
    if (!existsSync(options.source) || !statSync(options.source).isDirectory())
      throw new ActionError(
        `model-uri '${options.source}' is not a model directory: the ${this.kind === 'local' ? 'local' : 'OCI'} registry packs a directory (train-and-log's model-uri with the local tracking store)`,
      );
    const dirName = basename(options.source);
    const entries = listTree(options.source, dirName);
    const gzip = this.options.layerFormat === 'tar+gzip';
    const total = entries.reduce((sum, e) => sum + e.size, 0);
    this.options.log?.(
      `Packing and pushing the model layer (${total} bytes in ${entries.filter((e) => e.type === 'file').length} files, ${gzip ? 'tar+gzip' : 'tar'}) to ${this.uri}`,
    );
    const layer = await this.pushLayer(repository, entries, gzip, options.source);
    const layerDescriptor: Descriptor = {
      ...layer.descriptor,
      mediaType: gzip ? ModelPack.weightTarGzip : ModelPack.weightTar,
      annotations: { [ModelPack.filepath]: dirName },
    };
    const created = new Date().toISOString();
    const config = encodeJson(
      modelPackConfig(options.name, created, options.runId, layer.diffId, options.description),
    );
    const configDescriptor = describe(ModelPack.config, config);
    await this.store.pushBlob(repository, configDescriptor, config);
    const version = await this.tagNextVersion(repository, (n) => ({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      artifactType: ModelPack.manifest,
      config: configDescriptor,
      layers: [layerDescriptor],
      annotations: {
        [A.created]: created,
        [A.title]: options.name,
        [A.version]: String(n),
        [A.source]: options.source,
        ...(options.runId ? { [A.runId]: options.runId } : {}),
        ...(options.description ? { [A.description]: options.description } : {}),
        ...Object.fromEntries(Object.entries(options.tags ?? {}).map(([k, v]) => [`${A.tagPrefix}${k}`, v])),
      },
    }));
    const info = await this.info(options.name, `v${version}`);
    if (!info)
      throw new ActionError(
        `${this.uri}: version v${version} of ${options.name} vanished right after it was pushed`,
      );
    return { version: info, created: true };
  }

  /**
   * Streams the model layer into the store: hashed first, then sent in one request unless the store has
   * it, with progress in the log. The files must not change until it is stored.
   */
  private async pushLayer(repository: string, entries: LayerEntry[], gzip: boolean, source: string) {
    const mtime = sourceDateEpoch();
    const size = gzip ? undefined : tarSize(entries, mtime);
    const progress = new Progress({
      label: `model layer sent to ${this.uri}`,
      total: 1,
      totalBytes: size,
      unit: 'layer',
      log: (line) => this.options.log?.(line),
    });
    try {
      // A gzip'd layer would be compressed twice by a digest pass: it is hashed while it is sent instead.
      // Progress counts bytes sent, so a retried upload counts its bytes again.
      const layer = await streamLayer(entries, { mtime, gzip }, (open) =>
        this.store.pushStream(repository, open, {
          digestFirst: !gzip,
          size,
          onProgress: (n) => progress.tick(0, n),
        }),
      );
      progress.tick(1);
      progress.done();
      return layer;
    } catch (error) {
      if (error instanceof SourceChangedError)
        throw new ActionError(
          `The model files in '${source}' changed while they were pushed to ${this.uri}: ${error.message}. Register the model once nothing writes to it any more`,
        );
      throw error;
    }
  }

  /** Registries have no conditional tag write: take the next free number, push, re-read, retry when lost. */
  private async tagNextVersion(
    repository: string,
    manifestFor: (n: number) => ImageManifest,
  ): Promise<number> {
    const attempts = this.options.raceAttempts ?? 5;
    for (let attempt = 0; attempt < attempts; attempt++) {
      const tags = await this.store.listTags(repository);
      const taken = tags.flatMap((t) => (VERSION_TAG.test(t) ? [Number(VERSION_TAG.exec(t)![1])] : []));
      const n = Math.max(0, ...taken) + 1;
      if (await this.store.resolve(repository, `v${n}`)) continue;
      const bytes = encodeJson(manifestFor(n));
      const pushed = await this.store.putManifest(repository, bytes, MediaType.ociManifest, `v${n}`);
      const now = await this.store.resolve(repository, `v${n}`);
      if (now?.digest === pushed.digest) {
        // A run that checked the tag before our push may still overwrite it: look again once its push has landed.
        await new Promise((r) => setTimeout(r, this.options.settleMs ?? 300));
        const settled = await this.store.resolve(repository, `v${n}`);
        if (settled?.digest === pushed.digest) return n;
      }
      this.options.log?.(
        `v${n} of ${repository} was taken by another run at the same moment; trying the next number`,
      );
    }
    throw new ActionError(
      `${this.uri}: could not claim a version tag for ${repository} after ${attempts} attempts (other runs kept taking them)`,
    );
  }

  async waitReady(name: string, version: string, _options: WaitOptions): Promise<ModelVersionInfo> {
    const found = await this.getVersion(name, version);
    if (!found) throw new ActionError(`${this.uri}: ${name} has no version ${version}`);
    return found;
  }

  getVersion(name: string, version: string): Promise<ModelVersionInfo | undefined> {
    return this.info(name, `v${version}`);
  }

  async getAlias(name: string, alias: string): Promise<ModelVersionInfo | undefined> {
    const found = await this.info(name, alias);
    return found ? { ...found, aliases: [alias] } : undefined;
  }

  async setAlias(name: string, alias: string, version: string): Promise<void> {
    this.validateAlias(alias);
    const repository = this.repository(name);
    const fetched = await this.store.getManifest(repository, `v${version}`);
    if (!fetched) throw new ActionError(`${this.uri}: ${name} has no version ${version}`);
    await this.store.putManifest(repository, fetched.bytes, fetched.descriptor.mediaType, alias);
  }

  /** Deletes the alias tag only (the version keeps its own tag); deleting a missing alias is a no-op. */
  async deleteAlias(name: string, alias: string): Promise<void> {
    this.validateAlias(alias);
    try {
      await this.store.deleteTag(this.repository(name), alias);
    } catch (error) {
      if (error instanceof ActionError)
        throw new ActionError(`${this.uri}: alias '${alias}' of ${name} cannot be deleted: ${error.message}`);
      throw error;
    }
  }

  async searchVersions(name: string, options: { runId?: string } = {}): Promise<ModelVersionInfo[]> {
    const found: ModelVersionInfo[] = [];
    for (const n of await this.versionTags(name)) {
      const info = await this.info(name, `v${n}`);
      if (info && (!options.runId || info.runId === options.runId)) found.push(info);
    }
    return found;
  }

  /** Manifests are immutable: a tag added later is a referrer of the version. */
  async setVersionTag(name: string, version: string, key: string, value: string): Promise<void> {
    await this.record(name, version, RecordType.tag, JSON.stringify({ key, value }));
  }

  async appendHistory(name: string, entry: HistoryEntry): Promise<void> {
    await this.record(name, entry.to, RecordType.history, JSON.stringify(entry));
  }

  private async record(name: string, version: string, artifactType: string, value: string): Promise<void> {
    const repository = this.repository(name);
    const subject = await this.store.resolve(repository, `v${version}`);
    if (!subject) throw new ActionError(`${this.uri}: ${name} has no version ${version}`);
    const empty = describe(MediaType.ociEmpty, EMPTY_JSON);
    await this.store.pushBlob(repository, empty, EMPTY_JSON);
    await pushReferrer(this.store, repository, {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      artifactType,
      config: empty,
      layers: [empty],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      annotations: { [A.record]: value, [A.created]: new Date().toISOString() },
    });
  }

  async readHistory(name: string): Promise<HistoryEntry[]> {
    const repository = this.repository(name);
    const entries: HistoryEntry[] = [];
    for (const n of await this.versionTags(name)) {
      const subject = await this.store.resolve(repository, `v${n}`);
      if (!subject) continue;
      for (const d of await listReferrers(this.store, repository, subject.digest, RecordType.history)) {
        const text = d.annotations?.[A.record];
        if (!text) continue;
        try {
          entries.push(JSON.parse(text) as HistoryEntry);
        } catch {
          this.options.log?.(`Skipping an unreadable history record ${d.digest} of ${repository}`);
        }
      }
    }
    return entries.sort((a, b) => a.time.localeCompare(b.time));
  }
}

/** The ModelPack config (schema: modelpack/model-spec `config-schema.json`, no extra fields allowed). */
export function modelPackConfig(
  name: string,
  createdAt: string,
  runId: string | undefined,
  diffId: string,
  description?: string,
): Record<string, unknown> {
  return {
    descriptor: {
      name,
      createdAt,
      ...(runId ? { revision: runId } : {}),
      ...(description ? { description } : {}),
    },
    config: {},
    modelfs: { type: 'layers', diffIds: [diffId] },
  };
}
