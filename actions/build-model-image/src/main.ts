import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  type ActionContext,
  confinePath,
  defineAction,
  formatBytes,
  InputError,
  input,
  writeFileAtomic,
  z,
} from '@mlops-actions/kit';
import { isMlflowUri, MlflowClient, parseModelsUri, resolveConnection } from '@mlops-actions/mlflow';
import {
  type ConfigChanges,
  type Descriptor,
  formatPlatform,
  formatReference,
  isValidTag,
  LayoutStore,
  MediaType,
  parsePlatform,
  parseReference,
  pushReferrer,
  type Reference,
  RegistryClient,
  type RegistryCredentials,
  sha256,
  sourceDateEpoch,
} from '@mlops-actions/oci';
import { inlineCode, table } from '@mlops-actions/report';
import { MlflowRegistry } from '@mlops-actions/store';
import { assemble, type LayerRow, packModel, publish, readBase, writeOutput } from './build';
import { dockerBuild, dockerfile } from './docker';
import {
  fetchMlflowModel,
  fetchModelArtifact,
  localModel,
  type ModelSource,
  modelStore,
  type RegisteredVersion,
} from './model';
import { attestOnGithub, provenanceStatement } from './provenance';

const jsonArgs = input.json(z.array(z.string())).optional();

export const inputs = z
  .object({
    'model-uri': z
      .string()
      .optional()
      .describe(
        "The model as register-model's `model-uri`: `models:/<name>/<version>` or `models:/<name>@<alias>` on MLflow (with tracking-uri), `oci://registry/repository@sha256:…` (a ModelPack artifact) or a local OCI layout `[oci:]<folder>:<tag>` / `[oci:]<folder>@sha256:…`. Give this or model-path",
      ),
    'model-path': z
      .string()
      .optional()
      .describe('A model folder (or file) in the workspace. Give this or model-uri'),
    'tracking-uri': z
      .string()
      .optional()
      .describe(
        'The MLflow server (http(s)://…, `databricks`) for a models:/ model-uri; default: MLFLOW_TRACKING_URI',
      ),
    'tracking-token': input
      .secret(z.string().optional())
      .describe(
        'Bearer token for the MLflow server; defaults to MLFLOW_TRACKING_TOKEN (or basic auth from MLFLOW_TRACKING_USERNAME/PASSWORD)',
      ),
    'model-registry-uri': z
      .string()
      .optional()
      .describe(
        "The MLflow Model Registry server when it is not tracking-uri (register-model's `registry-uri`)",
      ),
    'model-registry-token': input
      .secret(z.string().optional())
      .describe('Bearer token for a model-registry-uri on another server than tracking-uri'),
    'model-name': z
      .string()
      .optional()
      .describe("The model's name, for tags and the mlops.model.name annotation"),
    version: z
      .string()
      .optional()
      .describe("The model version (register-model's `version`), for tags and annotations"),
    digest: z
      .string()
      .regex(/^sha256:[a-f0-9]{64}$/, 'expected sha256:<64 hex>')
      .optional()
      .describe("register-model's `digest`: the model artifact's manifest digest, checked against model-uri"),
    'run-id': z.string().optional().describe('Training run id for the mlops.model.run-id annotation'),
    'data-hash': z
      .string()
      .optional()
      .describe("dvc-pull's `data-hash` for the mlops.model.data-hash annotation"),
    'base-image': z
      .string()
      .describe(
        'The serving runtime image to add the model to, e.g. docker.io/seldonio/mlserver:1.6.1 (any registry)',
      ),
    'model-dir': z
      .string()
      .regex(/^\/[^\0]*$/, 'expected an absolute path such as /mnt/models')
      .default('/mnt/models')
      .describe('Where the model lands in the image (the KServe convention by default)'),
    env: input.keyValues().prefault('').describe('Environment variables to set, one KEY=value a line'),
    entrypoint: jsonArgs.describe(
      'Entrypoint as a JSON array, e.g. ["mlserver","start"]; default: the base image\'s',
    ),
    cmd: jsonArgs.describe(
      "Command as a JSON array; default: the base image's (dropped when entrypoint is set, as docker does)",
    ),
    workdir: z.string().optional().describe("Working directory; default: the base image's"),
    user: z.string().optional().describe("User (name or uid[:gid]); default: the base image's"),
    port: input
      .list(z.string().regex(/^\d{1,5}(\/(tcp|udp))?$/, 'expected a port such as 8080 or 8080/tcp'))
      .default([])
      .describe('Ports to expose, e.g. 8080'),
    image: z
      .string()
      .optional()
      .describe('Target repository without tag, e.g. ghcr.io/acme/iris-serving; needed when push is true'),
    tags: input
      .list()
      .default([])
      .describe(
        'Tags to apply; default: <model-name>-<version> (when both are known) and sha-<short commit>',
      ),
    labels: input.keyValues().prefault('').describe('Config labels to add, one key=value a line'),
    annotations: input.keyValues().prefault('').describe('Manifest annotations to add, one key=value a line'),
    platforms: input
      .list()
      .default([])
      .describe("Platforms of the base to build, e.g. linux/amd64,linux/arm64; default: all of the base's"),
    push: input.boolean().prefault('true').describe('Push the image to `image`'),
    output: z
      .string()
      .optional()
      .describe(
        'Also write the image to an OCI layout folder, or to an oci-archive when the path ends in .tar',
      ),
    'registry-username': z
      .string()
      .optional()
      .describe(
        'User for the target registry (and the base and model when they are on it); default on ghcr.io: github.actor',
      ),
    'registry-password': input
      .secret(z.string().optional())
      .describe(
        "Password or token for the target registry, e.g. the workflow's GITHUB_TOKEN for GHCR (with packages: write)",
      ),
    'base-username': z
      .string()
      .optional()
      .describe(
        "User for the base image's registry; default on ghcr.io: github.actor. Without base-password: the target's credentials when the base is on the same registry, else anonymous",
      ),
    'base-password': input
      .secret(z.string().optional())
      .describe("Password or token for the base image's registry, when it is not the target's"),
    builder: z
      .enum(['native', 'docker'])
      .default('native')
      .describe(
        'native: assemble the image without a daemon (reproducible); docker: generate a Dockerfile and run docker buildx',
      ),
    'compression-level': input
      .integer()
      .refine((n) => n >= 0 && n <= 9, 'expected a gzip level from 0 to 9')
      .prefault('1')
      .describe('gzip level of the model layer: 1 is fastest and model weights barely compress further'),
    attest: input
      .boolean()
      .prefault('true')
      .describe(
        'Write SLSA provenance: signed with actions/attest when id-token is available, else next to output',
      ),
  })
  .superRefine((i, ctx) => {
    if (!i['model-uri'] === !i['model-path'])
      ctx.addIssue({
        code: 'custom',
        path: ['model-uri'],
        message: 'give exactly one of model-uri and model-path',
      });
    if (i['base-username'] && !i['base-password'])
      ctx.addIssue({
        code: 'custom',
        path: ['base-password'],
        message: 'base-username is set, so give base-password (the password or token for the base registry)',
      });
    if (i.push && !i.image)
      ctx.addIssue({
        code: 'custom',
        path: ['image'],
        message: 'push is true, so image (the target repository) is needed',
      });
    if (!i.push && !i.output && i.builder === 'native')
      ctx.addIssue({
        code: 'custom',
        path: ['output'],
        message: 'push is false, so give output (a folder or a .tar path)',
      });
    for (const tag of i.tags)
      if (!isValidTag(tag))
        ctx.addIssue({
          code: 'custom',
          path: ['tags'],
          message: `'${tag}' is not a valid OCI tag (letters, digits, _ . -, at most 128 characters, not starting with . or -)`,
        });
  });

export const outputs = z.object({
  image: z.string().describe('repository@digest of the image (or index) built'),
  digest: z.string().describe('Its digest'),
  tags: z.array(z.string()).describe('The tags written'),
  platforms: z.array(z.string()).describe('The platforms in the image'),
  size: z.number().describe('Bytes of the model layer (compressed)'),
  'model-layer': z.string().describe('Digest of the model layer'),
  provenance: z.string().describe('Where the provenance went: an attestation URL, a file path, or empty'),
});

type Inputs = z.output<typeof inputs>;

function credentialsFor(i: Inputs, ctx: ActionContext) {
  const target = i.image ? parseReference(i.image).registry : undefined;
  return (registry: string): RegistryCredentials | undefined => {
    if (registry !== target || !i['registry-password']) return undefined;
    const username = i['registry-username'] ?? (registry === 'ghcr.io' ? ctx.github.actor : '');
    return { username, password: i['registry-password'] };
  };
}

/**
 * The base image's credentials and the input a 401 should name: base-password when given, else the
 * target's when the base is on the target's registry, else none (a public base).
 */
export function baseCredentials(
  i: Pick<Inputs, 'base-username' | 'base-password'>,
  registry: string,
  target: (registry: string) => RegistryCredentials | undefined,
  actor: string,
): { credentials?: RegistryCredentials; input: string; separate: boolean } {
  if (i['base-password'])
    return {
      credentials: {
        username: i['base-username'] ?? (registry === 'ghcr.io' ? actor : ''),
        password: i['base-password'],
      },
      input: 'base-password',
      separate: true,
    };
  const shared = target(registry);
  return shared
    ? { credentials: shared, input: 'registry-password', separate: false }
    : { input: 'base-password', separate: false };
}

function defaultTags(i: Inputs, ctx: ActionContext): string[] {
  if (i.tags.length) return i.tags;
  const tags: string[] = [];
  const clean = (s: string) =>
    s
      .replace(/[^A-Za-z0-9_.-]+/g, '-')
      .replace(/^[.-]+/, '')
      .slice(0, 128);
  if (i['model-name'] && i.version) tags.push(clean(`${i['model-name']}-${i.version}`));
  else if (i.version) tags.push(clean(`v${i.version}`));
  if (ctx.github.sha) tags.push(`sha-${ctx.github.sha.slice(0, 7)}`);
  return tags.length ? tags : ['latest'];
}

/** The MLflow registry (and the tracking server holding the artifacts) behind a models:/ model-uri. */
function openMlflow(i: Inputs, ctx: ActionContext): { registry: MlflowRegistry; artifacts: MlflowClient } {
  const given = i['tracking-uri'] ?? ctx.env.MLFLOW_TRACKING_URI;
  // A local tracking store (register-model's default) has no server to read artifacts from.
  const tracking = given && isMlflowUri(given) ? given : undefined;
  const registryUri = i['model-registry-uri'] ?? tracking;
  if (!registryUri || !isMlflowUri(registryUri))
    throw new InputError(
      registryUri ? 'model-registry-uri' : 'tracking-uri',
      `model-uri '${i['model-uri']}' is in an MLflow registry, so give tracking-uri (http(s)://… or databricks; got '${given ?? ''}') or model-registry-uri, or set MLFLOW_TRACKING_URI`,
    );
  const connect = (uri: string, token: string | undefined) => {
    const connection = resolveConnection(uri, ctx.env, token);
    for (const secret of connection.secrets) ctx.mask(secret);
    return connection;
  };
  const log = (l: string) => ctx.log.debug(l);
  const sameServer = !tracking || registryUri === tracking;
  const registry = new MlflowRegistry(
    connect(registryUri, i['model-registry-token'] ?? (sameServer ? i['tracking-token'] : undefined)),
    { log },
  );
  const artifacts =
    sameServer || !tracking
      ? registry.client
      : new MlflowClient({ connection: connect(tracking, i['tracking-token']), log });
  return { registry, artifacts };
}

async function resolveModel(
  i: Inputs,
  ctx: ActionContext,
  creds: ReturnType<typeof credentialsFor>,
): Promise<ModelSource> {
  if (i['model-path']) return localModel(ctx.workspace, i['model-path']);
  const uri = i['model-uri']!;
  const target = join(ctx.tempDir, 'model');
  if (uri.startsWith('models:')) {
    const ref = parseModelsUri(uri);
    if (!ref)
      throw new InputError(
        'model-uri',
        `'${uri}' is not a models:/ URI this action reads; accepted: models:/<name>/<version> or models:/<name>@<alias>`,
      );
    const { registry, artifacts } = openMlflow(i, ctx);
    return ctx.log.group(`Model ${uri}`, () => fetchMlflowModel(uri, ref, registry, artifacts, target, ctx));
  }
  const opened = modelStore(uri, ctx.workspace, creds, (l) => ctx.log.info(l));
  const progress = ctx.progress({ label: 'model download', unit: 'bytes' });
  const model = await fetchModelArtifact(opened, target, (n) => progress.tick(0, n));
  progress.done();
  if (i.digest && model.artifact && model.artifact.descriptor.digest !== i.digest)
    throw new InputError(
      'digest',
      `'${i['model-uri']}' resolves to ${model.artifact.descriptor.digest}, not ${i.digest}`,
    );
  return model;
}

/** Name, version and run of a registered MLflow version fill the inputs left empty (tags, annotations). */
function withRegistered(i: Inputs, model: ModelSource): Inputs {
  const r = model.registered;
  if (!r) return i;
  return {
    ...i,
    'model-name': i['model-name'] ?? r.name,
    version: i.version ?? r.version,
    'run-id': i['run-id'] ?? r.runId,
  };
}

function lineage(
  i: Inputs,
  ctx: ActionContext,
  base: Reference,
  baseDigest: string,
  modelUri: string,
  created: string,
) {
  const g = ctx.github;
  const annotations: Record<string, string> = {
    'org.opencontainers.image.created': created,
    ...(g.repository ? { 'org.opencontainers.image.source': `${g.serverUrl}/${g.repository}` } : {}),
    ...(g.sha ? { 'org.opencontainers.image.revision': g.sha } : {}),
    ...(i.version ? { 'org.opencontainers.image.version': i.version } : {}),
    ...(i['model-name'] ? { 'org.opencontainers.image.title': i['model-name'] } : {}),
    'org.opencontainers.image.base.name': formatReference({ ...base, digest: undefined }),
    'org.opencontainers.image.base.digest': baseDigest,
    ...(i['model-name'] ? { 'mlops.model.name': i['model-name'] } : {}),
    ...(i.version ? { 'mlops.model.version': i.version } : {}),
    ...(i['run-id'] ? { 'mlops.model.run-id': i['run-id'] } : {}),
    ...(i['data-hash'] ? { 'mlops.model.data-hash': i['data-hash'] } : {}),
    'mlops.model.uri': modelUri,
  };
  return { ...annotations, ...i.annotations };
}

function summary(
  rows: LayerRow[],
  image: string,
  tags: string[],
  platforms: string[],
  provenance: string,
  recorded: string,
): string {
  const described = (o: LayerRow['outcome']) =>
    ({ exists: 'skipped (already there)', mounted: 'mounted', uploaded: 'uploaded' })[o];
  return [
    '### build-model-image',
    '',
    `Image ${inlineCode(image)} · tags ${tags.map(inlineCode).join(', ')} · platforms ${platforms.join(', ')}`,
    '',
    table(
      ['layer', 'from', 'platform', 'size', 'push'],
      rows.map((r) => [
        inlineCode(`${r.digest.slice(0, 19)}…`),
        r.source,
        r.platform,
        formatBytes(r.size),
        described(r.outcome),
      ]),
      ['left', 'left', 'left', 'right', 'left'],
    ),
    '',
    provenance ? `Provenance: ${provenance}` : 'Provenance: not written (attest: false)',
    ...(recorded ? ['', recorded] : []),
  ].join('\n');
}

function parsePlatforms(i: Inputs) {
  return i.platforms.map((p) => {
    try {
      return parsePlatform(p);
    } catch (error) {
      throw new InputError('platforms', (error as Error).message);
    }
  });
}

/** The target repository, checked before any download so a bad `image` fails at once. */
function targetOf(i: Inputs): Reference | undefined {
  const target = i.image ? parseReference(i.image) : undefined;
  if (target && (target.tag || target.digest))
    throw new InputError(
      'image',
      `'${i.image}' has a tag or digest; give the repository only and put tags in 'tags'`,
    );
  return target;
}

function openBase(i: Inputs, ctx: ActionContext, creds: ReturnType<typeof credentialsFor>) {
  const baseRef = parseReference(i['base-image']);
  const auth = baseCredentials(i, baseRef.registry, creds, ctx.github.actor);
  const baseStore = new RegistryClient({
    registry: baseRef.registry,
    credentials: auth.credentials,
    credentialInput: auth.input,
    log: (l) => ctx.log.info(l),
  });
  return { baseRef, baseStore, separate: auth.separate };
}

/** Signs the statement on GitHub when it can, else writes it next to the output; says where it went. */
async function writeProvenance(
  statement: ReturnType<typeof provenanceStatement>,
  pushed: boolean,
  outputPath: string | undefined,
  ctx: ActionContext,
): Promise<string> {
  const attested = pushed ? await attestOnGithub(statement, ctx) : { attested: false, reason: 'not pushed' };
  if (attested.attested) return attested.url ?? 'attested';
  const file = outputPath
    ? `${outputPath.replace(/\/+$/, '')}.provenance.json`
    : join(ctx.workspace, 'build-model-image.provenance.json');
  writeFileAtomic(file, `${JSON.stringify(statement, null, 2)}\n`);
  ctx.log.info(`Provenance written to ${file} (${attested.reason})`);
  return file;
}

export default defineAction({
  id: 'build-model-image',
  name: 'Build model image',
  description:
    'Adds a model to a serving base image without Docker: a reproducible layer on every platform, pushed with blob mounts, with OCI annotations, model lineage and SLSA provenance.',
  branding: { icon: 'package', color: 'purple' },
  inputs,
  outputs,
  async run(given, ctx) {
    const platforms = parsePlatforms(given);
    const target = targetOf(given);
    const creds = credentialsFor(given, ctx);
    const model = await resolveModel(given, ctx, creds);
    const i = withRegistered(given, model);
    const epoch = sourceDateEpoch(ctx.env);
    const created = new Date(epoch * 1000).toISOString().replace('.000Z', 'Z');
    const tags = defaultTags(i, ctx);
    const modelUri = model.artifact?.uri ?? model.registered?.uri ?? i['model-uri'] ?? i['model-path']!;

    const { baseRef, baseStore, separate } = openBase(i, ctx, creds);
    const base = await ctx.log.group(`Base image ${formatReference(baseRef)}`, () =>
      readBase(baseStore, baseRef, platforms),
    );
    const platformNames = base.images.map((b) => formatPlatform(b.platform));
    const annotations = lineage(i, ctx, baseRef, base.descriptor.digest, modelUri, created);
    const changes: ConfigChanges = {
      env: i.env,
      entrypoint: i.entrypoint,
      cmd: i.cmd,
      workdir: i.workdir,
      user: i.user,
      ports: i.port,
      labels: { ...annotations, ...i.labels },
    };

    if (i.builder === 'docker') {
      const digest = await dockerBuild({
        context: join(ctx.tempDir, 'docker'),
        modelPath: model.path,
        dockerfile: dockerfile(
          `${formatReference({ ...baseRef, digest: base.descriptor.digest })}`,
          i['model-dir'],
          changes,
          changes.labels ?? {},
        ),
        tags: target ? tags.map((t) => `${formatReference(target)}:${t}`) : [],
        platforms: i.platforms,
        push: i.push,
        log: (l) => ctx.log.info(l),
      });
      return {
        image: target ? `${formatReference(target)}@${digest}` : digest,
        digest,
        tags,
        platforms: platformNames,
        size: 0,
        'model-layer': '',
        provenance: '',
      };
    }

    const baseSource = { store: baseStore, repository: baseRef.repository };
    const targetStore =
      i.push && target
        ? target.registry === baseRef.registry && !separate
          ? baseStore
          : new RegistryClient({
              registry: target.registry,
              credentials: creds(target.registry),
              credentialInput: 'registry-password',
              log: (l) => ctx.log.info(l),
            })
        : undefined;
    // Pushing streams the layer into the target as it is packed; an output-only build stages it on disk.
    const layerInto =
      targetStore && target
        ? { store: targetStore, repository: target.repository }
        : { store: new LayoutStore(join(ctx.tempDir, 'model-layer')), repository: '' };
    const packed = await ctx.log.group('Model layer', () =>
      packModel(model.path, i['model-dir'], layerInto, epoch, i['compression-level'], ctx),
    );
    const built = assemble(base, packed.layer, {
      created,
      createdBy: `build-model-image: COPY model ${i['model-dir']}`,
      changes,
      annotations,
    });
    let rows: LayerRow[] = [];
    let descriptor: Descriptor | undefined;
    if (targetStore && target) {
      const pushed = await ctx.log.group(`Push ${formatReference(target)}`, () =>
        publish({ store: targetStore, repository: target.repository }, baseSource, built, packed, tags, ctx),
      );
      rows = pushed.rows;
      descriptor = pushed.descriptor;
    }
    let outputPath: string | undefined;
    if (i.output) {
      outputPath = confinePath(ctx.workspace, i.output, { input: 'output' });
      mkdirSync(dirname(outputPath), { recursive: true });
      const written = await ctx.log.group(`Write ${i.output}`, () =>
        writeOutput(outputPath!, baseSource, built, packed, tags, ctx.tempDir, ctx),
      );
      descriptor ??= written;
    }
    const digest = descriptor!.digest;
    const repository = target ? formatReference(target) : (outputPath ?? '');
    const image = `${repository}@${digest}`;
    if (model.artifact) await recordOnModel(model, repository, descriptor!, ctx);
    const recorded = model.registered
      ? await recordOnVersion(model.registered, target && i.push ? image : undefined, ctx)
      : '';

    const provenance = i.attest
      ? await writeProvenance(
          provenanceStatement({
            repository,
            digest,
            base: {
              name: formatReference({ ...baseRef, digest: undefined }),
              digest: base.descriptor.digest,
            },
            model: { uri: modelUri, digest: model.artifact?.descriptor.digest },
            externalParameters: {
              'base-image': i['base-image'],
              'model-dir': i['model-dir'],
              platforms: platformNames,
              tags,
              'model-uri': modelUri,
            },
            github: ctx.github,
          }),
          i.push,
          outputPath,
          ctx,
        )
      : '';
    ctx.summary.add(summary(rows, image, tags, platformNames, provenance, recorded));
    ctx.log.info(
      `build-model-image: ${image} (${platformNames.join(', ')}), model layer ${formatBytes(packed.layer.descriptor.size)}`,
    );
    return {
      image,
      digest,
      tags,
      platforms: platformNames,
      size: packed.layer.descriptor.size,
      'model-layer': packed.layer.descriptor.digest,
      provenance,
    };
  },
});

/** Points the model artifact back at its image: an OCI referrer whose subject is the model's manifest. */
async function recordOnModel(
  model: ModelSource,
  image: string,
  descriptor: Descriptor,
  ctx: ActionContext,
): Promise<void> {
  const artifact = model.artifact!;
  const empty = Buffer.from('{}');
  const emptyDescriptor = { mediaType: MediaType.ociEmpty, digest: sha256(empty), size: 2 };
  await artifact.store.pushBlob(artifact.repository, emptyDescriptor, empty);
  const referrer = await pushReferrer(artifact.store, artifact.repository, {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    artifactType: 'application/vnd.mlops.image.v1+json',
    config: emptyDescriptor,
    layers: [emptyDescriptor],
    subject: {
      mediaType: artifact.descriptor.mediaType,
      digest: artifact.descriptor.digest,
      size: artifact.descriptor.size,
    },
    annotations: { 'mlops.image': `${image}@${descriptor.digest}`, 'mlops.image.digest': descriptor.digest },
  });
  ctx.log.info(`Recorded the image on the model as referrer ${referrer.digest}`);
}

/** Tags the MLflow model version with the pushed image, so the registry leads to what serves it. */
async function recordOnVersion(
  version: RegisteredVersion,
  image: string | undefined,
  ctx: ActionContext,
): Promise<string> {
  if (!image) {
    ctx.log.info(`Not pushed, so ${version.uri} is not tagged with an image`);
    return '';
  }
  const digest = image.slice(image.lastIndexOf('@') + 1);
  await version.registry.setVersionTag(version.name, version.version, 'mlops.image', image);
  await version.registry.setVersionTag(version.name, version.version, 'mlops.image.digest', digest);
  ctx.log.info(`Tagged ${version.uri} with mlops.image=${image}`);
  return `Model version ${inlineCode(version.uri)} on MLflow at ${version.registry.uri} tagged ${inlineCode('mlops.image')} = ${inlineCode(image)}`;
}
