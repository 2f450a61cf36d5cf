import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MlflowDouble } from '../../../test/doubles/mlflow';
import { downloadArtifacts, locateArtifacts, MlflowClient, parseModelsUri, resolveConnection } from '../src';

const dirs: string[] = [];
function temp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mlflow-artifacts-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('parseModelsUri', () => {
  it('reads models:/<name>/<version> and models:/<name>@<alias>', () => {
    expect(parseModelsUri('models:/iris/12')).toEqual({ name: 'iris', version: '12' });
    expect(parseModelsUri('models:/main.ml.iris@champion')).toEqual({
      name: 'main.ml.iris',
      alias: 'champion',
    });
  });
  it('refuses stages, missing parts and other schemes', () => {
    for (const uri of [
      'models:/iris/Production',
      'models:/iris',
      'models://iris/1',
      'runs:/abc/model',
      'models:/iris@',
    ])
      expect(parseModelsUri(uri), uri).toBeUndefined();
  });
});

describe('locateArtifacts and downloadArtifacts (MLflow double)', () => {
  const mlflow = new MlflowDouble();
  let client: MlflowClient;
  beforeAll(async () => {
    await mlflow.start();
    client = new MlflowClient({ connection: resolveConnection(mlflow.url, {}) });
  });
  afterAll(() => mlflow.stop());

  it('a source on S3, GCS or Azure directly fails in one line that names --serve-artifacts and model-path', async () => {
    for (const [uri, store] of [
      ['s3://bucket/1/abc/artifacts/model', 'S3'],
      ['gs://bucket/model', 'Google Cloud Storage'],
      ['wasbs://c@acct.blob.core.windows.net/model', 'Azure Blob Storage'],
    ] as const) {
      const error = await locateArtifacts(client, uri).catch((e: Error) => e);
      expect((error as Error).message).toBe(
        `The model's files are at '${uri}' on ${store}, which this action does not read directly; start the MLflow server with --serve-artifacts (artifacts under mlflow-artifacts:/) or download the model and give model-path`,
      );
    }
  });

  it('reads a file: source (a server whose artifact root is a local folder) with every file byte for byte', async () => {
    const root = temp();
    mkdirSync(join(root, 'model', 'sub'), { recursive: true });
    writeFileSync(join(root, 'model', 'MLmodel'), 'flavors: {}\n');
    writeFileSync(join(root, 'model', 'sub', 'w.bin'), Buffer.alloc(70_000, 5));
    const uri = pathToFileURL(join(root, 'model')).href;
    const location = await locateArtifacts(client, uri);
    expect(location).toEqual({ kind: 'local', dir: join(root, 'model'), display: uri });
    const target = temp();
    const done = await downloadArtifacts(client, location, target);
    expect(done).toEqual({ files: 2, bytes: 70_000 + 12 });
    expect(readFileSync(join(target, 'sub', 'w.bin')).equals(Buffer.alloc(70_000, 5))).toBe(true);
    expect(readdirSync(target).sort()).toEqual(['MLmodel', 'sub']);
  });

  it('refuses a listing entry that climbs out of the model folder', async () => {
    mlflow.artifacts.set('0/run/artifacts/model/ok.txt', Buffer.from('x'));
    const location = {
      kind: 'proxy' as const,
      path: '0/run/artifacts/model',
      display: 'mlflow-artifacts:/0/run/artifacts/model',
    };
    const evil = new MlflowClient({ connection: resolveConnection(mlflow.url, {}) });
    evil.listProxyArtifacts = async () => [{ path: '..', file_size: 1 }];
    await expect(downloadArtifacts(evil, location, temp())).rejects.toThrow(
      "The artifact listing of 'mlflow-artifacts:/0/run/artifacts/model' names a path outside the model: '..'",
    );
  });

  it('follows a models:/ source to the run it was logged in, and lists a run through every page', async () => {
    const run = await client.createRun({ experimentId: '0', startTime: 1 });
    const root = run.info.artifact_uri.replace(/^mlflow-artifacts:\//, '');
    for (const name of ['a', 'b', 'c']) mlflow.artifacts.set(`${root}/model/${name}.txt`, Buffer.from(name));
    await client.getOrCreateRegisteredModel('chain');
    await client.createModelVersion({ name: 'chain', source: `runs:/${run.info.run_id}/model` });
    const location = await locateArtifacts(client, 'models:/chain/1');
    expect(location).toEqual({
      kind: 'run',
      runId: run.info.run_id,
      path: 'model',
      root,
      display: `runs:/${run.info.run_id}/model`,
    });
    const paged = new MlflowDouble({ artifactPageSize: 1 });
    await paged.start();
    try {
      const pagedClient = new MlflowClient({ connection: resolveConnection(paged.url, {}) });
      const pagedRun = await pagedClient.createRun({ experimentId: '0', startTime: 1 });
      const pagedRoot = pagedRun.info.artifact_uri.replace(/^mlflow-artifacts:\//, '');
      for (const name of ['a', 'b', 'c'])
        paged.artifacts.set(`${pagedRoot}/model/${name}.txt`, Buffer.from(name));
      const target = temp();
      const done = await downloadArtifacts(
        pagedClient,
        await locateArtifacts(pagedClient, `runs:/${pagedRun.info.run_id}/model`),
        target,
      );
      expect(done).toEqual({ files: 3, bytes: 3 });
      expect(readdirSync(target).sort()).toEqual(['a.txt', 'b.txt', 'c.txt']);
      expect(paged.requestsTo('artifacts/list').length).toBe(3);
    } finally {
      await paged.stop();
    }
  });

  it('an empty source fails naming it', async () => {
    await expect(
      downloadArtifacts(
        client,
        await locateArtifacts(client, 'mlflow-artifacts:/0/none/artifacts/model'),
        temp(),
      ),
    ).rejects.toThrow("'mlflow-artifacts:/0/none/artifacts/model' holds no files");
  });
});
