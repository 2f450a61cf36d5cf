import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { type ActionContext, ActionError, confinePath, InputError } from '@mlops-actions/kit';
import {
  downloadArtifacts,
  downloadUri,
  locateArtifacts,
  type MlflowClient,
  type ModelsUri,
} from '@mlops-actions/mlflow';
import {
  type Descriptor,
  type ImageManifest,
  isIndex,
  LayoutStore,
  type OciStore,
  parseReference,
  RegistryClient,
  type RegistryCredentials,
} from '@mlops-actions/oci';
import type { MlflowRegistry } from '@mlops-actions/store';

const exec = promisify(execFile);

/** The ModelPack annotation naming a layer's path inside the model (CNCF model-spec). */
export const MODEL_FILEPATH = 'org.cncf.model.filepath';

/** Where the model artifact lives, when it is an OCI artifact (so the image can point back to it). */
export interface ModelArtifact {
  store: OciStore;
  repository: string;
  descriptor: Descriptor;
  manifest: ImageManifest;
  /** `oci://host/repo@sha256:…` or the layout path with its digest. */
  uri: string;
}

/** The MLflow model version the model came from, so the image can be tagged back onto it. */
export interface RegisteredVersion {
  registry: MlflowRegistry;
  name: string;
  version: string;
  runId?: string;
  /** `models:/<name>/<version>`. */
  uri: string;
}

export interface ModelSource {
  /** A folder (or one file) holding the model, ready to be packed. */
  path: string;
  artifact?: ModelArtifact;
  registered?: RegisteredVersion;
}

/** A model given as a path: it must exist inside the workspace and not be empty. */
export function localModel(workspace: string, path: string): ModelSource {
  const full = confinePath(workspace, path, { input: 'model-path' });
  if (!existsSync(full)) throw new InputError('model-path', `'${path}' does not exist (resolved to ${full})`);
  const stat = statSync(full);
  if (stat.isDirectory() && readdirSync(full).length === 0)
    throw new InputError(
      'model-path',
      `'${path}' is an empty folder; give the folder train-and-log wrote the model to`,
    );
  return { path: full };
}

/**
 * Opens the store behind a model uri: `oci://registry/repo:tag|@digest`, or a local OCI layout written as
 * skopeo's `oci:` transport does (`[oci:]<layout-dir>:<tag>` or `[oci:]<layout-dir>@sha256:…`; register-model
 * outputs its local registry with the transport prefix).
 */
export function modelStore(
  uri: string,
  workspace: string,
  credentials: (registry: string) => RegistryCredentials | undefined,
  log: (line: string) => void,
): { store: OciStore; repository: string; reference: string; display: string } {
  if (uri.startsWith('oci://')) {
    const ref = parseReference(uri);
    const reference = ref.digest ?? ref.tag;
    if (!reference)
      throw new InputError(
        'model-uri',
        `'${uri}' names no tag or digest; register-model outputs oci://…@sha256:…`,
      );
    const store = new RegistryClient({
      registry: ref.registry,
      credentials: credentials(ref.registry),
      credentialInput: 'registry-password',
      log,
    });
    return { store, repository: ref.repository, reference, display: uri };
  }
  // register-model writes a local layout's uri with skopeo's transport name in front: oci:<dir>:<tag>.
  const layoutUri = uri.replace(/^oci:(?!\/\/)/, '');
  if (/^[a-z][a-z0-9+.-]*:\//.test(layoutUri))
    throw new InputError(
      'model-uri',
      `'${uri}' is not supported here; accepted: oci://registry/repository@sha256:… (or :tag), or a local OCI layout [oci:]<folder>:<tag> / [oci:]<folder>@sha256:…; or models:/<name>/<version> / models:/<name>@<alias> on MLflow`,
    );
  const match = /^(.*?)(?:@(sha256:[a-f0-9]{64})|:([A-Za-z0-9_][A-Za-z0-9._-]{0,127}))$/.exec(layoutUri);
  if (!match)
    throw new InputError(
      'model-uri',
      `'${uri}' names no tag or digest; expected <layout-folder>:<tag> or <layout-folder>@sha256:…`,
    );
  const dir = confinePath(workspace, match[1]!, { input: 'model-uri' });
  if (!existsSync(join(dir, 'oci-layout')))
    throw new InputError(
      'model-uri',
      `'${match[1]}' is not an OCI image layout (no oci-layout file in ${dir})`,
    );
  return { store: new LayoutStore(dir), repository: '', reference: match[2] ?? match[3]!, display: uri };
}

/**
 * Fetches a ModelPack artifact's files into `target`: each layer lands at its `org.cncf.model.filepath`
 * (tar layers are unpacked there), verified against its digest on the way.
 */
export async function fetchModelArtifact(
  opened: ReturnType<typeof modelStore>,
  target: string,
  onProgress: (bytes: number) => void,
): Promise<ModelSource> {
  const { store, repository, reference, display } = opened;
  const fetched = await store.getManifest(repository, reference);
  if (!fetched) throw new InputError('model-uri', `'${display}' does not exist on ${store.name}`);
  if (isIndex(fetched.manifest))
    throw new InputError('model-uri', `'${display}' is an index, not a model artifact manifest`);
  const manifest = fetched.manifest;
  const layers = manifest.layers.filter((l) => l.annotations?.[MODEL_FILEPATH]);
  if (!layers.length)
    throw new InputError(
      'model-uri',
      `'${display}' has no layer with an ${MODEL_FILEPATH} annotation; is it a ModelPack artifact?`,
    );
  mkdirSync(target, { recursive: true });
  for (const layer of layers) {
    const relative = normalize(layer.annotations![MODEL_FILEPATH]!).replace(/^\/+/, '');
    if (relative.startsWith('..'))
      throw new ActionError(
        `Layer ${layer.digest} of '${display}' has a file path outside the model: ${relative}`,
      );
    const isTar = /\.tar(\+|$)/.test(layer.mediaType);
    const file = isTar ? join(target, `.layer-${layer.digest.slice(7, 19)}.tar`) : join(target, relative);
    mkdirSync(dirname(file), { recursive: true });
    const hash = createHash('sha256');
    await pipeline(
      await store.openBlob(repository, layer.digest),
      async function* (chunks: AsyncIterable<Buffer>) {
        for await (const chunk of chunks) {
          hash.update(chunk);
          onProgress(chunk.byteLength);
          yield chunk;
        }
      },
      createWriteStream(file),
    );
    if (`sha256:${hash.digest('hex')}` !== layer.digest)
      throw new ActionError(`Layer ${layer.digest} of '${display}' does not match its digest`);
    if (isTar) {
      const dest = dirname(join(target, relative));
      mkdirSync(dest, { recursive: true });
      await exec('tar', ['-x', '--no-same-owner', '-f', file, '-C', dest]);
      rmSync(file);
    }
  }
  const uri = display.startsWith('oci://')
    ? `oci://${store.name}/${repository}@${fetched.descriptor.digest}`
    : `${display.replace(/[:@][^/]*$/, '')}@${fetched.descriptor.digest}`;
  return { path: target, artifact: { store, repository, descriptor: fetched.descriptor, manifest, uri } };
}

/**
 * Resolves `models:/<name>/<version>` or `models:/<name>@<alias>` in the MLflow Model Registry and downloads
 * the version's files (from the server's download URI) into `target`.
 */
export async function fetchMlflowModel(
  uri: string,
  ref: ModelsUri,
  registry: MlflowRegistry,
  artifacts: MlflowClient,
  target: string,
  ctx: Pick<ActionContext, 'log' | 'progress' | 'signal'>,
): Promise<ModelSource> {
  const found = ref.alias
    ? await registry.getAlias(ref.name, ref.alias)
    : await registry.getVersion(ref.name, ref.version!);
  if (!found)
    throw new InputError(
      'model-uri',
      `'${uri}' does not exist on MLflow at ${registry.uri}: ${ref.alias ? `model '${ref.name}' has no alias '${ref.alias}'` : `model '${ref.name}' has no version ${ref.version}`}`,
    );
  if (found.status && found.status !== 'READY')
    throw new InputError(
      'model-uri',
      `'${uri}' is version ${found.version}, whose status is ${found.status}, not READY`,
    );
  const source = await downloadUri(registry.client, {
    name: found.name,
    version: found.version,
    source: found.source,
  });
  ctx.log.info(`${uri} is version ${found.version} of ${found.name}; its files are at ${source}`);
  const location = await locateArtifacts(artifacts, source);
  let progress: ReturnType<typeof ctx.progress> | undefined;
  const done = await downloadArtifacts(artifacts, location, target, {
    onPlan: (files, bytes) => {
      progress = ctx.progress({ label: `download ${uri}`, total: files, totalBytes: bytes, unit: 'files' });
    },
    onBytes: (bytes) => progress?.tick(0, bytes),
    onFile: () => progress?.tick(1),
    log: (line) => ctx.log.warning(line),
    signal: ctx.signal,
  });
  progress?.done();
  ctx.log.info(`Downloaded ${done.files} file(s) of ${found.name} version ${found.version}`);
  return {
    path: target,
    registered: {
      registry,
      name: found.name,
      version: found.version,
      runId: found.runId,
      uri: `models:/${found.name}/${found.version}`,
    },
  };
}
