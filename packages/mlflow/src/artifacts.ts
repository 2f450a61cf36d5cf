import { randomBytes } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { ActionError, mapPool } from '@mlops-actions/kit';
import { type ArtifactEntry, artifactRoot, type MlflowClient } from './client';
import type { ModelVersion } from './types';

/** A `models:/` URI: `models:/<name>/<version>` or `models:/<name>@<alias>`. */
export interface ModelsUri {
  name: string;
  version?: string;
  alias?: string;
}

export function parseModelsUri(uri: string): ModelsUri | undefined {
  const match = /^models:\/(?!\/)([^/@]+)(?:\/(\d+)|@([\w-]+))\/?$/.exec(uri);
  if (!match) return undefined;
  return match[2] ? { name: match[1]!, version: match[2] } : { name: match[1]!, alias: match[3]! };
}

/** Where a model's files can be read from, once its source URI is resolved. */
export type ArtifactLocation =
  /** Through the artifact proxy: `path` under `mlflow-artifacts:/`. */
  | { kind: 'proxy'; path: string; display: string }
  /** A run's artifacts listed with `artifacts/list` (paged), read through the proxy under `root`. */
  | { kind: 'run'; runId: string; path: string; root: string; display: string }
  /** A folder on this machine: a tracking server whose artifact root is a local directory. */
  | { kind: 'local'; dir: string; display: string };

/** One file to fetch: where it is read and where it lands under the target folder. */
interface PlannedFile {
  source: string;
  target: string;
  size: number;
}

const DIRECT_STORES: Record<string, string> = {
  s3: 'S3',
  gs: 'Google Cloud Storage',
  wasbs: 'Azure Blob Storage',
  wasb: 'Azure Blob Storage',
  abfss: 'Azure Data Lake',
  hdfs: 'HDFS',
  dbfs: 'DBFS',
  'uc-volumes': 'Unity Catalog volumes',
};

function direct(uri: string): ActionError {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(uri)?.[1]?.toLowerCase() ?? '';
  const store = DIRECT_STORES[scheme] ?? `'${scheme}:'`;
  return new ActionError(
    `The model's files are at '${uri}' on ${store}, which this action does not read directly; start the MLflow server with --serve-artifacts (artifacts under mlflow-artifacts:/) or download the model and give model-path`,
  );
}

function localDir(uri: string): string | undefined {
  if (uri.startsWith('file:'))
    return fileURLToPath(uri.startsWith('file://') ? uri : `file://${uri.slice(5)}`);
  if (uri.startsWith('/')) return uri;
  return undefined;
}

/**
 * Resolves a model version's storage URI as MLflow's artifact repositories do: `mlflow-artifacts:/…` through
 * the proxy, `runs:/<run>/<path>` through the run's artifact root, `models:/…` through the version it names
 * (a registered model whose source is another version), and `file:` or absolute paths locally.
 */
export async function locateArtifacts(
  client: MlflowClient,
  uri: string,
  depth = 0,
): Promise<ArtifactLocation> {
  if (uri.startsWith('mlflow-artifacts:')) return { kind: 'proxy', path: artifactRoot(uri), display: uri };
  const dir = localDir(uri);
  if (dir) return { kind: 'local', dir, display: uri };
  const run = /^runs:\/([^/]+)\/?(.*)$/.exec(uri);
  if (run) {
    const [, runId, path] = run as unknown as [string, string, string];
    const { info } = await client.getRun(runId);
    const root = info.artifact_uri;
    if (root.startsWith('mlflow-artifacts:'))
      return { kind: 'run', runId, path: path.replace(/\/+$/, ''), root: artifactRoot(root), display: uri };
    const rootDir = localDir(root);
    if (rootDir) return { kind: 'local', dir: join(rootDir, path), display: uri };
    throw direct(`${root.replace(/\/$/, '')}/${path}`);
  }
  const models = parseModelsUri(uri);
  if (models) {
    if (depth >= 3)
      throw new ActionError(`'${uri}' leads through more than 3 models:/ sources; give model-path`);
    const version = await resolveModelVersion(client, models);
    if (!version) throw new ActionError(`The model source '${uri}' names a version that does not exist`);
    return locateArtifacts(client, await downloadUri(client, version), depth + 1);
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(uri)) throw direct(uri);
  throw new ActionError(
    `The model's source '${uri}' is not a URI this action reads: expected mlflow-artifacts:/…, runs:/…, models:/…, file:/… or an absolute path`,
  );
}

/** The version a `models:/` URI names, or undefined when the model, version or alias does not exist. */
export async function resolveModelVersion(
  client: MlflowClient,
  ref: ModelsUri,
): Promise<ModelVersion | undefined> {
  if (ref.alias) return client.getModelVersionByAlias(ref.name, ref.alias);
  return client.getModelVersion(ref.name, ref.version!);
}

/** The server's resolved storage location of a version; its `source` when the server gives none. */
export async function downloadUri(client: MlflowClient, version: ModelVersion): Promise<string> {
  const uri = await client.getModelVersionDownloadUri(version.name, String(version.version));
  const found = uri || version.source;
  if (!found)
    throw new ActionError(
      `MLflow gives neither a download URI nor a source for ${version.name} version ${version.version}`,
    );
  return found;
}

function safeRelative(path: string, display: string): string {
  const normal = posix.normalize(path);
  if (normal.startsWith('..') || posix.isAbsolute(normal))
    throw new ActionError(`The artifact listing of '${display}' names a path outside the model: '${path}'`);
  return normal;
}

async function planRemote(
  client: MlflowClient,
  location: Exclude<ArtifactLocation, { kind: 'local' }>,
): Promise<PlannedFile[]> {
  const root = location.kind === 'run' ? `${location.root}/${location.path}` : location.path;
  const list = (dir: string): Promise<ArtifactEntry[]> => {
    const under = [location.path, dir].filter(Boolean).join('/');
    return location.kind === 'run'
      ? client.listArtifacts(location.runId, under)
      : client.listProxyArtifacts(under);
  };
  const files: PlannedFile[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await list(dir)) {
      // artifacts/list answers run-relative paths, the proxy listing answers base names.
      const rel = safeRelative([dir, posix.basename(entry.path)].filter(Boolean).join('/'), location.display);
      if (entry.is_dir) await walk(rel);
      else
        files.push({
          source: `${root.replace(/\/+$/, '')}/${rel}`,
          target: rel,
          size: Number(entry.file_size ?? 0),
        });
    }
  };
  await walk('');
  return files;
}

function planLocal(location: Extract<ArtifactLocation, { kind: 'local' }>): PlannedFile[] {
  let entries: string[];
  try {
    if (statSync(location.dir).isFile())
      return [
        { source: location.dir, target: posix.basename(location.dir), size: statSync(location.dir).size },
      ];
    entries = readdirSync(location.dir, { recursive: true }) as string[];
  } catch {
    throw new ActionError(
      `The model's files at '${location.display}' (${location.dir}) are not readable from this runner; the tracking server's artifact root must be a folder on this machine, or serve artifacts with --serve-artifacts`,
    );
  }
  return entries
    .map((e) => join(location.dir, e))
    .filter((f) => statSync(f).isFile())
    .sort()
    .map((f) => ({
      source: f,
      target: relative(location.dir, f).split(sep).join('/'),
      size: statSync(f).size,
    }));
}

export interface DownloadOptions {
  /** Attempts per file when the bytes received do not match the listed size (default 3). */
  attempts?: number;
  concurrency?: number;
  /** Called with the plan once it is listed, so progress can show a total. */
  onPlan?: (files: number, bytes: number) => void;
  onBytes?: (bytes: number) => void;
  onFile?: () => void;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

/**
 * Downloads every file under a location into `target`, streamed to disk, each written to a temporary
 * sibling and renamed once its byte count matches the listing's `file_size` (retried when it does not).
 */
export async function downloadArtifacts(
  client: MlflowClient,
  location: ArtifactLocation,
  target: string,
  options: DownloadOptions = {},
): Promise<{ files: number; bytes: number }> {
  const plan = location.kind === 'local' ? planLocal(location) : await planRemote(client, location);
  if (!plan.length) throw new ActionError(`'${location.display}' holds no files`);
  const total = plan.reduce((sum, f) => sum + f.size, 0);
  options.onPlan?.(plan.length, total);
  const attempts = options.attempts ?? 3;
  const open = async (file: PlannedFile): Promise<Readable> => {
    if (location.kind === 'local') return createReadStream(file.source);
    const response = await client.openProxyArtifact(file.source, options.signal);
    if (!response.body) return Readable.from([]);
    return Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>);
  };
  await mapPool(plan, options.concurrency ?? 4, async (file) => {
    const dest = join(target, file.target);
    mkdirSync(dirname(dest), { recursive: true });
    for (let attempt = 1; ; attempt++) {
      const temp = `${dest}.${randomBytes(6).toString('hex')}.tmp`;
      let received = 0;
      let failure: string | undefined;
      try {
        await pipeline(
          await open(file),
          new Transform({
            transform(chunk: Buffer, _encoding, done) {
              received += chunk.byteLength;
              options.onBytes?.(chunk.byteLength);
              done(null, chunk);
            },
          }),
          createWriteStream(temp),
        );
        if (received !== file.size) failure = `received ${received} bytes, the listing says ${file.size}`;
      } catch (error) {
        rmSync(temp, { force: true });
        // HttpClient already retried the request itself; what is left to retry is a body cut off midway.
        if (error instanceof ActionError) throw error;
        failure = (error as Error).message;
      }
      if (!failure) {
        renameSync(temp, dest);
        options.onFile?.();
        return;
      }
      rmSync(temp, { force: true });
      if (attempt >= attempts)
        throw new ActionError(
          `Downloading '${file.target}' of '${location.display}' failed ${attempts} times: ${failure}`,
        );
      options.log?.(`'${file.target}': ${failure}; attempt ${attempt + 1}/${attempts}`);
    }
  });
  return { files: plan.length, bytes: total };
}
