import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpClient } from '@mlops-actions/kit';
import { FlagdCore } from '@openfeature/flagd-core';
import Ajv from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LaunchDarklyDouble } from '../../../test/doubles/launchdarkly';
import { UnleashDouble } from '../../../test/doubles/unleash';
import { FlagdRouter, flagdCanaryShare } from '../src/routers/flagd';
import { splitWeights } from '../src/routers/flags';
import {
  LaunchDarklyRouter,
  launchDarklyHttpOptions,
  launchDarklyRetryDelay,
} from '../src/routers/launchdarkly';
import { UnleashRouter } from '../src/routers/unleash';

const LD_TOKEN = 'api-test-writer-0000';
const UNLEASH_TOKEN = '*:*.unleash-test-admin';
const ld = new LaunchDarklyDouble();
const unleash = new UnleashDouble();
const fast = { sleep: async () => undefined, retries: 3 };

beforeAll(async () => {
  await ld.start();
  await unleash.start();
});

afterAll(async () => {
  await ld.stop();
  await unleash.stop();
});

function ldRouter(flag: string, token = LD_TOKEN) {
  return new LaunchDarklyRouter({
    http: new HttpClient({ ...launchDarklyHttpOptions(ld.url, token), ...fast }),
    project: 'ml',
    environment: 'production',
    flag,
    stableVariation: 'model-v1',
    canaryVariation: 'model-v2',
  });
}

describe('LaunchDarkly router (LaunchDarkly API double)', () => {
  it('sends a semantic patch updateFallthroughVariationOrRollout with weights in thousandths', async () => {
    const flag = ld.addFlag(
      'ml',
      'model-version',
      [
        { name: 'model-v1', value: 'v1' },
        { name: 'model-v2', value: 'v2' },
      ],
      ['production', 'staging'],
    );
    const [v1, v2] = flag.variations.map((v) => v._id);
    const router = ldRouter('model-version');
    ld.requests.length = 0;
    await router.setWeight(12.5);
    const patch = ld.requests.find((r) => r.method === 'PATCH')!;
    expect(patch.path).toBe('/api/v2/flags/ml/model-version');
    expect(patch.contentType).toBe('application/json; domain-model=launchdarkly.semanticpatch');
    expect(patch.authorization).toBe(LD_TOKEN);
    expect(patch.body).toEqual({
      environmentKey: 'production',
      comment: 'canary-deploy: canary 12.5%, stable 87.5%',
      instructions: [
        { kind: 'updateFallthroughVariationOrRollout', rolloutWeights: { [v1!]: 87500, [v2!]: 12500 } },
      ],
    });
    expect(ld.requests[0]).toMatchObject({ method: 'GET', query: { env: 'production' } });
    expect(await router.current()).toBe(12.5);
    await router.promote();
    expect(ld.requests.at(-2)!.body).toMatchObject({
      instructions: [{ kind: 'updateFallthroughVariationOrRollout', variationId: v2 }],
    });
    expect(await router.current()).toBe(100);
    await router.rollback();
    expect(ld.served('ml', 'model-version', 'production', 0)).toBe(100_000);
    expect(ld.served('ml', 'model-version', 'staging', 0)).toBe(100_000);
  });

  it('names boolean variations by value and refuses a flag that is off', async () => {
    ld.addFlag('ml', 'use-v2', [{ value: false }, { value: true }], ['production']);
    const router = new LaunchDarklyRouter({
      http: new HttpClient({ ...launchDarklyHttpOptions(ld.url, LD_TOKEN), ...fast }),
      project: 'ml',
      environment: 'production',
      flag: 'use-v2',
      stableVariation: 'false',
      canaryVariation: 'true',
    });
    await router.setWeight(10);
    expect(ld.served('ml', 'use-v2', 'production', 1)).toBe(10_000);
    ld.flag('ml', 'use-v2')!.environments.production!.on = false;
    await expect(router.setWeight(25)).rejects.toThrow(/is off in 'production'/);
    await router.rollback();
    expect(ld.served('ml', 'use-v2', 'production', 1)).toBe(0);
  });

  it('retries 409 conflicts and 429 until X-Ratelimit-Reset, and names the token input on 401 and 403', async () => {
    ld.addFlag(
      'ml',
      'busy',
      [
        { name: 'model-v1', value: 1 },
        { name: 'model-v2', value: 2 },
      ],
      ['production'],
    );
    ld.conflicts = 1;
    ld.rateLimited = 1;
    await ldRouter('busy').setWeight(50);
    expect(ld.served('ml', 'busy', 'production', 1)).toBe(50_000);
    await expect(ldRouter('busy', 'api-wrong').setWeight(10)).rejects.toThrow(
      'flag-api-token: LaunchDarkly refused the token (401: unauthorized: Invalid access token); give a valid API token for LaunchDarkly',
    );
    await expect(ldRouter('busy', 'api-test-reader-0000').setWeight(10)).rejects.toThrow(
      /^flag-api-token: LaunchDarkly denied flag 'busy' in project 'ml' \(403: forbidden: /,
    );
    await expect(ldRouter('nope').setWeight(10)).rejects.toThrow(
      "LaunchDarkly: flag 'nope' in project 'ml' was not found (404: not_found: Unknown resource); check flag-key, flag-project and flag-environment",
    );
  });

  it('reads X-Ratelimit-Reset as epoch milliseconds', () => {
    const response = new Response(null, { status: 429, headers: { 'x-ratelimit-reset': '1700000002500' } });
    expect(launchDarklyRetryDelay(response, 1_700_000_000_000)).toBe(2500);
    expect(launchDarklyRetryDelay(new Response(null, { status: 429 }), 0)).toBeUndefined();
  });
});

function unleashRouter(flag: string, variants?: { stable: string; canary: string }, token = UNLEASH_TOKEN) {
  return new UnleashRouter({
    http: new HttpClient({ baseUrl: unleash.url, headers: { authorization: token }, ...fast }),
    project: 'ml',
    environment: 'production',
    flag,
    variants,
  });
}

describe('Unleash router (Unleash admin API double)', () => {
  it('creates a flexibleRollout strategy, turns the environment on, then PUTs the rollout', async () => {
    unleash.addFeature('ml', 'new-model', { production: false, development: true });
    const router = unleashRouter('new-model');
    await router.setWeight(10);
    const created = unleash.requests.find((r) => r.method === 'POST' && r.path.endsWith('/strategies'))!;
    expect(created.path).toBe('/api/admin/projects/ml/features/new-model/environments/production/strategies');
    expect(created.authorization).toBe(UNLEASH_TOKEN);
    expect(created.body).toEqual({
      name: 'flexibleRollout',
      title: 'canary-deploy',
      disabled: false,
      constraints: [],
      parameters: { rollout: '10', stickiness: 'default', groupId: 'new-model' },
      segments: [],
    });
    expect(
      unleash.requests.some((r) => r.method === 'POST' && r.path.endsWith('/environments/production/on')),
    ).toBe(true);
    const id = unleash.environment('ml', 'new-model', 'production').strategies[0]!.id;
    await router.setWeight(25);
    const put = unleash.requests.findLast((r) => r.method === 'PUT')!;
    expect(put.path).toBe(
      `/api/admin/projects/ml/features/new-model/environments/production/strategies/${id}`,
    );
    expect((put.body as { parameters: unknown }).parameters).toEqual({
      rollout: '25',
      stickiness: 'default',
      groupId: 'new-model',
    });
    expect(await router.current()).toBe(25);
    await router.rollback();
    expect(await router.current()).toBe(0);
  });

  it('keeps constraints and stickiness of an existing strategy and splits stable and canary variants in tenths', async () => {
    unleash.addFeature('ml', 'model-variant', { production: true });
    const constraints = [
      { contextName: 'region', operator: 'IN', values: ['eu'], inverted: false, caseInsensitive: false },
    ];
    unleash.addStrategy('ml', 'model-variant', 'production', {
      title: 'EU users',
      constraints,
      parameters: { rollout: '100', stickiness: 'userId', groupId: 'exp-7' },
    });
    const router = unleashRouter('model-variant', { stable: 'v1', canary: 'v2' });
    await router.setWeight(12.5);
    const put = unleash.requests.findLast((r) => r.method === 'PUT')!;
    expect(put.body).toEqual({
      name: 'flexibleRollout',
      title: 'EU users',
      disabled: false,
      sortOrder: 0,
      constraints,
      parameters: { rollout: '100', stickiness: 'userId', groupId: 'exp-7' },
      segments: [],
      variants: [
        { name: 'v1', weight: 875, weightType: 'fix', stickiness: 'userId' },
        { name: 'v2', weight: 125, weightType: 'fix', stickiness: 'userId' },
      ],
    });
    expect(await router.current()).toBe(12.5);
  });

  it('retries 429, names the token input on 401 and 403, and says which flag is unknown', async () => {
    unleash.addFeature('ml', 'limited', { production: true });
    unleash.rateLimited = 1;
    await unleashRouter('limited').setWeight(50);
    expect(unleash.environment('ml', 'limited', 'production').strategies[0]!.parameters.rollout).toBe('50');
    await expect(unleashRouter('limited', undefined, 'bad').setWeight(10)).rejects.toThrow(
      /^flag-api-token: Unleash refused the token \(401: AuthenticationRequired: You must log in/,
    );
    await expect(unleashRouter('limited', undefined, 'user:test-viewer').setWeight(10)).rejects.toThrow(
      /^flag-api-token: Unleash denied feature flag 'limited' in project 'ml' \(403: NoAccessError: /,
    );
    await expect(unleashRouter('missing').setWeight(10)).rejects.toThrow(
      "Unleash: feature flag 'missing' in project 'ml' was not found (404: NotFoundError: Could not find feature flag with name missing); check flag-key, flag-project and flag-environment",
    );
  });
});

const schemaDir = join(import.meta.dirname, '../../../test/canary/flagd-schema');
const ajv = new Ajv({ strict: false });
ajv.addSchema(JSON.parse(readFileSync(join(schemaDir, 'targeting.json'), 'utf8')));
const validateFlags = ajv.compile(JSON.parse(readFileSync(join(schemaDir, 'flags.json'), 'utf8')));

function flagdFile(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'flagd-')), 'flags.flagd.json');
  writeFileSync(
    file,
    JSON.stringify({
      $schema: 'https://flagd.dev/schema/v0/flags.json',
      flags: {
        'model-version': {
          state: 'ENABLED',
          variants: { v1: 'sentiment-v1', v2: 'sentiment-v2' },
          defaultVariant: 'v1',
          metadata: { owner: 'ml-team' },
        },
        'other-flag': { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off' },
      },
    }),
  );
  return file;
}

/** The share of 4000 targeting keys that flagd's own evaluator (flagd-core) resolves to v2. */
function canaryShareByFlagd(file: string): number {
  const core = new FlagdCore();
  core.setConfigurations(readFileSync(file, 'utf8'));
  let canary = 0;
  for (let i = 0; i < 4000; i++) {
    const r = core.resolveStringEvaluation('model-version', 'fallback', { targetingKey: `user-${i}` });
    if (r.value === 'sentiment-v2') canary++;
  }
  return canary / 4000;
}

describe('flagd router (flag file, published schema, flagd-core evaluator)', () => {
  it('writes a fractional rule valid against flagd schema v0.2.15 that flagd-core serves at the weight', async () => {
    const file = flagdFile();
    const router = new FlagdRouter({
      file,
      flag: 'model-version',
      stableVariation: 'v1',
      canaryVariation: 'v2',
    });
    await router.setWeight(25);
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    expect(validateFlags(doc), ajv.errorsText(validateFlags.errors)).toBe(true);
    expect(doc.flags['model-version']).toEqual({
      state: 'ENABLED',
      variants: { v1: 'sentiment-v1', v2: 'sentiment-v2' },
      defaultVariant: 'v1',
      metadata: { owner: 'ml-team' },
      targeting: {
        fractional: [
          ['v1', 750],
          ['v2', 250],
        ],
      },
    });
    expect(doc.flags['other-flag'].defaultVariant).toBe('off');
    expect(canaryShareByFlagd(file)).toBeGreaterThan(0.22);
    expect(canaryShareByFlagd(file)).toBeLessThan(0.28);
    expect(await router.current()).toBe(25);
    await router.promote();
    expect(validateFlags(JSON.parse(readFileSync(file, 'utf8')))).toBe(true);
    expect(canaryShareByFlagd(file)).toBe(1);
    await router.rollback();
    const rolledBack = JSON.parse(readFileSync(file, 'utf8'));
    expect(validateFlags(rolledBack)).toBe(true);
    expect(rolledBack.flags['model-version'].targeting).toBeUndefined();
    expect(canaryShareByFlagd(file)).toBe(0);
  });

  it('the schema refuses what flagd refuses: a fractional weight that is not an integer', () => {
    const doc = {
      flags: {
        f: {
          state: 'ENABLED',
          variants: { a: 1, b: 2 },
          defaultVariant: 'a',
          targeting: {
            fractional: [
              ['a', 12.5],
              ['b', 87.5],
            ],
          },
        },
      },
    };
    expect(validateFlags(doc)).toBe(false);
  });

  it('names the input when the flag or a variant is missing', async () => {
    const file = flagdFile();
    await expect(
      new FlagdRouter({ file, flag: 'nope', stableVariation: 'v1', canaryVariation: 'v2' }).setWeight(10),
    ).rejects.toThrow(`flag-key: ${file} has no flag 'nope'; its flags are model-version, other-flag`);
    await expect(
      new FlagdRouter({
        file,
        flag: 'model-version',
        stableVariation: 'v1',
        canaryVariation: 'v3',
      }).setWeight(10),
    ).rejects.toThrow(
      `canary-variation: flag 'model-version' in ${file} has no variant 'v3'; its variants are v1, v2`,
    );
  });
});

describe('shares', () => {
  it('splits a percentage into integer weights that sum to the total', () => {
    expect(splitWeights(10, 100_000)).toEqual({ stable: 90_000, canary: 10_000 });
    expect(splitWeights(33.3333, 1000)).toEqual({ stable: 667, canary: 333 });
    expect(splitWeights(0.04, 1000)).toEqual({ stable: 1000, canary: 0 });
    expect(splitWeights(100, 1000)).toEqual({ stable: 0, canary: 1000 });
  });

  it('cannot read a share from targeting a person wrote, and reads a disabled flag as 0', () => {
    const flag = { state: 'ENABLED', variants: { a: 1, b: 2 }, defaultVariant: 'a' };
    expect(
      flagdCanaryShare({ ...flag, targeting: { if: [{ '==': [{ var: 'tier' }, 'gold'] }, 'b', null] } }, 'b'),
    ).toBeUndefined();
    expect(flagdCanaryShare({ ...flag, defaultVariant: 'b', state: 'DISABLED' }, 'b')).toBe(0);
    expect(
      flagdCanaryShare(
        {
          ...flag,
          targeting: {
            fractional: [
              ['a', 3],
              ['b', 1],
            ],
          },
        },
        'b',
      ),
    ).toBe(25);
  });
});
