import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { listen, readBody, sendJson } from './http-server';

/**
 * Test double of LaunchDarkly's REST API v2 for feature flags, following the published API:
 * `GET /api/v2/flags/{projectKey}/{featureFlagKey}?env=` (only the asked environments in
 * `environments`), `PATCH` of the same path with a semantic patch (`Content-Type: application/json;
 * domain-model=launchdarkly.semanticpatch`, `{environmentKey, comment, instructions}`) answering the
 * whole flag, access tokens in `Authorization` without a scheme, and LaunchDarkly's error bodies
 * `{code, message}`: 400 invalid_request, 401 unauthorized, 403 forbidden, 404 not_found, 409
 * optimistic_locking_error, 429 rate_limited with `X-Ratelimit-Reset` (epoch milliseconds).
 */

export const LD_SEMANTIC_PATCH = 'application/json; domain-model=launchdarkly.semanticpatch';

export interface LdVariation {
  _id: string;
  value: unknown;
  name?: string;
}

export interface LdEnvironment {
  on: boolean;
  fallthrough: { variation?: number; rollout?: { variations: Array<{ variation: number; weight: number }> } };
  offVariation: number;
  _version: number;
  lastModified: number;
}

export interface LdFlag {
  key: string;
  name: string;
  kind: 'boolean' | 'multivariate';
  _version: number;
  variations: LdVariation[];
  environments: Record<string, LdEnvironment>;
}

export interface LdRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType?: string;
  authorization?: string;
  body?: unknown;
}

const PATH = /^\/api\/v2\/flags\/([^/]+)\/([^/]+)$/;

export class LaunchDarklyDouble {
  readonly requests: LdRequest[] = [];
  /** Tokens with the writer role; `readerTokens` may only read. */
  readonly writerTokens = new Set<string>(['api-test-writer-0000']);
  readonly readerTokens = new Set<string>(['api-test-reader-0000']);
  private readonly flags = new Map<string, LdFlag>();
  /** Every fallthrough the flag had after each accepted patch, per `project/flag/env`. */
  readonly history = new Map<string, LdEnvironment['fallthrough'][]>();
  /** The next n requests answer 429 (the route's rate limit), then n 409 on the next patches. */
  rateLimited = 0;
  conflicts = 0;
  /** How far in the future the rate-limit window resets, in ms. */
  resetAfterMs = 300;
  url = '';
  private closeServer?: () => Promise<void>;

  /** Adds a flag with the given variation names, serving `served` in every environment. */
  addFlag(
    project: string,
    key: string,
    variations: Array<{ name?: string; value: unknown }>,
    environments: string[],
    served = 0,
  ): LdFlag {
    const flag: LdFlag = {
      key,
      name: key,
      kind: variations.every((v) => typeof v.value === 'boolean') ? 'boolean' : 'multivariate',
      _version: 1,
      variations: variations.map((v) => ({ _id: randomUUID(), ...v })),
      environments: Object.fromEntries(
        environments.map((env) => [
          env,
          {
            on: true,
            fallthrough: { variation: served },
            offVariation: served,
            _version: 1,
            lastModified: Date.now(),
          },
        ]),
      ),
    };
    this.flags.set(`${project}/${key}`, flag);
    return flag;
  }

  flag(project: string, key: string): LdFlag | undefined {
    return this.flags.get(`${project}/${key}`);
  }

  /** The canary share per mille-percent (0-100000) of variation `index` served by the default rule. */
  served(project: string, key: string, env: string, index: number): number {
    const fallthrough = this.flag(project, key)!.environments[env]!.fallthrough;
    if (fallthrough.rollout)
      return fallthrough.rollout.variations.find((v) => v.variation === index)?.weight ?? 0;
    return fallthrough.variation === index ? 100_000 : 0;
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

  private error(res: ServerResponse, status: number, code: string, message: string, headers = {}) {
    sendJson(res, status, { code, message }, headers);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const raw = (await readBody(req)).toString('utf8');
    const authorization = req.headers.authorization;
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      this.error(res, 400, 'invalid_request', 'Invalid JSON body');
      return;
    }
    this.requests.push({
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      contentType: req.headers['content-type'],
      authorization,
      body,
    });
    if (!authorization || !(this.writerTokens.has(authorization) || this.readerTokens.has(authorization))) {
      this.error(res, 401, 'unauthorized', 'Invalid access token');
      return;
    }
    if (this.rateLimited > 0) {
      this.rateLimited--;
      const reset = Date.now() + this.resetAfterMs;
      this.error(res, 429, 'rate_limited', "You've exceeded the API rate limit. Try again later.", {
        'x-ratelimit-reset': String(reset),
        'x-ratelimit-route-remaining': '0',
      });
      return;
    }
    const match = PATH.exec(url.pathname);
    const flag = match && this.flags.get(`${decodeURIComponent(match[1]!)}/${decodeURIComponent(match[2]!)}`);
    if (!match || !flag) {
      this.error(res, 404, 'not_found', 'Unknown resource');
      return;
    }
    if (req.method === 'GET') {
      sendJson(res, 200, this.view(flag, url.searchParams.getAll('env')));
      return;
    }
    if (req.method !== 'PATCH') {
      this.error(res, 405, 'method_not_allowed', 'Method not allowed');
      return;
    }
    if (!this.writerTokens.has(authorization)) {
      this.error(res, 403, 'forbidden', 'Access to the requested resource was denied');
      return;
    }
    if (this.conflicts > 0) {
      this.conflicts--;
      this.error(res, 409, 'optimistic_locking_error', 'Conflict: the flag was updated concurrently');
      return;
    }
    if (!req.headers['content-type']?.includes('domain-model=launchdarkly.semanticpatch')) {
      this.error(
        res,
        400,
        'invalid_request',
        'Expected a JSON patch array (use a semantic patch content type)',
      );
      return;
    }
    const problem = this.apply(flag, decodeURIComponent(match[1]!), body);
    if (problem) {
      this.error(res, 400, 'invalid_request', problem);
      return;
    }
    sendJson(res, 200, this.view(flag, []));
  }

  private view(flag: LdFlag, envs: string[]): LdFlag {
    if (envs.length === 0) return flag;
    return {
      ...flag,
      environments: Object.fromEntries(Object.entries(flag.environments).filter(([k]) => envs.includes(k))),
    };
  }

  /** Applies a semantic patch, or says why LaunchDarkly would refuse it. */
  private apply(flag: LdFlag, project: string, body: unknown): string | undefined {
    const patch = body as { environmentKey?: unknown; instructions?: unknown };
    if (!Array.isArray(patch?.instructions) || patch.instructions.length === 0)
      return 'instructions: required and must not be empty';
    const envKey = patch.environmentKey;
    if (typeof envKey !== 'string') return 'environmentKey is required for environment-specific instructions';
    const env = flag.environments[envKey];
    if (!env) return `environment '${envKey}' not found`;
    const indexOf = (id: unknown) => flag.variations.findIndex((v) => v._id === id);
    for (const instruction of patch.instructions as Array<Record<string, unknown>>) {
      if (instruction.kind !== 'updateFallthroughVariationOrRollout')
        return `unsupported instruction kind '${String(instruction.kind)}'`;
      if (instruction.variationId !== undefined) {
        const index = indexOf(instruction.variationId);
        if (index < 0) return `variation ${String(instruction.variationId)} not found`;
        env.fallthrough = { variation: index };
      } else if (instruction.rolloutWeights && typeof instruction.rolloutWeights === 'object') {
        const weights = Object.entries(instruction.rolloutWeights as Record<string, unknown>);
        const total = weights.reduce((sum, [, w]) => sum + (Number.isInteger(w) ? Number(w) : Number.NaN), 0);
        if (total !== 100_000) return 'rollout weights must sum to 100000';
        const variations = [];
        for (const [id, weight] of weights) {
          const index = indexOf(id);
          if (index < 0) return `variation ${id} not found`;
          variations.push({ variation: index, weight: weight as number });
        }
        env.fallthrough = { rollout: { variations } };
      } else {
        return 'updateFallthroughVariationOrRollout needs variationId or rolloutWeights';
      }
    }
    env._version++;
    env.lastModified = Date.now();
    flag._version++;
    const key = `${project}/${flag.key}/${envKey}`;
    this.history.set(key, [...(this.history.get(key) ?? []), structuredClone(env.fallthrough)]);
    return undefined;
  }
}
