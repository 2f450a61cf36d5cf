import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FlagdCore } from '@openfeature/flagd-core';
import Ajv from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen } from '../doubles/http-server';
import { LaunchDarklyDouble } from '../doubles/launchdarkly';
import { UnleashDouble } from '../doubles/unleash';
import { runStep } from '../harness';
import { startLoad } from '../servers/model-server';
import { type CanaryWorld, startWorld } from './setup';

/**
 * The feature-flag routers end to end through the harness on dist/canary-deploy. The canary's share is
 * a flag: a small front end stands for the application's SDK, asking the flag service (the LaunchDarkly
 * or Unleash double, or the flagd file evaluated by flagd's own evaluator, flagd-core) on every request
 * and sending it to the stable or canary model server; a real Prometheus scrapes both, and the judge
 * reads it as in the nginx scenarios.
 */
const FAST = {
  interval: '3s',
  'initial-delay': '1s',
  count: '1',
  'min-samples': '15',
  'inconclusive-limit': '0',
  metrics: `- name: error-rate
  test: two-proportion
  max: 0.05
  critical: true
- name: latency
  test: mann-whitney
- name: p99-latency
  max: 1`,
};

const LD_TOKEN = 'api-test-writer-0000';
const UNLEASH_TOKEN = '*:*.unleash-test-admin';
const ld = new LaunchDarklyDouble();
const unleash = new UnleashDouble();
let world: CanaryWorld;
/** The canary's share in [0, 1] the front end applies on the next request. */
let share: () => number = () => 0;
let front: { url: string; close: () => Promise<void> };

const schemaDir = join(import.meta.dirname, 'flagd-schema');
const ajv = new Ajv({ strict: false });
ajv.addSchema(JSON.parse(readFileSync(join(schemaDir, 'targeting.json'), 'utf8')));
const validateFlags = ajv.compile(JSON.parse(readFileSync(join(schemaDir, 'flags.json'), 'utf8')));

beforeAll(async () => {
  world = await startWorld();
  await ld.start();
  await unleash.start();
  front = await listen((_req, res) => {
    const target = Math.random() < share() ? world.canary : world.stable;
    res.writeHead(307, { location: `${target.url}/predict` });
    res.end();
  });
});

afterAll(async () => {
  await front?.close();
  await ld.stop();
  await unleash.stop();
  await world?.close();
});

function judged(track: string) {
  return {
    'prometheus-url': world.prometheus.url,
    'stable-selector': `track="stable-${track}"`,
    'canary-selector': `track="canary-${track}"`,
    ...FAST,
    steps: '10%, 25%, 50%, 100%',
  };
}

/** Runs a rollout with the front end following the flag, under 150 requests a second. */
async function rollout(track: string, inputs: Record<string, string>, canaryLatencyMs = 10) {
  await world.reset(track);
  world.canary.setLatency(canaryLatencyMs);
  const load = startLoad(`${front.url}/predict`, { rps: 150, maxMs: 60_000 });
  try {
    return await runStep({ action: 'canary-deploy', inputs: { ...judged(track), ...inputs } });
  } finally {
    await load.stop();
  }
}

function windows(report: string | undefined): Array<[number, string]> {
  return (JSON.parse(report!) as { windows: Array<{ weight: number; verdict: string }> }).windows.map((w) => [
    w.weight,
    w.verdict,
  ]);
}

describe('canary-deploy with router launchdarkly (LaunchDarkly API double, real Prometheus)', () => {
  const ldInputs = (flag: string, token = LD_TOKEN) => ({
    router: 'launchdarkly',
    'flag-api-url': ld.url,
    'flag-api-token': token,
    'flag-project': 'ml',
    'flag-environment': 'production',
    'flag-key': flag,
    'stable-variation': 'sentiment-v1',
    'canary-variation': 'sentiment-v2',
  });
  const served = (flag: string) => () => ld.served('ml', flag, 'production', 1) / 100_000;
  const history = (flag: string) =>
    (ld.history.get(`ml/${flag}/production`) ?? []).map((f) =>
      f.rollout
        ? f.rollout.variations.find((v) => v.variation === 1)?.weight
        : f.variation === 1
          ? 100_000
          : 0,
    );

  beforeAll(() => {
    for (const flag of ['ld-healthy', 'ld-slow', 'ld-killed', 'ld-errors'])
      ld.addFlag(
        'ml',
        flag,
        [
          { name: 'sentiment-v1', value: 'v1' },
          { name: 'sentiment-v2', value: 'v2' },
        ],
        ['production', 'staging'],
      );
  });

  it('promotes a healthy canary 10 → 25 → 50 → 100 %, each weight a semantic patch of the default rule', async () => {
    share = served('ld-healthy');
    const result = await rollout('ld-healthy', ldInputs('ld-healthy'));
    expect(result.error).toBeUndefined();
    expect(result.outputs.outcome).toBe('promoted');
    expect(windows(result.outputs.report)).toEqual([
      [10, 'pass'],
      [25, 'pass'],
      [50, 'pass'],
    ]);
    expect(history('ld-healthy')).toEqual([10_000, 25_000, 50_000, 100_000]);
    expect(ld.served('ml', 'ld-healthy', 'staging', 1)).toBe(0);
    expect(world.canary.requests()).toBeGreaterThan(0);
    expect(result.post?.stdout).toContain('nothing to restore');
  });

  it('rolls a slower canary back to 100 % stable at the first step', async () => {
    share = served('ld-slow');
    const result = await rollout('ld-slow', ldInputs('ld-slow'), 40);
    expect(result.outputs.outcome).toBe('rolled-back');
    expect(result.outputs['failed-step']).toBe('1');
    expect(result.exitCode).toBe(1);
    expect(history('ld-slow')).toEqual([10_000, 0]);
    expect(ld.flag('ml', 'ld-slow')!.environments.production!.fallthrough).toEqual({ variation: 0 });
  });

  it('the post step puts the flag back to 100 % stable when the action process is killed mid-rollout', async () => {
    share = served('ld-killed');
    await world.reset('ld-killed');
    const load = startLoad(`${front.url}/predict`, { rps: 150, maxMs: 60_000 });
    try {
      const result = await runStep({
        action: 'canary-deploy',
        inputs: { ...judged('ld-killed'), ...ldInputs('ld-killed') },
        killWhenStdout: 'LaunchDarkly ld-killed: canary 25%',
      });
      expect(result.signal).toBe('SIGKILL');
      expect(result.post?.exitCode).toBe(0);
      expect(result.post?.stdout).toContain('100% stable restored by the post step');
      expect(history('ld-killed')).toEqual([10_000, 25_000, 0]);
      expect(ld.flag('ml', 'ld-killed')!.environments.production!.fallthrough).toEqual({ variation: 0 });
    } finally {
      await load.stop();
    }
  });

  it('a 401 names flag-api-token, never the token', async () => {
    const secret = 'api-0123-not-a-real-token';
    const result = await runStep({
      action: 'canary-deploy',
      inputs: { ...ldInputs('ld-errors', secret), action: 'promote' },
    });
    expect(result.exitCode).toBe(1);
    expect(result.error).toBe(
      'flag-api-token: LaunchDarkly refused the token (401: unauthorized: Invalid access token); give a valid API token for LaunchDarkly',
    );
    expect(result.stdout).toContain(`::add-mask::${secret}`);
    expect(result.stdout.replace(/::add-mask::.*/g, '')).not.toContain(secret);
    expect(ld.served('ml', 'ld-errors', 'production', 1)).toBe(0);
  });

  it('waits out a 429 until X-Ratelimit-Reset and a 409 conflict, then promotes', async () => {
    ld.rateLimited = 1;
    ld.conflicts = 1;
    const result = await runStep({
      action: 'canary-deploy',
      inputs: { ...ldInputs('ld-errors'), action: 'promote' },
    });
    expect(result.error).toBeUndefined();
    expect(result.stdout).toMatch(
      /GET .*\/api\/v2\/flags\/ml\/ld-errors\?env=production answered 429; retry 1\/4/,
    );
    expect(result.stdout).toMatch(/PATCH .*\/api\/v2\/flags\/ml\/ld-errors answered 409; retry 1\/4/);
    expect(ld.served('ml', 'ld-errors', 'production', 1)).toBe(100_000);
  });

  it('an unknown flag is a one-line error naming the inputs to check', async () => {
    const result = await runStep({
      action: 'canary-deploy',
      inputs: { ...ldInputs('no-such-flag'), action: 'abort' },
    });
    expect(result.exitCode).toBe(1);
    expect(result.error).toBe(
      "LaunchDarkly: flag 'no-such-flag' in project 'ml' was not found (404: not_found: Unknown resource); check flag-key, flag-project and flag-environment",
    );
  });
});

describe('canary-deploy with router unleash (Unleash admin API double, real Prometheus)', () => {
  const unleashInputs = (flag: string, token = UNLEASH_TOKEN) => ({
    router: 'unleash',
    'flag-api-url': unleash.url,
    'flag-api-token': token,
    'flag-project': 'ml',
    'flag-environment': 'production',
    'flag-key': flag,
  });
  const rolloutOf = (flag: string) => () => {
    const env = unleash.environment('ml', flag, 'production');
    const strategy = env.strategies.find((s) => s.name === 'flexibleRollout');
    return env.enabled && strategy ? Number(strategy.parameters.rollout) / 100 : 0;
  };
  const history = (flag: string) =>
    (unleash.history.get(`ml/${flag}/production`) ?? []).map((s) => s.parameters.rollout);

  beforeAll(() => {
    for (const flag of ['un-healthy', 'un-slow', 'un-errors'])
      unleash.addFeature('ml', flag, { production: false });
  });

  it('promotes a healthy canary 10 → 25 → 50 → 100 % through one flexibleRollout strategy', async () => {
    share = rolloutOf('un-healthy');
    const result = await rollout('un-healthy', unleashInputs('un-healthy'));
    expect(result.error).toBeUndefined();
    expect(result.outputs.outcome).toBe('promoted');
    expect(windows(result.outputs.report).map(([w]) => w)).toEqual([10, 25, 50]);
    expect(history('un-healthy')).toEqual(['10', '25', '50', '100']);
    const env = unleash.environment('ml', 'un-healthy', 'production');
    expect(env.enabled).toBe(true);
    expect(env.strategies).toHaveLength(1);
  });

  it('rolls a slower canary back to a 0 % rollout at the first step', async () => {
    share = rolloutOf('un-slow');
    const result = await rollout('un-slow', unleashInputs('un-slow'), 40);
    expect(result.outputs.outcome).toBe('rolled-back');
    expect(result.outputs['failed-step']).toBe('1');
    expect(history('un-slow')).toEqual(['10', '0']);
  });

  it('a 401 names flag-api-token; a 429 is retried after Retry-After; an unknown flag is one line', async () => {
    const secret = 'user:0123-not-a-real-token';
    const refused = await runStep({
      action: 'canary-deploy',
      inputs: { ...unleashInputs('un-errors', secret), action: 'promote' },
    });
    expect(refused.error).toMatch(
      /^flag-api-token: Unleash refused the token \(401: AuthenticationRequired: /,
    );
    expect(refused.stdout.replace(/::add-mask::.*/g, '')).not.toContain(secret);
    unleash.rateLimited = 1;
    const limited = await runStep({
      action: 'canary-deploy',
      inputs: { ...unleashInputs('un-errors'), action: 'promote' },
    });
    expect(limited.error).toBeUndefined();
    expect(limited.stdout).toMatch(/answered 429; retry 1\/4 in 1000 ms/);
    expect(history('un-errors')).toEqual(['100']);
    const unknown = await runStep({
      action: 'canary-deploy',
      inputs: { ...unleashInputs('no-such-flag'), action: 'abort' },
    });
    expect(unknown.error).toBe(
      "Unleash: feature flag 'no-such-flag' in project 'ml' was not found (404: NotFoundError: Could not find feature flag with name no-such-flag); check flag-key, flag-project and flag-environment",
    );
  });
});

describe('canary-deploy with router flagd (flag file, flagd schema, flagd-core, real Prometheus)', () => {
  function flagFile(): string {
    const file = join(mkdtempSync(join(tmpdir(), 'flagd-e2e-')), 'flags.flagd.json');
    writeFileSync(
      file,
      `${JSON.stringify(
        {
          $schema: 'https://flagd.dev/schema/v0/flags.json',
          flags: {
            'sentiment-model': {
              state: 'ENABLED',
              variants: { v1: 'sentiment-v1', v2: 'sentiment-v2' },
              defaultVariant: 'v1',
            },
          },
        },
        null,
        2,
      )}\n`,
    );
    return file;
  }

  /** Evaluates the flag as flagd would, reloading the file when it changes; records each distinct file. */
  function follow(file: string, seen: unknown[]) {
    const core = new FlagdCore();
    let loaded = -1;
    let user = 0;
    return () => {
      const mtime = statSync(file).mtimeMs;
      if (mtime !== loaded) {
        const text = readFileSync(file, 'utf8');
        core.setConfigurations(text);
        seen.push(JSON.parse(text));
        loaded = mtime;
      }
      const r = core.resolveStringEvaluation('sentiment-model', 'sentiment-v1', {
        targetingKey: `user-${user++}`,
      });
      return r.value === 'sentiment-v2' ? 1 : 0;
    };
  }

  const flagdInputs = (file: string) => ({
    router: 'flagd',
    'flag-file': file,
    'allow-flag-file-outside-workspace': 'true',
    'flag-key': 'sentiment-model',
    'stable-variation': 'v1',
    'canary-variation': 'v2',
  });

  const fractions = (seen: unknown[]) =>
    seen.slice(1).map((doc) => {
      const flag = (
        doc as {
          flags: Record<string, { defaultVariant: string; targeting?: { fractional: [string, number][] } }>;
        }
      ).flags['sentiment-model']!;
      return flag.targeting ? flag.targeting.fractional[1]![1] / 10 : flag.defaultVariant === 'v2' ? 100 : 0;
    });

  it('promotes a healthy canary 10 → 25 → 50 → 100 %, every file written valid against flagd schema v0.2.15', async () => {
    const file = flagFile();
    const seen: unknown[] = [];
    share = follow(file, seen);
    const result = await rollout('flagd-healthy', flagdInputs(file));
    expect(result.error).toBeUndefined();
    expect(result.outputs.outcome).toBe('promoted');
    expect(fractions(seen)).toEqual([10, 25, 50, 100]);
    for (const doc of seen) expect(validateFlags(doc), ajv.errorsText(validateFlags.errors)).toBe(true);
  });

  it('rolls a slower canary back to the stable default variant and runs flag-sync-command after each write', async () => {
    const file = flagFile();
    const seen: unknown[] = [];
    share = follow(file, seen);
    const synced = join(mkdtempSync(join(tmpdir(), 'flagd-sync-')), 'weights.txt');
    const result = await rollout(
      'flagd-slow',
      { ...flagdInputs(file), 'flag-sync-command': `echo "$1 $(basename "$FLAG_FILE")" >> ${synced}` },
      40,
    );
    expect(result.outputs.outcome).toBe('rolled-back');
    expect(fractions(seen)).toEqual([10, 0]);
    expect(readFileSync(synced, 'utf8')).toBe('10 flags.flagd.json\n0 flags.flagd.json\n');
    const last = JSON.parse(readFileSync(file, 'utf8'));
    expect(validateFlags(last)).toBe(true);
    expect(last.flags['sentiment-model']).toEqual({
      state: 'ENABLED',
      variants: { v1: 'sentiment-v1', v2: 'sentiment-v2' },
      defaultVariant: 'v1',
    });
  });

  it('an unknown flag is a one-line error naming flag-key', async () => {
    const file = flagFile();
    const result = await runStep({
      action: 'canary-deploy',
      inputs: { ...flagdInputs(file), 'flag-key': 'nope', action: 'abort' },
    });
    expect(result.error).toBe(`flag-key: ${file} has no flag 'nope'; its flags are sentiment-model`);
  });
});

describe('canary-deploy flag router inputs', () => {
  it('asks for the inputs each flag router needs, naming them', async () => {
    const ld = await runStep({
      action: 'canary-deploy',
      inputs: { router: 'launchdarkly', action: 'abort' },
    });
    expect(ld.exitCode).toBe(1);
    expect(ld.error).toContain("Input 'flag-key': required with router launchdarkly");
    const unleash = await runStep({
      action: 'canary-deploy',
      inputs: {
        router: 'unleash',
        action: 'abort',
        'flag-key': 'f',
        'flag-environment': 'production',
        'flag-api-url': 'http://127.0.0.1:9',
        'flag-api-token': 'x',
        'canary-variation': 'v2',
      },
    });
    expect(unleash.error).toBe("Input 'stable-variation': required with router unleash and canary-variation");
    const flagd = await runStep({
      action: 'canary-deploy',
      inputs: {
        router: 'flagd',
        action: 'abort',
        'flag-key': 'f',
        'stable-variation': 'a',
        'canary-variation': 'b',
      },
    });
    expect(flagd.error).toBe("Input 'flag-file': required with router flagd");
    const outside = await runStep({
      action: 'canary-deploy',
      inputs: {
        router: 'flagd',
        action: 'abort',
        'flag-key': 'f',
        'stable-variation': 'a',
        'canary-variation': 'b',
        'flag-file': '/etc/flagd/flags.flagd.json',
      },
    });
    expect(outside.error).toMatch(
      /^Input 'flag-file': '\/etc\/flagd\/flags\.flagd\.json' is outside the workspace .*; give a path inside the workspace, or set 'allow-flag-file-outside-workspace: true' to allow paths outside it/,
    );
  });
});
