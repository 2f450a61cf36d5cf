import { type ActionContext, defineAction, errorMessage, input, z } from '@mlops-actions/kit';
import {
  type AlertSelector,
  ArgoRolloutsRouter,
  alertmanagerAlerts,
  BUILTIN_METRICS,
  CommandRouter,
  checkSteps,
  DeploymentRouter,
  describeAlerts,
  firingAlerts,
  GatewayRouter,
  grafanaAnnotator,
  IstioRouter,
  judgeWindow,
  KServeRouter,
  KubeClient,
  type MetricSpec,
  measureWindow,
  NginxRouter,
  type PhaseConfig,
  PrometheusClient,
  parseAlertSelector,
  planSteps,
  type RolloutEvent,
  type RolloutResult,
  type Router,
  renderReport,
  reportJson,
  runPhases,
} from '@mlops-actions/rollout';
import { checkFlagInputs, FLAG_ROUTERS, flagInputs, makeFlagRouter } from './flags';

const ROUTERS = [
  'nginx',
  'gateway-api',
  'istio',
  'kserve',
  'argo-rollouts',
  'deployment',
  'command',
  ...FLAG_ROUTERS,
] as const;

const metricSchema = z
  .object({
    name: z.string().min(1),
    class: z.enum(['technical', 'business']).optional(),
    query: z.string().min(1).optional(),
    numerator: z.string().min(1).optional(),
    denominator: z.string().min(1).optional(),
    histogram: z
      .string()
      .regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, 'expected a metric name')
      .optional(),
    selector: z.string().min(1).optional(),
    min: z.number().optional(),
    max: z.number().optional(),
    'min-ratio': z.number().positive().optional(),
    'max-ratio': z.number().positive().optional(),
    test: z.enum(['mann-whitney', 'two-proportion']).optional(),
    'min-effect': z.number().nonnegative().optional(),
    critical: z.boolean().optional(),
    'higher-is-better': z.boolean().optional(),
  })
  .strict()
  .superRefine((m, ctx) => {
    const issue = (message: string) => ctx.addIssue({ code: 'custom', message });
    const ratio = m.numerator !== undefined || m.denominator !== undefined;
    const sources = [m.query !== undefined, ratio, m.histogram !== undefined].filter(Boolean).length;
    if (sources > 1) {
      issue(`metric '${m.name}' takes one of query, numerator with denominator, or histogram`);
    }
    if (ratio && (m.numerator === undefined || m.denominator === undefined)) {
      issue(`metric '${m.name}' needs both numerator and denominator`);
    }
    if (sources === 0 && !(BUILTIN_METRICS as readonly string[]).includes(m.name)) {
      issue(
        `metric '${m.name}' needs a query, numerator and denominator, or histogram; built-in metrics are ${BUILTIN_METRICS.join(', ')}`,
      );
    }
    if (m.test === 'mann-whitney' && m.name !== 'latency' && m.histogram === undefined) {
      issue(
        `test mann-whitney works on a histogram: use it on metric 'latency' or a metric with histogram, not '${m.name}'`,
      );
    }
    if (m.test === 'two-proportion' && m.name !== 'error-rate' && !ratio) {
      issue(
        `test two-proportion works on counts: use it on metric 'error-rate' or a metric with numerator and denominator, not '${m.name}'`,
      );
    }
  });

const DEFAULT_METRICS = `- name: error-rate
  test: two-proportion
  critical: true
- name: latency
  test: mann-whitney
- name: p95-latency
  max-ratio: 1.5`;

const metricsInput = input.yaml(z.array(metricSchema).min(1));

export const inputs = z
  .object({
    action: z
      .enum(['start', 'resume', 'promote', 'abort', 'rollback'])
      .default('start')
      .describe(
        'start: run every step; resume: continue after the current weight (after a pause); promote: 100% canary now; abort/rollback: 100% stable now',
      ),
    router: z.enum(ROUTERS).describe(`How traffic is split: ${ROUTERS.join(', ')}`),
    steps: input
      .list(input.percent())
      .optional()
      .describe(
        'Canary weights, increasing, e.g. "10%, 25%, 50%, 100%" (100% is added when missing); default 10%, 25%, 50%, 100% or step-weight/max-weight',
      ),
    'step-weight': input
      .percent()
      .optional()
      .describe('Instead of steps: grow the canary by this much each step'),
    'max-weight': input
      .percent()
      .optional()
      .describe('With step-weight: the last analysed weight before 100%'),
    interval: input
      .duration()
      .prefault('1m')
      .describe('Length of one analysis window (also the PromQL range)'),
    count: input.integer().prefault('1').describe('Passing windows needed at each step before the next'),
    'initial-delay': input
      .duration()
      .prefault('0s')
      .describe('Wait after each weight change before the first window (warm-up)'),
    'pause-at': input
      .percent()
      .optional()
      .describe('Stop with outcome paused once this step passes; continue later with action: resume'),
    'failure-limit': input.integer().prefault('0').describe('Failed windows allowed; one more rolls back'),
    'inconclusive-limit': input
      .integer()
      .prefault('1')
      .describe(
        'Inconclusive windows allowed; one more ends the rollout as inconclusive (stable keeps all traffic)',
      ),
    'consecutive-error-limit': input
      .integer()
      .prefault('4')
      .describe('Measurement errors in a row allowed (flaky Prometheus); one more rolls back'),
    metrics: metricsInput
      .prefault(DEFAULT_METRICS)
      .describe(
        'YAML list of metrics: name (error-rate, request-rate, p50/p90/p95/p99-latency, latency, or your own with query, or numerator and denominator counts, using $selector and $window, or histogram: a histogram base name), selector (extra matchers for this metric only), class (technical|business), min, max, min-ratio, max-ratio, test (mann-whitney for latency or a histogram, two-proportion for error-rate or numerator/denominator), min-effect (the margin the canary must be worse by to fail), critical, higher-is-better',
      ),
    'analysis-scope': z
      .enum(['window', 'step'])
      .default('window')
      .describe(
        'window: judge each window on its own data; step: on all data since the step began (more power at low traffic; lower alpha to match)',
      ),
    alpha: input
      .number()
      .prefault('0.01')
      .describe('Significance level of the statistical tests (one-sided: canary worse)'),
    'min-samples': input
      .integer()
      .prefault('50')
      .describe(
        "Fewer requests than this on either track in a window makes it inconclusive (a business metric's test counts its own denominator or histogram)",
      ),
    'prometheus-url': z
      .string()
      .url()
      .optional()
      .describe('Prometheus base URL, e.g. http://prometheus:9090'),
    'prometheus-token': input.secret(z.string().optional()).describe('Bearer token for Prometheus'),
    'prometheus-username': z.string().optional().describe('Basic-auth user for Prometheus'),
    'prometheus-password': input.secret(z.string().optional()).describe('Basic-auth password for Prometheus'),
    'prometheus-headers': input
      .keyValues()
      .optional()
      .describe('Extra HTTP headers for Prometheus, lines of name=value (e.g. X-Scope-OrgID=team)'),
    'abort-on-alerts': input
      .list(z.string().min(1))
      .default([])
      .describe(
        'Alerts that abort the rollout while firing, checked every window: alert names or label matchers (severity="page", service=~"model.*"), one per line',
      ),
    'alertmanager-url': z
      .string()
      .url()
      .optional()
      .describe(
        'With abort-on-alerts: also read active, unsilenced alerts from this Alertmanager (/api/v2/alerts)',
      ),
    'grafana-url': z
      .string()
      .url()
      .optional()
      .describe('Grafana base URL: every step, window verdict, rollback and promotion becomes an annotation'),
    'grafana-token': input
      .secret(z.string().optional())
      .describe('With grafana-url: a service-account token allowed to write annotations'),
    'grafana-dashboard-uid': z
      .string()
      .optional()
      .describe('With grafana-url: annotate this dashboard only (default: organisation-wide, found by tag)'),
    'grafana-tags': input
      .list(z.string().min(1))
      .prefault('canary-deploy')
      .describe('With grafana-url: tags of every annotation (the event kind is added, e.g. canary-rollback)'),
    'stable-selector': z
      .string()
      .default('track="stable"')
      .describe("Label matchers of the stable version's series"),
    'canary-selector': z
      .string()
      .default('track="canary"')
      .describe("Label matchers of the canary version's series"),
    'request-metric': z.string().default('http_requests_total').describe('Counter of requests'),
    'error-matchers': z
      .string()
      .default('code=~"5.."')
      .describe('Matchers that pick failed requests out of request-metric'),
    'latency-metric': z
      .string()
      .default('http_request_duration_seconds')
      .describe('Base name of the latency histogram (_bucket, _sum, _count)'),
    'nginx-include': z
      .string()
      .optional()
      .describe('nginx: the file this action writes, included by your nginx.conf inside http { }'),
    'nginx-mode': z
      .enum(['upstream', 'split-clients'])
      .default('upstream')
      .describe('nginx: a weighted upstream block, or a split_clients block setting $<nginx-name>'),
    'nginx-name': z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected a name of letters, digits and _')
      .default('model')
      .describe('nginx: upstream name (or split_clients variable without $)'),
    'nginx-stable': z
      .string()
      .optional()
      .describe('nginx: stable server host:port (or the variable value in split-clients mode)'),
    'nginx-canary': z
      .string()
      .optional()
      .describe('nginx: canary server host:port (or the variable value in split-clients mode)'),
    'nginx-binary': z.string().default('nginx').describe('nginx: the nginx executable'),
    'nginx-prefix': z.string().optional().describe('nginx: the -p prefix your nginx runs with'),
    'nginx-conf': z.string().optional().describe('nginx: the -c configuration file your nginx runs with'),
    command: z
      .string()
      .optional()
      .describe('command router: shell command run for each weight, given it as $1 and CANARY_WEIGHT'),
    'from-weight': input
      .percent()
      .optional()
      .describe('command router, resume: the current canary weight (a command cannot be asked)'),
    kubeconfig: z
      .string()
      .optional()
      .describe('Kubernetes: kubeconfig path; default KUBECONFIG, ~/.kube/config, then in-cluster'),
    'kube-context': z.string().optional().describe('Kubernetes: context to use'),
    namespace: z.string().default('default').describe('Kubernetes: namespace of the resource'),
    resource: z
      .string()
      .optional()
      .describe(
        'Kubernetes: name of the HTTPRoute, VirtualService, InferenceService or Rollout; deployment: the stable Deployment (in-place: the Deployment to update)',
      ),
    'stable-backend': z
      .string()
      .optional()
      .describe('gateway-api: stable backendRef name; istio: stable subset (or host)'),
    'canary-backend': z
      .string()
      .optional()
      .describe('gateway-api: canary backendRef name; istio: canary subset (or host)'),
    image: z.string().optional().describe('argo-rollouts, deployment in-place: the new image to roll out'),
    container: z
      .string()
      .optional()
      .describe('argo-rollouts, deployment: container whose image changes (default: the first)'),
    'deployment-mode': z
      .enum(['replicas', 'in-place'])
      .default('replicas')
      .describe(
        'deployment: replicas splits traffic by the pod counts of a stable and a canary Deployment behind one Service; in-place updates the image of one Deployment (its own rolling update), steps are then pauses watching the metrics and a rollback is rollout undo',
      ),
    'canary-deployment': z.string().optional().describe('deployment (replicas): the canary Deployment'),
    service: z
      .string()
      .optional()
      .describe('deployment (replicas): the Service whose selector picks the pods of both Deployments'),
    replicas: input
      .integer()
      .optional()
      .describe(
        "deployment (replicas): pods of both tracks together (default: the stable Deployment's replicas before the rollout)",
      ),
    'promote-by': z
      .enum(['image', 'scale'])
      .default('image')
      .describe(
        "deployment (replicas): image gives stable the canary's image and all pods, then the canary 0 (stable stays the long-lived Deployment); scale gives the canary all pods and stable 0",
      ),
    'rollout-timeout': input
      .duration()
      .prefault('5m')
      .describe('deployment: how long to wait for each rollout status before failing'),
    ...flagInputs,
    comment: input
      .boolean()
      .prefault('false')
      .describe('Post the report as a sticky comment on the pull request'),
    'github-token': input
      .secret(z.string().optional())
      .describe('Token for the PR comment (default: GITHUB_TOKEN from the environment)'),
    'fail-on-rollback': input
      .boolean()
      .prefault('true')
      .describe('Fail the step when the outcome is rolled-back or inconclusive (outputs are still set)'),
  })
  .superRefine((i, ctx) => {
    const need = (name: keyof typeof i, why: string) => {
      if (i[name] === undefined) ctx.addIssue({ code: 'custom', path: [name], message: `required ${why}` });
    };
    if (i.router === 'nginx') {
      need('nginx-include', 'with router nginx');
      need('nginx-stable', 'with router nginx');
      need('nginx-canary', 'with router nginx');
    }
    if (i.router === 'command') need('command', 'with router command');
    if (['gateway-api', 'istio', 'kserve', 'argo-rollouts', 'deployment'].includes(i.router))
      need('resource', `with router ${i.router}`);
    if (i.router === 'deployment' && i['deployment-mode'] === 'replicas') {
      need('canary-deployment', 'with router deployment (deployment-mode replicas)');
      need('service', 'with router deployment (deployment-mode replicas)');
    }
    if (i.router === 'deployment' && i['deployment-mode'] === 'in-place')
      need('image', 'with router deployment (deployment-mode in-place)');
    if (i.replicas !== undefined && i.replicas < 1)
      ctx.addIssue({ code: 'custom', path: ['replicas'], message: 'expected at least 1' });
    if (i.router === 'gateway-api' || i.router === 'istio') {
      need('stable-backend', `with router ${i.router}`);
      need('canary-backend', `with router ${i.router}`);
    }
    checkFlagInputs(i, need);
    if (i.action === 'start' || i.action === 'resume')
      need('prometheus-url', `to analyse the canary (action ${i.action})`);
    const steps = planSteps(i.steps as number[] | undefined, i['step-weight'], i['max-weight']);
    const problem = checkSteps(steps);
    if (problem)
      ctx.addIssue({ code: 'custom', path: [i.steps ? 'steps' : 'step-weight'], message: problem });
    if (i['pause-at'] !== undefined && !steps.slice(0, -1).includes(i['pause-at'])) {
      ctx.addIssue({
        code: 'custom',
        path: ['pause-at'],
        message: `must be one of the steps below 100%: ${steps.slice(0, -1).join('%, ')}%`,
      });
    }
    i['abort-on-alerts'].forEach((text) => {
      try {
        parseAlertSelector(text);
      } catch (error) {
        ctx.addIssue({ code: 'custom', path: ['abort-on-alerts'], message: errorMessage(error) });
      }
    });
    if (i['alertmanager-url'] !== undefined && i['abort-on-alerts'].length === 0)
      ctx.addIssue({
        code: 'custom',
        path: ['alertmanager-url'],
        message: 'only read with abort-on-alerts: name the alerts that abort',
      });
    if (i.count < 1) ctx.addIssue({ code: 'custom', path: ['count'], message: 'expected at least 1' });
    if (!(i.interval >= 1000))
      ctx.addIssue({ code: 'custom', path: ['interval'], message: 'expected at least 1s' });
    for (const name of [
      'failure-limit',
      'inconclusive-limit',
      'consecutive-error-limit',
      'min-samples',
    ] as const) {
      if (i[name] < 0) ctx.addIssue({ code: 'custom', path: [name], message: 'expected 0 or more' });
    }
    if (!(i.alpha > 0 && i.alpha < 1))
      ctx.addIssue({
        code: 'custom',
        path: ['alpha'],
        message: 'expected a number between 0 and 1, such as 0.01',
      });
  });

export const outputs = z.object({
  outcome: z
    .enum(['promoted', 'rolled-back', 'paused', 'inconclusive'])
    .describe('promoted, rolled-back, paused or inconclusive'),
  'final-weight': z.number().describe("The canary's share of traffic when the step ended, in percent"),
  'failed-step': z
    .number()
    .optional()
    .describe('1-based step that failed or was inconclusive; empty otherwise'),
  report: z
    .record(z.string(), z.unknown())
    .describe(
      'JSON of the rollout: every window with each metric, canary and stable values and rule verdicts',
    ),
});

type Inputs = z.output<typeof inputs>;
type Outputs = z.input<typeof outputs>;

interface SavedState {
  phase: 'running' | 'done';
  /** The canary weight the run last set or meant to set; null when unknown (a rollback in progress). */
  weight: number | null;
}

function makeRouter(i: Inputs, ctx: ActionContext): Router {
  const log = (line: string) => ctx.log.info(line);
  const kube = () =>
    new KubeClient({
      kubeconfig: i.kubeconfig,
      context: i['kube-context'],
      namespace: i.namespace,
      env: ctx.env,
    });
  switch (i.router) {
    case 'nginx':
      return new NginxRouter({
        includeFile: i['nginx-include']!,
        mode: i['nginx-mode'],
        name: i['nginx-name'],
        stable: i['nginx-stable']!,
        canary: i['nginx-canary']!,
        binary: i['nginx-binary'],
        prefix: i['nginx-prefix'],
        config: i['nginx-conf'],
        log,
      });
    case 'command':
      return new CommandRouter({
        command: i.command!,
        cwd: ctx.workspace,
        env: ctx.env,
        currentWeight: i['from-weight'],
        log,
      });
    case 'gateway-api':
      return new GatewayRouter({
        client: kube(),
        name: i.resource!,
        stableBackend: i['stable-backend']!,
        canaryBackend: i['canary-backend']!,
      });
    case 'istio':
      return new IstioRouter({
        client: kube(),
        name: i.resource!,
        stableBackend: i['stable-backend']!,
        canaryBackend: i['canary-backend']!,
      });
    case 'kserve':
      return new KServeRouter({ client: kube(), name: i.resource! });
    case 'argo-rollouts':
      return new ArgoRolloutsRouter({
        client: kube(),
        name: i.resource!,
        image: i.image,
        container: i.container,
        log,
      });
    case 'launchdarkly':
    case 'unleash':
    case 'flagd':
      return makeFlagRouter(i, ctx);
    case 'deployment':
      return new DeploymentRouter({
        client: kube(),
        mode: i['deployment-mode'],
        stable: i.resource!,
        canary: i['canary-deployment'],
        service: i.service,
        replicas: i.replicas,
        image: i.image,
        container: i.container,
        promoteBy: i['promote-by'],
        timeoutMs: i['rollout-timeout'],
        log,
        warn: (line) => ctx.log.warning(line),
      });
  }
}

function metricSpecs(i: Inputs): MetricSpec[] {
  return i.metrics.map((m) => ({
    name: m.name,
    class: m.class ?? 'technical',
    query: m.query,
    numerator: m.numerator,
    denominator: m.denominator,
    histogram: m.histogram,
    selector: m.selector,
    min: m.min,
    max: m.max,
    minRatio: m['min-ratio'],
    maxRatio: m['max-ratio'],
    test: m.test,
    minEffect: m['min-effect'],
    critical: m.critical,
    higherIsBetter: m['higher-is-better'] ?? (m.class === 'business' ? true : undefined),
  }));
}

function saveState(ctx: ActionContext, state: SavedState): void {
  ctx.state.save('canary', state);
}

async function publish(i: Inputs, ctx: ActionContext, result: RolloutResult): Promise<Outputs> {
  const markdown = renderReport(result, {
    title: 'Canary deploy',
    keyMetric: i.metrics.find((m) => m.name !== 'error-rate')?.name,
  });
  ctx.summary.add(markdown);
  if (i.comment) {
    try {
      const commented = await ctx.comment('canary', markdown, { token: i['github-token'] });
      if (commented.url) ctx.log.info(`PR comment: ${commented.url}`);
    } catch (error) {
      ctx.log.warning(`Could not comment on the pull request: ${errorMessage(error)}`);
    }
  }
  if (i['fail-on-rollback'] && (result.outcome === 'rolled-back' || result.outcome === 'inconclusive')) {
    ctx.fail(`canary-deploy: ${result.outcome} (${result.reason})`);
  }
  return {
    outcome: result.outcome,
    'final-weight': result.finalWeight,
    'failed-step': result.failedStep?.index,
    report: reportJson(result),
  };
}

function singleResult(outcome: RolloutResult['outcome'], weight: number, reason: string): RolloutResult {
  const now = Date.now();
  return { outcome, finalWeight: weight, reason, windows: [], startedAt: now, endedAt: now };
}

type Annotate = (event: RolloutEvent) => Promise<void>;

/** Grafana annotations of the rollout's events when grafana-url is given. */
function annotator(i: Inputs, ctx: ActionContext): Annotate | undefined {
  const url = i['grafana-url'];
  if (!url) return undefined;
  return grafanaAnnotator({
    http: ctx.http({
      name: `Grafana at ${url}`,
      baseUrl: url,
      headers: i['grafana-token'] ? { authorization: `Bearer ${i['grafana-token']}` } : {},
    }),
    dashboardUid: i['grafana-dashboard-uid'],
    tags: i['grafana-tags'],
    warn: (line) => ctx.log.warning(line),
  });
}

/** abort, rollback or promote: one weight change, by hand, no analysis. */
async function manualAction(
  i: Inputs,
  ctx: ActionContext,
  router: Router,
  annotate?: Annotate,
): Promise<Outputs> {
  if (i.action === 'promote') {
    saveState(ctx, { phase: 'running', weight: 100 });
    try {
      await router.promote();
    } catch (error) {
      await router.rollback().catch(() => undefined);
      saveState(ctx, { phase: 'done', weight: 0 });
      throw error;
    }
    saveState(ctx, { phase: 'done', weight: 100 });
    ctx.log.info(`${router.describe()}: 100% canary (promote).`);
    await annotate?.({
      kind: 'promoted',
      weight: 100,
      text: 'canary promoted to 100% by hand',
      at: Date.now(),
    });
    return publish(i, ctx, singleResult('promoted', 100, 'promoted by hand'));
  }
  saveState(ctx, { phase: 'running', weight: null });
  await router.rollback();
  saveState(ctx, { phase: 'done', weight: 0 });
  ctx.log.info(`${router.describe()}: 100% stable (${i.action}).`);
  await annotate?.({
    kind: 'rollback',
    weight: 0,
    text: `canary rolled back to 0%: ${i.action} asked by hand`,
    at: Date.now(),
  });
  return publish(
    { ...i, 'fail-on-rollback': false },
    ctx,
    singleResult('rolled-back', 0, `${i.action} asked by hand`),
  );
}

/** The index of the first step to run: 0 on start, the step after the router's current weight on resume. */
async function firstStep(i: Inputs, router: Router, steps: number[], ctx: ActionContext): Promise<number> {
  if (i.action !== 'resume') return 0;
  const current = await router.current();
  if (current === undefined || current <= 0) {
    throw new Error(
      `action resume: ${router.describe()} has no canary traffic to resume from${i.router === 'command' ? ' (give from-weight)' : ''}; use action: start`,
    );
  }
  const index = steps.findIndex((w) => w > current);
  ctx.log.info(`Resuming from ${current}%: next step ${steps[index]}%.`);
  return index;
}

function phaseConfig(i: Inputs, steps: number[]): PhaseConfig {
  return {
    steps,
    intervalMs: i.interval,
    count: i.count,
    initialDelayMs: i['initial-delay'],
    pauseAt: i['pause-at'],
    failureLimit: i['failure-limit'],
    inconclusiveLimit: i['inconclusive-limit'],
    consecutiveErrorLimit: i['consecutive-error-limit'],
    scope: i['analysis-scope'],
  };
}

/** Measures one window in Prometheus and judges it. */
function windowEvaluator(i: Inputs, ctx: ActionContext) {
  const prometheus = new PrometheusClient({
    url: i['prometheus-url']!,
    token: i['prometheus-token'],
    username: i['prometheus-username'],
    password: i['prometheus-password'],
    headers: i['prometheus-headers'],
    log: (line) => ctx.log.info(line),
  });
  const specs = metricSpecs(i);
  const alerts = alertCheck(i, ctx, prometheus);
  return async (_weight: number, windowMs: number, signal: AbortSignal | undefined) => {
    const measured = await measureWindow(prometheus, specs, {
      stableSelector: i['stable-selector'],
      canarySelector: i['canary-selector'],
      requestMetric: i['request-metric'],
      errorMatchers: i['error-matchers'],
      latencyMetric: i['latency-metric'],
      windowMs,
      signal,
    });
    const judgement = judgeWindow(
      specs,
      measured.measurements,
      { canaryRequests: measured.canaryRequests, stableRequests: measured.stableRequests },
      { alpha: i.alpha, minSamples: i['min-samples'] },
    );
    const firing = await alerts(signal);
    if (firing) {
      return {
        ...judgement,
        verdict: 'fail' as const,
        critical: true,
        reason: firing,
        hints: measured.hints,
      };
    }
    return { ...judgement, hints: measured.hints };
  };
}

/** The abort-on-alerts check of each window: a firing alert's names and summaries, or undefined. */
function alertCheck(i: Inputs, ctx: ActionContext, prometheus: PrometheusClient) {
  const selectors: AlertSelector[] = i['abort-on-alerts'].map(parseAlertSelector);
  const sources = [(signal?: AbortSignal) => prometheus.alerts(signal)];
  const alertmanagerUrl = i['alertmanager-url'];
  if (alertmanagerUrl) {
    const http = ctx.http({ name: `Alertmanager at ${alertmanagerUrl}`, baseUrl: alertmanagerUrl });
    sources.push((signal?: AbortSignal) => alertmanagerAlerts(http, signal));
  }
  return async (signal?: AbortSignal): Promise<string | undefined> => {
    if (selectors.length === 0) return undefined;
    const firing = await firingAlerts(sources, selectors, signal);
    return firing.length > 0 ? `alert firing: ${describeAlerts(firing)}` : undefined;
  };
}

/** start or resume: every step from the first, judged window by window, rolled back on a fail. */
async function rollout(i: Inputs, ctx: ActionContext, router: Router, annotate?: Annotate): Promise<Outputs> {
  const steps = planSteps(i.steps as number[] | undefined, i['step-weight'], i['max-weight']);
  const startIndex = await firstStep(i, router, steps, ctx);
  ctx.log.info(
    `Canary plan: ${steps
      .slice(startIndex)
      .map((w) => `${w}%`)
      .join(' → ')}; windows of ${i.interval} ms × ${i.count} per step; router ${router.describe()}.`,
  );
  const result = await runPhases(
    phaseConfig(i, steps),
    {
      router,
      log: (line) => ctx.log.info(line),
      warn: (line) => ctx.log.warning(line),
      signal: ctx.signal,
      onWeight: (weight) => saveState(ctx, { phase: 'running', weight }),
      onEvent: annotate,
      evaluate: windowEvaluator(i, ctx),
    },
    startIndex,
  );
  saveState(ctx, { phase: 'done', weight: result.finalWeight });
  return publish(i, ctx, result);
}

export default defineAction({
  id: 'canary-deploy',
  name: 'Canary deploy',
  description:
    'Shifts traffic to a new model version in steps (nginx, Gateway API, Istio, KServe, Argo Rollouts, plain Deployments, LaunchDarkly, Unleash, flagd or a command), judges each window from Prometheus against stable, and rolls back by itself.',
  branding: { icon: 'git-branch', color: 'orange' },
  inputs,
  outputs,
  async run(i, ctx) {
    ctx.mask(i['prometheus-token']);
    ctx.mask(i['prometheus-password']);
    ctx.mask(i['grafana-token']);
    ctx.mask(i['flag-api-token']);
    const router = makeRouter(i, ctx);
    const annotate = annotator(i, ctx);
    return i.action === 'start' || i.action === 'resume'
      ? rollout(i, ctx, router, annotate)
      : manualAction(i, ctx, router, annotate);
  },
  async post(i, ctx) {
    const state = ctx.state.get<SavedState>('canary');
    if (!state || state.phase === 'done' || state.weight === 0) {
      ctx.log.info('canary-deploy left stable with all traffic: nothing to restore.');
      return;
    }
    const at = state.weight === null ? 'an unknown weight' : `${state.weight}%`;
    ctx.log.warning(`canary-deploy did not finish (canary at ${at}): restoring 100% stable.`);
    const router = makeRouter(i, ctx);
    await router.rollback();
    ctx.log.info(`${router.describe()}: 100% stable restored by the post step.`);
    ctx.summary.add(
      `### Canary deploy: ↩️ restored 100% stable\n\nThe run stopped with the canary at ${at}; the post step sent all traffic back to stable.`,
    );
  },
});
