import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { listen, readBody, sendJson } from './http-server';

/**
 * Test double of Unleash's admin API for feature strategies, following its OpenAPI: `GET
 * /api/admin/projects/{projectId}/features/{featureName}` (featureSchema with `environments`), `GET|POST
 * .../environments/{environment}/strategies`, `PUT .../strategies/{strategyId}` with
 * createFeatureStrategySchema bodies (parameters are strings; strategy variant weights integers 0-1000
 * with weightType fix|variable), `POST .../environments/{environment}/on`, tokens in `Authorization`,
 * and Unleash's error bodies `{id, name, message, details?}`: 400 ValidationError, 401
 * AuthenticationRequired, 403 NoAccessError, 404 NotFoundError, 429 with Retry-After.
 */

export interface UnleashStrategyRecord {
  id: string;
  name: string;
  title?: string | null;
  disabled?: boolean | null;
  featureName: string;
  sortOrder: number;
  segments: number[];
  constraints: unknown[];
  parameters: Record<string, string>;
  variants: Array<{ name: string; weight: number; weightType: string; stickiness: string }>;
}

interface FeatureRecord {
  name: string;
  project: string;
  environments: Map<string, { enabled: boolean; strategies: UnleashStrategyRecord[] }>;
}

export interface UnleashRequest {
  method: string;
  path: string;
  authorization?: string;
  body?: unknown;
}

const BASE =
  /^\/api\/admin\/projects\/([^/]+)\/features\/([^/]+)(?:\/environments\/([^/]+)(\/strategies(?:\/([^/]+))?|\/on)?)?$/;

export class UnleashDouble {
  readonly requests: UnleashRequest[] = [];
  readonly adminTokens = new Set<string>(['*:*.unleash-test-admin']);
  /** A token without UPDATE_FEATURE_STRATEGY. */
  readonly viewerTokens = new Set<string>(['user:test-viewer']);
  private readonly features = new Map<string, FeatureRecord>();
  /** Each strategy as written by an accepted PUT or POST, per `project/feature/env`. */
  readonly history = new Map<string, UnleashStrategyRecord[]>();
  /** The next n requests answer 429 with Retry-After: 1. */
  rateLimited = 0;
  url = '';
  private closeServer?: () => Promise<void>;

  addFeature(project: string, name: string, environments: Record<string, boolean>): void {
    this.features.set(`${project}/${name}`, {
      name,
      project,
      environments: new Map(
        Object.entries(environments).map(([env, enabled]) => [env, { enabled, strategies: [] }]),
      ),
    });
  }

  addStrategy(project: string, name: string, env: string, strategy: Partial<UnleashStrategyRecord>): string {
    const id = randomUUID();
    this.features
      .get(`${project}/${name}`)!
      .environments.get(env)!
      .strategies.push({
        id,
        name: 'flexibleRollout',
        featureName: name,
        sortOrder: 0,
        segments: [],
        constraints: [],
        parameters: {},
        variants: [],
        ...strategy,
      });
    return id;
  }

  environment(project: string, name: string, env: string) {
    return this.features.get(`${project}/${name}`)!.environments.get(env)!;
  }

  async start(): Promise<string> {
    const { url, close } = await listen((req, res) => this.handle(req, res));
    this.url = url;
    this.closeServer = close;
    return url;
  }

  async stop(): Promise<void> {
    await this.closeServer?.();
  }

  private error(res: ServerResponse, status: number, name: string, message: string, headers = {}) {
    sendJson(res, status, { id: randomUUID(), name, message }, headers);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const raw = (await readBody(req)).toString('utf8');
    const authorization = req.headers.authorization;
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      this.error(res, 400, 'BadDataError', 'The request body is not valid JSON');
      return;
    }
    this.requests.push({ method: req.method ?? 'GET', path: url.pathname, authorization, body });
    if (!authorization || !(this.adminTokens.has(authorization) || this.viewerTokens.has(authorization))) {
      this.error(
        res,
        401,
        'AuthenticationRequired',
        'You must log in to use Unleash. Your request had no authorization header, or the token is not valid.',
      );
      return;
    }
    if (this.rateLimited > 0) {
      this.rateLimited--;
      this.error(res, 429, 'TooManyRequests', 'Too many requests, please try again later.', {
        'retry-after': '1',
      });
      return;
    }
    const match = BASE.exec(url.pathname);
    const [, project, featureName, envName, tail, strategyId] = match ?? [];
    const feature =
      match && this.features.get(`${decodeURIComponent(project!)}/${decodeURIComponent(featureName!)}`);
    if (!feature) {
      this.error(
        res,
        404,
        'NotFoundError',
        `Could not find feature flag with name ${decodeURIComponent(featureName ?? '')}`,
      );
      return;
    }
    if (envName === undefined) {
      if (req.method !== 'GET') return this.error(res, 405, 'MethodNotAllowed', 'Method not allowed');
      sendJson(res, 200, {
        name: feature.name,
        project: feature.project,
        type: 'release',
        enabled: false,
        stale: false,
        environments: [...feature.environments].map(([name, e]) => ({
          name,
          enabled: e.enabled,
          type: name,
          strategies: e.strategies,
        })),
      });
      return;
    }
    const env = feature.environments.get(decodeURIComponent(envName));
    if (!env) {
      this.error(res, 404, 'NotFoundError', `Could not find environment ${decodeURIComponent(envName)}`);
      return;
    }
    const writes = req.method !== 'GET';
    if (writes && !this.adminTokens.has(authorization)) {
      this.error(
        res,
        403,
        'NoAccessError',
        `You don't have the required permissions to perform this operation. To perform this action, you need the "UPDATE_FEATURE_STRATEGY" permission for the "${feature.project}" project.`,
      );
      return;
    }
    if (tail === '/on' && req.method === 'POST') {
      env.enabled = true;
      res.writeHead(200);
      res.end();
      return;
    }
    if (tail?.startsWith('/strategies')) {
      if (req.method === 'GET' && !strategyId) return sendJson(res, 200, env.strategies);
      const problem = validateStrategy(body);
      if (problem && (req.method === 'POST' || req.method === 'PUT')) {
        sendJson(res, 400, {
          id: randomUUID(),
          name: 'ValidationError',
          message: `Request validation failed: your request body or params contain invalid data: ${problem}`,
          details: [{ message: problem, description: problem }],
        });
        return;
      }
      const input = body as Partial<UnleashStrategyRecord>;
      const key = `${feature.project}/${feature.name}/${decodeURIComponent(envName)}`;
      const write = (record: UnleashStrategyRecord) => {
        this.history.set(key, [...(this.history.get(key) ?? []), structuredClone(record)]);
        sendJson(res, 200, record);
      };
      if (req.method === 'POST' && !strategyId) {
        const record: UnleashStrategyRecord = {
          id: randomUUID(),
          featureName: feature.name,
          sortOrder: input.sortOrder ?? env.strategies.length,
          segments: input.segments ?? [],
          constraints: input.constraints ?? [],
          parameters: input.parameters ?? {},
          variants: input.variants ?? [],
          name: input.name!,
          title: input.title ?? null,
          disabled: input.disabled ?? false,
        };
        env.strategies.push(record);
        return write(record);
      }
      const existing = env.strategies.find((s) => s.id === strategyId);
      if (!existing) {
        this.error(res, 404, 'NotFoundError', `Could not find strategy with id ${strategyId}`);
        return;
      }
      if (req.method === 'PUT') {
        Object.assign(existing, {
          name: input.name,
          title: input.title ?? null,
          disabled: input.disabled ?? false,
          sortOrder: input.sortOrder ?? existing.sortOrder,
          segments: input.segments ?? [],
          constraints: input.constraints ?? [],
          parameters: input.parameters ?? {},
          variants: input.variants ?? [],
        });
        return write(existing);
      }
    }
    this.error(res, 405, 'MethodNotAllowed', 'Method not allowed');
  }
}

/** What Unleash's request validation refuses in a createFeatureStrategySchema body. */
function validateStrategy(body: unknown): string | undefined {
  const s = body as Partial<UnleashStrategyRecord> | undefined;
  if (!s || typeof s.name !== 'string') return "must have required property 'name'";
  for (const [k, v] of Object.entries(s.parameters ?? {}))
    if (typeof v !== 'string') return `/parameters/${k} must be string`;
  if (s.name === 'flexibleRollout') {
    const rollout = Number(s.parameters?.rollout);
    if (!Number.isInteger(rollout) || rollout < 0 || rollout > 100) return 'rollout must be an integer 0-100';
  }
  const variants = s.variants ?? [];
  for (const [i, v] of variants.entries()) {
    if (!Number.isInteger(v.weight) || v.weight < 0 || v.weight > 1000)
      return `/variants/${i}/weight must be an integer between 0 and 1000`;
    if (!['fix', 'variable'].includes(v.weightType))
      return `/variants/${i}/weightType must be fix or variable`;
    if (typeof v.stickiness !== 'string') return `/variants/${i} must have required property 'stickiness'`;
  }
  const fixed = variants.filter((v) => v.weightType === 'fix').reduce((sum, v) => sum + v.weight, 0);
  if (variants.length > 0 && variants.every((v) => v.weightType === 'fix') && fixed !== 1000)
    return 'the weights of fixed variants must add up to 1000';
  return undefined;
}
