import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { RegistryClient } from '@mlops-actions/oci';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MlflowDouble } from '../doubles/mlflow';
import { runStep } from '../harness';
import { freePort } from '../servers/process';
import { type Registry, startRegistry } from '../servers/registry';
import { pushBusyboxBase } from './base';

const exec = promisify(execFile);
const dirs: string[] = [];
function temp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'image-mlflow-'));
  dirs.push(dir);
  return dir;
}

/** What train-and-log logs for a model: the files of an MLflow model folder, one of them empty. */
const MODEL: Record<string, Buffer> = {
  MLmodel: Buffer.from('artifact_path: model\nflavors:\n  sklearn:\n    pickled_model: model.pkl\n'),
  'model.pkl': Buffer.alloc(300_000, 7),
  'conda.yaml': Buffer.from('dependencies:\n- python=3.11\n'),
  'requirements.txt': Buffer.from('scikit-learn==1.4.2\n'),
  'data/vocabulary.json': Buffer.from('{"a":1}\n'),
  'data/empty.txt': Buffer.alloc(0),
};

let registry: Registry;
let htpasswd: Registry;

async function call<T = unknown>(
  mlflow: MlflowDouble,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const url = new URL(`api/2.0/mlflow/${path}`, `${mlflow.url}/`);
  const response = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

/**
 * Fills a double through its REST API as train-and-log and register-model do: a run whose model is
 * logged through the artifact proxy, and versions of `iris` whose sources take each form MLflow writes.
 */
async function seeded(options: ConstructorParameters<typeof MlflowDouble>[0] = {}): Promise<MlflowDouble> {
  const mlflow = new MlflowDouble(options);
  await mlflow.start();
  const { run } = await call<{ run: { info: { artifact_uri: string; run_id: string } } }>(
    mlflow,
    'POST',
    'runs/create',
    { experiment_id: '0', start_time: 1 },
  );
  const root = run.info.artifact_uri.replace(/^mlflow-artifacts:\//, '');
  for (const [file, data] of Object.entries(MODEL)) {
    const put = await fetch(`${mlflow.url}/api/2.0/mlflow-artifacts/artifacts/${root}/model/${file}`, {
      method: 'PUT',
      body: data,
    });
    expect(put.status).toBe(200);
  }
  await call(mlflow, 'POST', 'registered-models/create', { name: 'iris' });
  const runId = run.info.run_id;
  for (const source of [`runs:/${runId}/model`, `${run.info.artifact_uri}/model`, 'models:/iris/1'])
    await call(mlflow, 'POST', 'model-versions/create', { name: 'iris', source, run_id: runId });
  await call(mlflow, 'POST', 'registered-models/alias', { name: 'iris', alias: 'champion', version: '3' });
  return mlflow;
}

async function unpack(source: string): Promise<string> {
  const oci = join(temp(), 'oci');
  await exec('skopeo', [
    'copy',
    '--override-arch',
    'amd64',
    '--src-tls-verify=false',
    source,
    `oci:${oci}:amd64`,
  ]);
  const bundle = join(temp(), 'bundle');
  await exec('umoci', ['unpack', '--rootless', '--image', `${oci}:amd64`, bundle]);
  return join(bundle, 'rootfs');
}

function expectModelFiles(rootfs: string): void {
  for (const [file, data] of Object.entries(MODEL)) {
    const path = join(rootfs, 'mnt/models', file);
    expect(statSync(path).size, file).toBe(data.length);
    expect(readFileSync(path).equals(data), file).toBe(true);
  }
}

beforeAll(async () => {
  [registry, htpasswd] = await Promise.all([startRegistry(), startRegistry({ auth: 'htpasswd' })]);
  await Promise.all([
    pushBusyboxBase(new RegistryClient({ registry: registry.host }), 'runtimes/busybox'),
    pushBusyboxBase(
      new RegistryClient({
        registry: htpasswd.host,
        credentials: { username: htpasswd.username!, password: htpasswd.password! },
      }),
      'runtimes/private',
    ),
  ]);
}, 120_000);

afterAll(async () => {
  await registry?.stop();
  await htpasswd?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('build-model-image from the MLflow Model Registry (bundle, MLflow double, real docker-registry)', () => {
  let mlflow: MlflowDouble;
  beforeAll(async () => {
    // Two entries a page, so the run's listing takes several pages.
    mlflow = await seeded({ artifactPageSize: 2 });
  });
  afterAll(() => mlflow?.stop());

  it('builds models:/iris/1 (a runs:/ source, paged listing), reads back the logged files with skopeo + umoci, and tags the version with the image', async () => {
    const step = await runStep({
      action: 'build-model-image',
      workspace: temp(),
      inputs: {
        'model-uri': 'models:/iris/1',
        'tracking-uri': mlflow.url,
        'base-image': `${registry.host}/runtimes/busybox:1`,
        image: `${registry.host}/serving/iris-mlflow`,
        platforms: 'linux/amd64',
      },
      env: { SOURCE_DATE_EPOCH: '1700000000' },
    });
    expect(step.error ?? '').toBe('');
    const json = step.json as { image: string; digest: string; tags: string[] };
    expect(json.tags).toEqual(['iris-1', 'sha-aaaaaaa']);
    expect(json.image).toBe(`${registry.host}/serving/iris-mlflow@${json.digest}`);
    expect(mlflow.requestsTo('artifacts/list').some((r) => r.query.get('page_token'))).toBe(true);
    expectModelFiles(await unpack(`docker://${registry.host}/serving/iris-mlflow:iris-1`));
    const tags = mlflow.models.get('iris')!.versions.get(1)!.tags;
    expect(tags.get('mlops.image')).toBe(json.image);
    expect(tags.get('mlops.image.digest')).toBe(json.digest);
    expect(step.summary).toContain(`Model version \`models:/iris/1\` on MLflow at ${mlflow.url} tagged`);
    expect(mlflow.models.get('iris')!.versions.get(3)!.tags.has('mlops.image')).toBe(false);
  });

  it('builds models:/iris@champion (version 3, whose source is models:/iris/1) and tags version 3', async () => {
    const step = await runStep({
      action: 'build-model-image',
      workspace: temp(),
      inputs: {
        'model-uri': 'models:/iris@champion',
        'tracking-uri': mlflow.url,
        'base-image': `${registry.host}/runtimes/busybox:1`,
        image: `${registry.host}/serving/iris-mlflow`,
        platforms: 'linux/amd64',
      },
    });
    expect(step.error ?? '').toBe('');
    const json = step.json as { image: string; tags: string[] };
    expect(json.tags[0]).toBe('iris-3');
    expectModelFiles(await unpack(`docker://${json.image}`));
    expect(mlflow.models.get('iris')!.versions.get(3)!.tags.get('mlops.image')).toBe(json.image);
  });

  it('builds models:/iris/2 (an mlflow-artifacts:/ source) into an OCI layout without pushing or tagging', async () => {
    const workspace = temp();
    const step = await runStep({
      action: 'build-model-image',
      workspace,
      inputs: {
        'model-uri': 'models:/iris/2',
        'tracking-uri': mlflow.url,
        'base-image': `${registry.host}/runtimes/busybox:1`,
        push: 'false',
        output: 'image',
        platforms: 'linux/amd64',
      },
    });
    expect(step.error ?? '').toBe('');
    expectModelFiles(await unpack(`oci:${join(workspace, 'image')}:iris-2`));
    expect(mlflow.models.get('iris')!.versions.get(2)!.tags.has('mlops.image')).toBe(false);
  });

  it('a version or alias that does not exist fails in one line naming model-uri', async () => {
    for (const [uri, problem] of [
      ['models:/iris/9', "model 'iris' has no version 9"],
      ['models:/iris@nobody', "model 'iris' has no alias 'nobody'"],
    ]) {
      const step = await runStep({
        action: 'build-model-image',
        workspace: temp(),
        inputs: {
          'model-uri': uri,
          'tracking-uri': mlflow.url,
          'base-image': `${registry.host}/runtimes/busybox:1`,
          image: `${registry.host}/serving/none`,
        },
      });
      expect(step.exitCode).toBe(1);
      expect(step.error).toBe(
        `Input 'model-uri': '${uri}' does not exist on MLflow at ${mlflow.url}: ${problem}`,
      );
    }
  });
});

describe('build-model-image with truncated MLflow downloads (bundle, MLflow double)', () => {
  const step = (mlflow: MlflowDouble, workspace: string) =>
    runStep({
      action: 'build-model-image',
      workspace,
      inputs: {
        'model-uri': 'models:/iris/1',
        'tracking-uri': mlflow.url,
        'base-image': `${registry.host}/runtimes/busybox:1`,
        push: 'false',
        output: 'image.tar',
        platforms: 'linux/amd64',
      },
    });

  it('retries a download whose size does not match the listing', async () => {
    const mlflow = await seeded({ truncateDownloads: 1 });
    try {
      const result = await step(mlflow, temp());
      expect(result.error ?? '').toBe('');
      expect(result.stdout).toMatch(/received \d+ bytes, the listing says \d+; attempt 2\/3/);
    } finally {
      await mlflow.stop();
    }
  });

  it('fails clearly when every attempt comes back short', async () => {
    const mlflow = await seeded({ truncateDownloads: 1000 });
    try {
      const workspace = temp();
      const result = await step(mlflow, workspace);
      expect(result.exitCode).toBe(1);
      expect(result.error).toMatch(
        /^Downloading '[^']+' of 'runs:\/[0-9a-f]+\/model' failed 3 times: received \d+ bytes, the listing says \d+$/,
      );
    } finally {
      await mlflow.stop();
    }
  });
});

describe('build-model-image with the base on a registry of its own (bundle, htpasswd docker-registry)', () => {
  it('sends base-username/base-password only to the base registry and nothing to the target', async () => {
    const upstream = new URL(registry.url);
    const seen: Array<string | undefined> = [];
    const proxy: Server = createServer((req, res) => {
      seen.push(req.headers.authorization);
      const forward = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          path: req.url,
          method: req.method,
          headers: req.headers,
        },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      req.pipe(forward);
    });
    const port = await freePort();
    await new Promise<void>((r) => proxy.listen(port, '127.0.0.1', r));
    try {
      const mlflow = await seeded();
      try {
        const result = await runStep({
          action: 'build-model-image',
          workspace: temp(),
          inputs: {
            'model-uri': 'models:/iris/1',
            'tracking-uri': mlflow.url,
            'base-image': `${htpasswd.host}/runtimes/private:1`,
            'base-username': htpasswd.username,
            'base-password': htpasswd.password,
            image: `127.0.0.1:${port}/serving/iris-private`,
            platforms: 'linux/amd64',
          },
        });
        expect(result.error ?? '').toBe('');
        // The runner masks what ::add-mask:: names; nothing else may print it.
        expect(result.stdout.replace(/^::add-mask::.*$/gm, '')).not.toContain(htpasswd.password!);
        expect(seen.length).toBeGreaterThan(3);
        expect(seen.filter(Boolean)).toEqual([]);
        expectModelFiles(await unpack(`docker://${(result.json as { image: string }).image}`));
      } finally {
        await mlflow.stop();
      }
    } finally {
      await new Promise((r) => proxy.close(r));
    }
  });

  it('a 401 on the base names base-password, never the secret', async () => {
    const mlflow = await seeded();
    try {
      for (const password of [undefined, 'wrong-base-secret']) {
        const result = await runStep({
          action: 'build-model-image',
          workspace: temp(),
          inputs: {
            'model-uri': 'models:/iris/1',
            'tracking-uri': mlflow.url,
            'base-image': `${htpasswd.host}/runtimes/private:1`,
            ...(password ? { 'base-username': 'ci-user', 'base-password': password } : {}),
            image: `${registry.host}/serving/iris-private`,
            'registry-password': 'target-secret',
          },
        });
        expect(result.exitCode).toBe(1);
        expect(result.error).toMatch(
          new RegExp(`Registry ${htpasswd.host.replace(/\./g, '\\.')} .*\\(401\\).*'base-password'`),
        );
        expect(result.error).not.toContain('wrong-base-secret');
        expect(result.error).not.toContain('target-secret');
      }
    } finally {
      await mlflow.stop();
    }
  });
});
