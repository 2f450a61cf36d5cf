import { HttpClient } from '@mlops-actions/kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, readBody, sendJson } from '../../../test/doubles/http-server';
import { grafanaAnnotator } from '../src/grafana';
import { runPhases } from '../src/phases';
import type { Router } from '../src/routers/router';

const TOKEN = 'glsa_test_token';
const annotations: Array<Record<string, unknown>> = [];
let grafana: Awaited<ReturnType<typeof listen>>;

beforeAll(async () => {
  // Grafana's HTTP API for annotations as published: POST /api/annotations with a JSON body needing
  // `text`; 401 {"message":"Unauthorized"} without a valid token; 200 {"message":"Annotation added","id":n}.
  grafana = await listen(async (req, res) => {
    if (req.method !== 'POST' || req.url !== '/api/annotations') {
      sendJson(res, 404, { message: 'Not found' });
      return;
    }
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      sendJson(res, 401, { message: 'Unauthorized' });
      return;
    }
    const body = JSON.parse((await readBody(req)).toString('utf8')) as Record<string, unknown>;
    if (typeof body.text !== 'string' || !req.headers['content-type']?.startsWith('application/json')) {
      sendJson(res, 400, { message: 'bad request data' });
      return;
    }
    annotations.push(body);
    sendJson(res, 200, { message: 'Annotation added', id: annotations.length });
  });
});

afterAll(async () => {
  await grafana?.close();
});

class MemoryRouter implements Router {
  readonly kind = 'memory';
  weight = 0;
  describe() {
    return 'memory';
  }
  async setWeight(w: number) {
    this.weight = w;
  }
  async current() {
    return this.weight;
  }
  async rollback() {
    this.weight = 0;
  }
  async promote() {
    this.weight = 100;
  }
}

function rollout(token: string, warnings: string[]) {
  const router = new MemoryRouter();
  let window = 0;
  const promise = runPhases(
    {
      steps: [10, 50, 100],
      intervalMs: 1,
      count: 1,
      initialDelayMs: 0,
      failureLimit: 0,
      inconclusiveLimit: 0,
      consecutiveErrorLimit: 0,
    },
    {
      router,
      log: () => undefined,
      warn: (line) => warnings.push(line),
      signal: new AbortController().signal,
      onWeight: () => undefined,
      onEvent: grafanaAnnotator({
        http: new HttpClient({
          name: 'Grafana',
          baseUrl: grafana.url,
          headers: { authorization: `Bearer ${token}` },
          retries: 0,
        }),
        dashboardUid: 'canary-board',
        tags: ['canary-deploy', 'sentiment'],
        warn: (line) => warnings.push(line),
      }),
      sleep: async () => undefined,
      evaluate: async () => {
        window++;
        const verdict = window === 1 ? 'pass' : 'fail';
        return { verdict, metrics: [], classes: {}, critical: false, reason: `window ${window}`, hints: [] };
      },
    },
  );
  return { router, promise };
}

describe('Grafana annotations (double of the published HTTP API)', () => {
  it('annotates every step, verdict and the rollback on the dashboard, with tags', async () => {
    annotations.length = 0;
    const warnings: string[] = [];
    const { router, promise } = rollout(TOKEN, warnings);
    const result = await promise;
    expect(result.outcome).toBe('rolled-back');
    expect(router.weight).toBe(0);
    expect(warnings.filter((w) => w.startsWith('Grafana'))).toEqual([]);
    expect(annotations.map((a) => a.text)).toEqual([
      'canary step 1: 10% of traffic',
      'canary window 1 at 10%: pass (window 1)',
      'canary step 2: 50% of traffic',
      'canary window 1 at 50%: fail (window 2)',
      'canary rolled back to 0%: 1 failed window(s) (failure-limit 0); last: window 2',
    ]);
    expect(annotations.map((a) => (a.tags as string[]).at(-1))).toEqual([
      'canary-step',
      'canary-verdict',
      'canary-step',
      'canary-verdict',
      'canary-rollback',
    ]);
    expect(annotations.every((a) => a.dashboardUID === 'canary-board' && typeof a.time === 'number')).toBe(
      true,
    );
    expect((annotations[0]!.tags as string[]).slice(0, 2)).toEqual(['canary-deploy', 'sentiment']);
  });

  it('warns and still rolls back when Grafana refuses the token', async () => {
    annotations.length = 0;
    const warnings: string[] = [];
    const { router, promise } = rollout('wrong', warnings);
    const result = await promise;
    expect(result.outcome).toBe('rolled-back');
    expect(router.weight).toBe(0);
    expect(annotations).toEqual([]);
    expect(warnings.filter((w) => w.startsWith('Grafana annotation not written'))).toHaveLength(5);
    expect(warnings.find((w) => w.startsWith('Grafana annotation not written (rollback)'))).toContain('401');
  });
});
