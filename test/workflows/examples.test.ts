import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MlflowClient, resolveConnection } from '@mlops-actions/mlflow';
import { RegistryClient } from '@mlops-actions/oci';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rng, users } from '../ab/data';
import { type CanaryWorld, startWorld } from '../canary/setup';
import { GithubApiDouble } from '../doubles/github-api';
import { KubernetesApiDouble } from '../doubles/kubernetes';
import { MlflowDouble } from '../doubles/mlflow';
import { startRayJobsDouble } from '../doubles/ray-jobs';
import { events, repoRoot, runStep } from '../harness';
import { pushBusyboxBase } from '../image/base';
import { trainedRun } from '../register/runs';
import { type Postgres, startPostgres } from '../servers/postgres';
import { type Registry, startRegistry } from '../servers/registry';
import { runJobsToCompletion } from '../train/cluster';
import { missingActions, runWorkflow, type WorkflowScenario } from './runner';

/**
 * Every file in workflows-examples/ is executed by its scenario below (GitHub's parser and expression
 * engine, our bundles through the harness, run: steps in bash). A workflow whose scenario is missing
 * fails the test, so an example cannot be added without being executed.
 */
const dir = join(repoRoot, 'workflows-examples');
const files = readdirSync(dir)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort();

/**
 * Examples that use one of our actions not yet merged into this branch (register-model,
 * build-model-image): listed here, they are reported as pending instead of run. Empty it after merging;
 * an entry whose actions are all built fails the test.
 */
const PENDING: string[] = [];

const REPO = 'acme/breast-cancer-model';
const mlflow = new MlflowDouble();
const github = new GithubApiDouble();
const cluster = new KubernetesApiDouble();
let world: CanaryWorld | undefined;
let postgres: Postgres | undefined;
let registry: Registry | undefined;
const stubLogs = mkdtempSync(join(tmpdir(), 'workflow-cli-'));

/** What a CLI stand-in in test/workflows/bin was asked to do, one call a line. */
function calls(log: string): string[] {
  return existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [];
}

/**
 * The recommender export of the ab-evaluate example as a PostgreSQL table: v2 gets 20 % more clicks and
 * half the errors (2 % → 1 %) and 3 % longer sessions, latency unchanged.
 */
async function analyticsDatabase(): Promise<string> {
  postgres ??= await startPostgres();
  const { default: pgModule } = await import('pg');
  const client: pg.Client = new pgModule.Client({ connectionString: postgres.url });
  await client.connect();
  try {
    const random = rng(11);
    const rows = users({ seed: 5, control: 20_000, treatment: 20_000, ctrLift: 0.2, sessionLift: 0.03 }).map(
      (r) => ({
        ...r,
        had_error: random() < (r.variant === 'v2' ? 0.01 : 0.02) ? 1 : 0,
      }),
    );
    await client.query('CREATE SCHEMA IF NOT EXISTS analytics');
    await client.query('DROP TABLE IF EXISTS analytics.recommender_v2_users');
    await client.query(
      'CREATE TABLE analytics.recommender_v2_users (user_id text, variant text, impressions integer, clicks integer, session_seconds double precision, pre_session_seconds double precision, latency_ms double precision, had_error integer)',
    );
    const names = [
      'user_id',
      'variant',
      'impressions',
      'clicks',
      'session_seconds',
      'pre_session_seconds',
      'latency_ms',
      'had_error',
    ] as const;
    for (let start = 0; start < rows.length; start += 1000) {
      const chunk = rows.slice(start, start + 1000);
      const tuples = chunk.map(
        (_r, i) => `(${names.map((_n, j) => `$${i * names.length + j + 1}`).join(', ')})`,
      );
      await client.query(
        `INSERT INTO analytics.recommender_v2_users (${names.join(', ')}) VALUES ${tuples.join(', ')}`,
        chunk.flatMap((r) => names.map((n) => r[n])),
      );
    }
  } finally {
    await client.end();
  }
  return postgres.url;
}

/** The example project as a git repository with one commit, as actions/checkout leaves it. */
function checkoutExample(workspace: string): void {
  cpSync(join(repoRoot, 'examples'), workspace, { recursive: true });
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd: workspace });
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-qm', 'example project');
}

/**
 * A registered model with two versions whose `production` alias moved 1 → 2 and whose `staging` alias is
 * on version 2, registered by the register-model bundle itself (as earlier workflow runs would leave it).
 */
async function registeredModel(name: string): Promise<void> {
  const env = { GITHUB_API_URL: github.url, GITHUB_REPOSITORY: REPO, GITHUB_ACTOR: 'octocat' };
  const client = new MlflowClient({ connection: resolveConnection(mlflow.url, {}) });
  const workspace = mkdtempSync(join(tmpdir(), 'workflow-seed-'));
  for (const [n, accuracy] of [0.91, 0.93].entries()) {
    const runId = await trainedRun(client, { 'test.accuracy': accuracy });
    const step = await runStep({
      action: 'register-model',
      workspace,
      env,
      inputs: {
        'tracking-uri': mlflow.url,
        'model-name': name,
        'run-id': runId,
        'promote-to': 'production',
        reason: `seed ${n + 1}`,
      },
    });
    expect(step.error, step.stdout.slice(-2000)).toBeUndefined();
  }
  await client.setModelAlias(name, 'staging', '2');
}

/** PATH: CLI stand-ins (pip offline) first, then Debian's python3 with scikit-learn and Jupyter. */
const PATH = `${join(repoRoot, 'test', 'workflows', 'bin')}:/usr/bin:${process.env.PATH ?? ''}`;

/**
 * The steps of a training workflow (checkout, setup-python, pip, data, train, then `after`, then the
 * closing echo) all ran and succeeded; on failure, the message carries the end of every step's log.
 */
function expectAllSucceeded(steps: Awaited<ReturnType<typeof runWorkflow>>, after: string[]): void {
  const ids = ['__actions_checkout', '__actions_setup-python', '__run', 'data', 'train', ...after, '__run_2'];
  expect(
    steps.map((s) => [s.id, s.outcome]),
    steps.map((s) => s.stdout.slice(-1500)).join('\n'),
  ).toEqual(ids.map((id) => [id, 'success']));
}

/** A manual run of a registry workflow (promote, rollback) against the MLflow and GitHub doubles. */
function dispatch(inputs: Record<string, string>): WorkflowScenario {
  return {
    event: events.workflowDispatch({ repo: REPO, inputs }),
    vars: { MLFLOW_TRACKING_URI: mlflow.url },
    secrets: { GITHUB_TOKEN: 'ghs_test_write_token' },
    checkout: checkoutExample,
    env: { PATH, GITHUB_API_URL: github.url },
  };
}

interface Case {
  scenario: WorkflowScenario;
  check: (steps: Awaited<ReturnType<typeof runWorkflow>>) => void;
  /** Stops what the scenario started for this workflow alone (generated traffic). */
  after?: () => Promise<void>;
}

const scenarios: Record<string, () => Promise<Case>> = {
  'register-on-merge.yml': async () => {
    registry ??= await startRegistry();
    const host = registry.host;
    await pushBusyboxBase(new RegistryClient({ registry: host }), 'runtimes/busybox');
    return {
      scenario: {
        event: events.push({ repo: REPO, sha: '4'.repeat(40) }),
        vars: { MLFLOW_TRACKING_URI: mlflow.url },
        secrets: { MLFLOW_TRACKING_USERNAME: 'ci', MLFLOW_TRACKING_PASSWORD: 'throwaway-password' },
        checkout: checkoutExample,
        env: { PATH, GITHUB_API_URL: github.url },
        // GHCR and Docker Hub cannot be reached here: the same roles on the test's docker-registry.
        overrides: {
          image: {
            'base-image': `${host}/runtimes/busybox:1`,
            image: `${host}/serving/breast-cancer-mlflow`,
          },
        },
      },
      check: (steps) => {
        expectAllSucceeded(steps, ['register', 'image']);
        const train = steps.find((s) => s.id === 'train')!;
        const register = steps.find((s) => s.id === 'register')!;
        const image = steps.find((s) => s.id === 'image')!;
        expect(register.inputs?.['run-id']).toBe(train.outputs['run-id']);
        expect(register.inputs?.reason).toBe(`merged ${'4'.repeat(40)}`);
        expect(register.outputs).toMatchObject({ alias: 'champion', 'gate-passed': 'true' });
        const model = mlflow.models.get('breast-cancer-classifier')!;
        expect(model.aliases.get('champion')).toBe(Number(register.outputs.version));
        expect(image.inputs?.['model-uri']).toBe(
          `models:/breast-cancer-classifier/${register.outputs.version}`,
        );
        expect(image.outputs.image).toBe(`${host}/serving/breast-cancer-mlflow@${image.outputs.digest}`);
        expect(JSON.parse(image.outputs.tags!)[0]).toBe(
          `breast-cancer-classifier-${register.outputs.version}`,
        );
        const version = model.versions.get(Number(register.outputs.version))!;
        expect(version.tags.get('mlops.image')).toBe(image.outputs.image);
        expect(steps.at(-1)!.stdout).toContain(
          `Registered version ${register.outputs.version} (${register.outputs['model-uri']}) as ${image.outputs.image}`,
        );
      },
    };
  },
  'promote.yml': async () => {
    await registeredModel('promote-example');
    await new MlflowClient({ connection: resolveConnection(mlflow.url, {}) }).setModelAlias(
      'promote-example',
      'production',
      '1',
    );
    const deploymentsBefore = github.deployments.length;
    return {
      scenario: dispatch({
        model: 'promote-example',
        version: '',
        'from-alias': 'staging',
        'target-alias': 'production',
        reason: 'approved in review',
      }),
      check: (steps) => {
        expect(steps.map((s) => s.outcome)).toEqual(['success', 'success']);
        const promote = steps.find((s) => s.id === 'promote')!;
        expect(promote.inputs).toMatchObject({
          version: '',
          'from-alias': 'staging',
          'promote-to': 'production',
        });
        expect(promote.outputs).toMatchObject({ version: '2', alias: 'production', 'previous-version': '1' });
        expect(mlflow.models.get('promote-example')!.aliases.get('production')).toBe(2);
        expect(github.deployments.slice(deploymentsBefore), promote.stdout).toMatchObject([
          {
            repository: REPO,
            environment: 'production',
            payload: { model: 'promote-example', version: '2' },
          },
        ]);
        expect(steps.at(-1)!.stdout).toContain('production moved from 1 to 2');
      },
    };
  },
  'rollback.yml': async () => {
    await registeredModel('rollback-example');
    return {
      scenario: dispatch({ model: 'rollback-example', alias: 'production', reason: 'latency regression' }),
      check: (steps) => {
        expect(steps.map((s) => s.outcome)).toEqual(['success', 'success']);
        const rollback = steps.find((s) => s.id === 'rollback')!;
        expect(rollback.outputs).toMatchObject({
          version: '1',
          alias: 'production',
          'previous-version': '2',
        });
        expect(mlflow.models.get('rollback-example')!.aliases.get('production')).toBe(1);
        const history = JSON.parse(rollback.outputs.history!) as Array<{ action: string; reason?: string }>;
        expect(history.at(-1)).toMatchObject({ action: 'rollback', reason: 'latency regression' });
        expect(steps.at(-1)!.stdout).toContain('production rolled back from 2 to 1');
      },
    };
  },
  'build-image.yml': async () => {
    registry ??= await startRegistry();
    const host = registry.host;
    await pushBusyboxBase(new RegistryClient({ registry: host }), 'runtimes/busybox');
    return {
      scenario: {
        event: events.push({ repo: REPO, sha: '5'.repeat(40) }),
        vars: { SOURCE_DATE_EPOCH: '1700000000' },
        checkout: checkoutExample,
        env: { PATH, GITHUB_API_URL: github.url },
        // GHCR and Docker Hub cannot be reached here: the same roles on the test's docker-registry.
        overrides: {
          register: { 'registry-uri': `oci://${host}/models` },
          image: { 'base-image': `${host}/runtimes/busybox:1`, image: `${host}/serving/breast-cancer` },
        },
      },
      check: (steps) => {
        expectAllSucceeded(steps, ['register', 'image']);
        const register = steps.find((s) => s.id === 'register')!;
        const image = steps.find((s) => s.id === 'image')!;
        expect(register.outputs['model-uri']).toMatch(
          new RegExp(`^oci://${host}/models/breast-cancer-classifier@sha256:[0-9a-f]{64}$`),
        );
        expect(image.inputs).toMatchObject({
          'model-uri': register.outputs['model-uri'],
          digest: register.outputs.digest,
          version: register.outputs.version,
        });
        expect(image.outputs.image).toBe(`${host}/serving/breast-cancer@${image.outputs.digest}`);
        expect(JSON.parse(image.outputs.platforms!)).toEqual(['linux/amd64', 'linux/arm64']);
        expect(steps.at(-1)!.stdout).toContain(`Deploy ${image.outputs.image} with canary-deploy`);
      },
    };
  },
  'train.yml': async () => ({
    scenario: {
      event: events.pullRequest({ repo: REPO, number: 3, baseSha: 'HEAD', headSha: '2'.repeat(40) }),
      vars: { MLFLOW_TRACKING_URI: mlflow.url },
      checkout: checkoutExample,
      env: { PATH, GITHUB_API_URL: github.url },
    },
    check: (steps) => {
      expect(steps.map((s) => [s.id, s.outcome])).toEqual([
        ['__actions_checkout', 'success'],
        ['__actions_setup-python', 'success'],
        ['__run', 'success'],
        ['data', 'success'],
        ['train', 'success'],
        ['__run_2', 'success'],
      ]);
      const train = steps.find((s) => s.id === 'train')!;
      expect(train.inputs?.['tracking-uri']).toBe(mlflow.url);
      expect(train.inputs?.['data-hash']).toMatch(/^[0-9a-f]{32,64}$/);
      const accuracy = (JSON.parse(train.outputs.metrics!) as Record<string, number>)['test.accuracy'];
      expect(steps.at(-1)!.stdout).toContain(
        `run ${train.outputs['run-id']} logged runs:/${train.outputs['run-id']}/model with accuracy ${accuracy}`,
      );
    },
  }),
  'train-on-kubernetes.yml': async () => {
    await cluster.start();
    runJobsToCompletion(cluster, mlflow, 'ml-train', JSON.stringify({ test: { accuracy: 0.95 } }));
    const kubeconfig = join(mkdtempSync(join(tmpdir(), 'kube-')), 'config');
    return {
      scenario: {
        event: events.pullRequest({ repo: REPO, number: 3, baseSha: 'HEAD', headSha: '4'.repeat(40) }),
        vars: { MLFLOW_TRACKING_URI: mlflow.url },
        secrets: {
          GITHUB_TOKEN: 'ghs_test_write_token',
          // The double speaks plain HTTP, which client-node allows only with insecure-skip-tls-verify.
          KUBECONFIG: `apiVersion: v1\nkind: Config\nclusters:\n- name: gke\n  cluster: {server: '${cluster.url}', insecure-skip-tls-verify: true}\nusers:\n- name: ci\n  user: {token: test-token}\ncontexts:\n- name: gke\n  context: {cluster: gke, user: ci}\ncurrent-context: gke\n`,
        },
        checkout: checkoutExample,
        env: { PATH, GITHUB_API_URL: github.url },
        stubs: {
          // As azure/k8s-set-context does: the kubeconfig written to a file named by KUBECONFIG.
          'azure/k8s-set-context': (ctx) => {
            writeFileSync(kubeconfig, ctx.inputs.kubeconfig!);
            ctx.exportEnv('KUBECONFIG', kubeconfig);
            return {};
          },
        },
      },
      check: (steps) => {
        expect(steps.map((s) => [s.id, s.outcome])).toEqual([
          ['__actions_checkout', 'success'],
          ['__azure_k8s-set-context', 'success'],
          ['train', 'success'],
          ['__run', 'success'],
        ]);
        const train = steps.find((s) => s.id === 'train')!;
        const job = cluster.created.at(-1)!.body as { spec: { template: { spec: Record<string, unknown> } } };
        expect(job.spec.template.spec.nodeSelector).toEqual({
          'cloud.google.com/gke-accelerator': 'nvidia-l4',
        });
        expect(train.stdout).toContain('epoch 3 loss 0.4');
        expect(steps.at(-1)!.stdout).toContain(
          `run ${train.outputs['run-id']} trained on Kubernetes with accuracy 0.95`,
        );
        expect(github.commentsOf(REPO, 3).at(-1)?.body).toContain('| test\\.accuracy | 0.95 |');
      },
    };
  },
  'train-on-ray.yml': async () => {
    // A Ray node: Debian's python3 (scikit-learn) as `python`, the MLflow CLI stand-in on PATH.
    const node = mkdtempSync(join(tmpdir(), 'ray-node-'));
    symlinkSync('/usr/bin/python3', join(node, 'python'));
    const ray = await startRayJobsDouble({
      execute: true,
      token: 'throwaway-ray-token',
      env: { ...process.env, PATH: `${node}:${PATH}` },
    });
    return {
      scenario: {
        event: events.pullRequest({ repo: REPO, number: 3, baseSha: 'HEAD', headSha: '5'.repeat(40) }),
        vars: { MLFLOW_TRACKING_URI: mlflow.url, RAY_DASHBOARD_URL: ray.url },
        secrets: { RAY_AUTH_TOKEN: 'throwaway-ray-token' },
        checkout: checkoutExample,
        env: { PATH, GITHUB_API_URL: github.url },
      },
      check: (steps) => {
        expect(
          steps.map((s) => [s.id, s.outcome]),
          steps.map((s) => s.stdout.slice(-1500)).join('\n'),
        ).toEqual([
          ['__actions_checkout', 'success'],
          ['data', 'success'],
          ['train', 'success'],
          ['__run', 'success'],
        ]);
        const train = steps.find((s) => s.id === 'train')!;
        const runId = train.outputs['run-id']!;
        const job = [...ray.jobs.values()].find(
          (j) => (j.runtime_env.env_vars as Record<string, string>).MLFLOW_RUN_ID === runId,
        )!;
        expect(job.status).toBe('SUCCEEDED');
        expect(job.entrypoint_num_gpus).toBe(1);
        expect(job.entrypoint_memory).toBe(8 * 1024 ** 3);
        expect(job.runtime_env.pip).toEqual([
          'scikit-learn>=1.2',
          'pandas>=1.5',
          'pyyaml>=6',
          'mlflow-skinny>=2.9',
        ]);
        const accuracy = (JSON.parse(train.outputs.metrics!) as Record<string, number>)['test.accuracy'];
        expect(accuracy).toBeGreaterThan(0.8);
        expect(steps.at(-1)!.stdout).toContain(
          `run ${runId} logged runs:/${runId}/model with accuracy ${accuracy}`,
        );
      },
      after: () => ray.stop(),
    };
  },
  'train-with-dvc.yml': async () => ({
    scenario: {
      event: events.push({ repo: REPO, sha: '3'.repeat(40) }),
      vars: {
        MLFLOW_TRACKING_URI: mlflow.url,
        DVC_REMOTE_ROLE_ARN: 'arn:aws:iam::123456789012:role/dvc-reader',
      },
      checkout: checkoutExample,
      env: { PATH, GITHUB_API_URL: github.url },
      // AWS's OIDC exchange cannot run here, and the example's remote is local: nothing to configure.
      stubs: { 'aws-actions/configure-aws-credentials': () => ({}) },
    },
    check: (steps) => {
      expect(steps.map((s) => s.outcome)).not.toContain('failure');
      const data = steps.find((s) => s.id === 'data')!;
      expect(data.inputs?.targets).toBe('data/breast_cancer.csv\n');
      const echoed = steps.find((s) => s.id === '__run')!.stdout;
      expect(echoed).toContain(
        `${data.outputs.files} files, ${data.outputs['downloaded-bytes']} bytes downloaded`,
      );
      expect(steps.find((s) => s.id === 'train')!.inputs?.['data-hash']).toBe(data.outputs['data-hash']);
    },
  }),
  'canary-manual.yml': async () => {
    world ??= await startWorld();
    await world.reset('manual');
    const w = world;
    const load = w.load(100);
    return {
      after: () => load.stop(),
      scenario: {
        event: events.workflowDispatch({ repo: REPO, inputs: { action: 'start' } }),
        vars: { PROMETHEUS_URL: w.prometheus.url },
        secrets: { PROMETHEUS_TOKEN: 'throwaway-token' },
        checkout: checkoutExample,
        env: { PATH },
        // The example's nginx lives under /etc with fixed ports: point it at the test's nginx instead.
        overrides: {
          canary: { ...pick(w.inputs('manual')), interval: '3s', 'initial-delay': '1s', 'min-samples': '15' },
        },
      },
      check: (steps) => {
        const canary = steps.find((s) => s.id === 'canary')!;
        expect(canary.inputs?.action).toBe('start');
        expect(canary.outputs.outcome).toBe('paused');
        expect(canary.outputs['final-weight']).toBe('50');
        expect(steps.at(-1)!.stdout).toContain('::notice::Canary paused at 50%: run this workflow again');
      },
    };
  },
  'ab-evaluate.yml': async () => {
    const gh = join(stubLogs, 'gh.log');
    github.addIssue(REPO, 12);
    return {
      scenario: {
        event: events.schedule({ repo: REPO, cron: '30 6 * * *' }),
        vars: { RECOMMENDER_EXPERIMENT_ISSUE: '12' },
        secrets: { ANALYTICS_DATABASE_URL: await analyticsDatabase(), GITHUB_TOKEN: 'ghs_test_write_token' },
        checkout: checkoutExample,
        env: { PATH, GITHUB_API_URL: github.url, GH_STUB_LOG: gh },
      },
      check: (steps) => {
        expect(steps.map((s) => s.outcome)).not.toContain('failure');
        const ab = steps.find((s) => s.id === 'ab')!;
        expect(ab.inputs?.table).toBe('analytics.recommender_v2_users');
        expect(ab.outputs.decision, ab.outputs.reasons).toBe('ship');
        expect(calls(gh)).toEqual([
          `workflow run promote.yml --repo ${REPO} -f model=recommender -f version=2 -f alias=champion`,
        ]);
        expect(steps.at(-1)!.stdout).toContain('::notice::v2 wins: promotion started.');
        expect(
          github
            .commentsOf(REPO, 12)
            .map((c) => c.body)
            .join('\n'),
        ).toContain('recommender-v2');
      },
    };
  },
  'canary-sentiment.yml': async () => {
    world ??= await startWorld();
    await world.reset('sentiment');
    const w = world;
    const docker = join(stubLogs, 'docker.log');
    const load = w.load(100);
    return {
      after: () => load.stop(),
      scenario: {
        event: events.workflowDispatch({ repo: REPO, inputs: { image: 'ghcr.io/acme/sentiment:v2' } }),
        vars: { PROMETHEUS_URL: w.prometheus.url },
        secrets: { PROMETHEUS_TOKEN: 'throwaway-token', GITHUB_TOKEN: 'ghs_test_write_token' },
        checkout: checkoutExample,
        env: { PATH, DOCKER_STUB_LOG: docker, GITHUB_API_URL: github.url },
        // The example's nginx lives under /etc with fixed ports and judges 5-minute windows: point it at
        // the test's nginx and Prometheus and shorten the windows.
        overrides: {
          canary: {
            ...pick(w.inputs('sentiment')),
            interval: '3s',
            count: '1',
            'initial-delay': '1s',
            'min-samples': '15',
          },
        },
      },
      check: (steps) => {
        expect(calls(docker)).toEqual([
          'rm -f sentiment-canary',
          'run -d --name sentiment-canary -p 127.0.0.1:8082:8080 ghcr.io/acme/sentiment:v2',
        ]);
        const canary = steps.find((s) => s.id === 'canary')!;
        expect(canary.outputs.outcome).toMatch(/^(promoted|rolled-back|inconclusive)$/);
        expect(steps.at(-1)!.stdout).toContain(
          `canary outcome: ${canary.outputs.outcome} at ${canary.outputs['final-weight']}%`,
        );
      },
    };
  },
};

/** The inputs that say where nginx, its include and Prometheus are. */
function pick(inputs: Record<string, string>): Record<string, string> {
  const keys = [
    'nginx-include',
    'nginx-stable',
    'nginx-canary',
    'nginx-name',
    'nginx-prefix',
    'nginx-conf',
    'stable-selector',
    'canary-selector',
  ];
  return Object.fromEntries(keys.map((k) => [k, inputs[k]!]));
}

beforeAll(async () => {
  await mlflow.start();
  await github.start();
  github.addIssue(REPO, 3);
});
afterAll(async () => {
  await mlflow.stop();
  await github.stop();
  await world?.close();
  await postgres?.stop();
  await registry?.stop();
  await cluster.close();
});

describe('every example workflow is executed', () => {
  for (const file of files) {
    const text = readFileSync(join(dir, file), 'utf8');
    if (PENDING.includes(file)) {
      it(`${file} is pending only while one of our actions it uses is not built`, () => {
        expect(missingActions(text)).not.toEqual([]);
      });
      continue;
    }
    it(`${file} runs with its scenario`, async () => {
      const make = scenarios[file];
      expect(make, `no scenario for ${file} in test/workflows/examples.test.ts`).toBeDefined();
      const { scenario, check, after } = await make!();
      try {
        check(await runWorkflow(join(dir, file), scenario));
      } finally {
        await after?.();
      }
    }, 240_000);
  }
});
