/**
 * Story 2, canary: the v1 and v2 models trained in story 1 served by the example's MLflow scoring server
 * (Debian's python3 and scikit-learn) behind a local nginx, scraped by a local Prometheus, under bounded
 * generated traffic of real rows. canary-deploy promotes a healthy v2 through 10 → 25 → 50 → 100 %, then
 * rolls back a deliberately slow v3 at 10 %, and the demo checks that traffic went back to stable.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NginxRouter, renderNginxInclude } from '@mlops-actions/rollout';
import { runStep } from '../../test/harness';
import { startLoad } from '../../test/servers/model-server';
import { NGINX, startNginx } from '../../test/servers/nginx';
import { freePort, type ManagedProcess, startProcess, waitFor } from '../../test/servers/process';
import { startPrometheus } from '../../test/servers/prometheus';
import { type DemoContext, recorded } from './context';
import type { Story1Result } from './story1';

export const STORY = 'Story 2: canary rollout';

/** Short windows so the rollout takes seconds; the judge's tests are the ones of the canary e2e tests. */
const CANARY = {
  interval: '5s',
  'initial-delay': '1s',
  count: '1',
  'min-samples': '10',
  alpha: '0.001',
  'inconclusive-limit': '0',
  metrics: `- name: error-rate
  test: two-proportion
  max: 0.05
  critical: true
- name: latency
  test: mann-whitney
  min-effect: 0.1
- name: p99-latency
  max: 1`,
  comment: 'true',
};

interface Served {
  track: string;
  address: string;
  process: ManagedProcess;
}

async function serve(ctx: DemoContext, modelDir: string, track: string, delayMs = 0): Promise<Served> {
  const port = await freePort();
  const process = startProcess('/usr/bin/python3', [
    join(ctx.root, 'examples', 'serve.py'),
    modelDir,
    '--port',
    String(port),
    '--track',
    track,
    '--delay-ms',
    String(delayMs),
  ]);
  const address = `127.0.0.1:${port}`;
  await waitFor(
    async () => (await fetch(`http://${address}/ping`).catch(() => undefined))?.ok === true,
    30_000,
    `the ${track} model server (${process.output()})`,
  );
  return { track, address, process };
}

/** Feature rows and labels of the example data, sent as MLflow `dataframe_split` requests. */
function sampleRows(workspace: string): { columns: string[]; rows: number[][]; labels: number[] } {
  const [header, ...lines] = readFileSync(join(workspace, 'data', 'breast_cancer.csv'), 'utf8')
    .trim()
    .split('\n');
  const names = header!.split(',');
  const target = names.indexOf('target');
  const parsed = lines.map((l) => l.split(',').map(Number));
  return {
    columns: names.filter((_, i) => i !== target),
    rows: parsed.map((r) => r.filter((_, i) => i !== target)),
    labels: parsed.map((r) => r[target]!),
  };
}

async function predict(
  url: string,
  columns: string[],
  rows: number[][],
): Promise<{ track: string; predictions: number[] }> {
  const response = await fetch(`${url}/invocations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ dataframe_split: { columns, data: rows } }),
  });
  if (!response.ok)
    throw new Error(`${url}/invocations answered ${response.status}: ${await response.text()}`);
  const body = (await response.json()) as { predictions: number[] };
  return { track: response.headers.get('x-track') ?? '?', predictions: body.predictions };
}

export async function story2(ctx: DemoContext, models: Story1Result): Promise<void> {
  if (!ctx.built.has('canary-deploy')) {
    ctx.record.skip(STORY, 'canary-deploy is not built (no dist/canary-deploy/index.js)');
    return;
  }
  const v1Dir = models.v1.modelDir;
  const v2Dir = models.v2.modelDir;
  if (!v1Dir || !v2Dir) throw new Error('story 1 trained no model to serve');
  const started: Array<{ stop(): Promise<void> }> = [];
  try {
    const [v1, v2, v3] = await Promise.all([
      serve(ctx, v1Dir, 'v1'),
      serve(ctx, v2Dir, 'v2'),
      // v3: the v2 model with 40 ms more per prediction, standing in for a heavier model.
      serve(ctx, v2Dir, 'v3', 40),
    ]);
    started.push(v1.process, v2.process, v3.process);
    const prometheus = await startPrometheus([v1.address, v2.address, v3.address]);
    started.push({ stop: () => prometheus.close() });
    let include = '';
    const routing = { mode: 'upstream' as const, name: 'model', stable: v1.address, canary: v2.address };
    const nginx = await startNginx((port, prefix) => {
      include = join(prefix, 'canary.conf');
      writeFileSync(include, renderNginxInclude(routing, 0));
      return `include ${include};\nserver {\n  listen 127.0.0.1:${port};\n  location / { proxy_pass http://model; }\n}`;
    });
    started.push(nginx);
    await waitFor(
      async () => {
        const r = (await (await fetch(`${prometheus.url}/api/v1/query?query=sum(up)`)).json()) as {
          data: { result: Array<{ value: [number, string] }> };
        };
        return r.data.result[0]?.value[1] === '3';
      },
      30_000,
      'Prometheus to scrape the three model servers',
    );

    const data = sampleRows(models.v1.workspace);
    // Rows spread over the file, so both classes show up.
    const picked = [0, 19, 57, 101, 150, 222, 300, 400];
    const sample = picked.map((i) => data.rows[i]!);
    const answers = await Promise.all(
      [v1, v2].map((s) => predict(`http://${s.address}`, data.columns, sample)),
    );
    ctx.record.note(
      STORY,
      'Real predictions from the served models',
      [
        `POST /invocations (MLflow scoring protocol) with rows ${picked.join(', ')} of the data:`,
        '',
        '| server | predictions | labels |',
        '| --- | --- | --- |',
        ...answers.map(
          (a) =>
            `| ${a.track} | ${a.predictions.join(' ')} | ${picked.map((i) => data.labels[i]).join(' ')} |`,
        ),
      ].join('\n'),
    );
    console.log(
      `✓ [${STORY}] v1 and v2 serve real predictions: ${answers.map((a) => `${a.track} [${a.predictions.join('')}]`).join(', ')}`,
    );

    let next = 0;
    const load = () =>
      startLoad(`${nginx.url}/invocations`, {
        rps: 80,
        maxMs: 60_000,
        request: () => {
          next = (next + 1) % data.rows.length;
          return {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ dataframe_split: { columns: data.columns, data: [data.rows[next]] } }),
          };
        },
      });
    const inputs = (stable: Served, canary: Served) => ({
      router: 'nginx',
      'nginx-include': include,
      'nginx-stable': stable.address,
      'nginx-canary': canary.address,
      'nginx-name': 'model',
      'nginx-prefix': nginx.prefix,
      'nginx-conf': nginx.configFile,
      'prometheus-url': prometheus.url,
      'stable-selector': `track="${stable.track}"`,
      'canary-selector': `track="${canary.track}"`,
      steps: '10%, 25%, 50%, 100%',
      ...CANARY,
    });
    const weights = (r: { outputs: Record<string, string> }) =>
      (
        JSON.parse(r.outputs.report ?? '{"windows":[]}') as {
          windows: Array<{ weight: number; verdict: string }>;
        }
      ).windows
        .map((w) => `${w.weight}% ${w.verdict}`)
        .join(' → ');

    const healthy = load();
    try {
      await recorded(
        ctx,
        STORY,
        'canary-deploy v2 (healthy) over v1',
        () => runStep({ action: 'canary-deploy', inputs: inputs(v1, v2), env: ctx.env, event: ctx.event }),
        (r) => `${r.outputs.outcome} at ${r.outputs['final-weight']}% (${weights(r)})`,
      );
    } finally {
      await healthy.stop();
    }

    // v2 is the new stable: nginx sends everything to it before the next rollout starts.
    await new NginxRouter({
      mode: 'upstream',
      name: 'model',
      stable: v2.address,
      canary: v3.address,
      includeFile: include,
      binary: NGINX,
      prefix: nginx.prefix,
      config: nginx.configFile,
    }).setWeight(0);

    const slow = load();
    let during: Record<string, number> = {};
    try {
      await recorded(
        ctx,
        STORY,
        'canary-deploy v3 (slow) over v2',
        () => runStep({ action: 'canary-deploy', inputs: inputs(v2, v3), env: ctx.env, event: ctx.event }),
        (r) =>
          `${r.outputs.outcome} at step ${r.outputs['failed-step']} (${weights(r)}), weight now ${r.outputs['final-weight']}%`,
        { expectFailure: true },
      );
    } finally {
      await slow.stop();
      during = slow.byTrack();
    }
    // After the rollback and nginx's reload, new requests must all reach stable.
    const after: Record<string, number> = {};
    await new Promise((r) => setTimeout(r, 500));
    for (let i = 0; i < 100; i++) {
      const { track } = await predict(nginx.url, data.columns, [data.rows[i]!]);
      after[track] = (after[track] ?? 0) + 1;
    }
    const backToStable = after.v2 === 100;
    ctx.record.note(
      STORY,
      'Traffic after the rollback',
      [
        '| | v2 (stable) | v3 (canary) |',
        '| --- | --- | --- |',
        `| during the rollout (generated load) | ${during.v2 ?? 0} | ${during.v3 ?? 0} |`,
        `| 100 requests after the rollback | ${after.v2 ?? 0} | ${after.v3 ?? 0} |`,
        '',
        `nginx include after the rollback: \`${/server [^;]*v3|server [^\n]*down;/.exec(readFileSync(include, 'utf8'))?.[0] ?? 'see the include file'}\``,
      ].join('\n'),
    );
    console.log(
      `${backToStable ? '✓' : '✗'} [${STORY}] after the rollback ${after.v2 ?? 0}/100 requests reached v2 (stable), ${after.v3 ?? 0} reached v3`,
    );
    if (!backToStable) throw new Error('traffic did not go back to stable after the rollback');
  } finally {
    for (const s of started.reverse()) await s.stop();
  }
}
