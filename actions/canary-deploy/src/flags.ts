import { type ActionContext, input, z } from '@mlops-actions/kit';
import {
  CommandRouter,
  FlagdRouter,
  LAUNCHDARKLY_URL,
  LaunchDarklyRouter,
  launchDarklyHttpOptions,
  type Router,
  UnleashRouter,
} from '@mlops-actions/rollout';

/** The routers that move a feature flag's percentage rollout instead of network traffic. */
export const FLAG_ROUTERS = ['launchdarkly', 'unleash', 'flagd'] as const;
type FlagRouterKind = (typeof FLAG_ROUTERS)[number];

export const flagInputs = {
  'flag-key': z
    .string()
    .min(1)
    .optional()
    .describe('launchdarkly, unleash, flagd: the flag key (Unleash: the feature flag name)'),
  'flag-project': z
    .string()
    .min(1)
    .default('default')
    .describe('launchdarkly: project key; unleash: project id'),
  'flag-environment': z
    .string()
    .min(1)
    .optional()
    .describe('launchdarkly: environment key; unleash: environment name'),
  'stable-variation': z
    .string()
    .min(1)
    .optional()
    .describe(
      'launchdarkly: the stable variation (name, or value such as false); flagd: its variant key; unleash: a strategy variant, or empty to roll out "flag on"',
    ),
  'canary-variation': z
    .string()
    .min(1)
    .optional()
    .describe('launchdarkly, flagd, unleash with variants: the canary variation, as for stable-variation'),
  'flag-api-url': z
    .string()
    .url()
    .optional()
    .describe(`launchdarkly: API base URL (default ${LAUNCHDARKLY_URL}); unleash: your Unleash URL`),
  'flag-api-token': input
    .secret(z.string().min(1).optional())
    .describe(
      'launchdarkly: API access token (writer role); unleash: admin or personal access token, sent as Authorization',
    ),
  'flag-file': z
    .string()
    .min(1)
    .optional()
    .describe('flagd: the flag definition JSON file flagd watches, in the workspace'),
  'allow-flag-file-outside-workspace': input
    .boolean()
    .prefault('false')
    .describe('flagd: allow a flag-file outside the workspace (a file flagd reads on a self-hosted runner)'),
  'flag-sync-command': z
    .string()
    .min(1)
    .optional()
    .describe(
      'flagd: shell command run after each write of flag-file, given the weight as $1 and FLAG_FILE (kubectl apply a ConfigMap, git push)',
    ),
};

type FlagInputs = z.output<z.ZodObject<typeof flagInputs>> & { router: string };

export function isFlagRouter(router: string): router is FlagRouterKind {
  return (FLAG_ROUTERS as readonly string[]).includes(router);
}

/** The inputs each flag router needs, as issues on the inputs that are missing. */
export function checkFlagInputs(i: FlagInputs, need: (name: keyof FlagInputs, why: string) => void): void {
  if (!isFlagRouter(i.router)) return;
  const why = `with router ${i.router}`;
  need('flag-key', why);
  if (i.router === 'launchdarkly' || i.router === 'unleash') {
    need('flag-environment', why);
    need('flag-api-token', why);
  }
  if (i.router === 'unleash') {
    need('flag-api-url', why);
    if (i['stable-variation'] !== undefined || i['canary-variation'] !== undefined) {
      need('stable-variation', 'with router unleash and canary-variation');
      need('canary-variation', 'with router unleash and stable-variation');
    }
  } else {
    need('stable-variation', why);
    need('canary-variation', why);
  }
  if (i.router === 'flagd') need('flag-file', why);
}

/** The router for a flag service, once checkFlagInputs passed. */
export function makeFlagRouter(i: FlagInputs, ctx: ActionContext): Router {
  const log = (line: string) => ctx.log.info(line);
  const token = i['flag-api-token'];
  switch (i.router as FlagRouterKind) {
    case 'launchdarkly': {
      const url = i['flag-api-url'] ?? LAUNCHDARKLY_URL;
      return new LaunchDarklyRouter({
        http: ctx.http(launchDarklyHttpOptions(url, token)),
        project: i['flag-project'],
        environment: i['flag-environment']!,
        flag: i['flag-key']!,
        stableVariation: i['stable-variation']!,
        canaryVariation: i['canary-variation']!,
        log,
      });
    }
    case 'unleash': {
      const url = i['flag-api-url']!;
      return new UnleashRouter({
        http: ctx.http({ name: `Unleash at ${url}`, baseUrl: url, headers: { authorization: token! } }),
        project: i['flag-project'],
        environment: i['flag-environment']!,
        flag: i['flag-key']!,
        variants:
          i['stable-variation'] && i['canary-variation']
            ? { stable: i['stable-variation'], canary: i['canary-variation'] }
            : undefined,
        log,
      });
    }
    case 'flagd': {
      const file = ctx.path(i['flag-file']!, {
        input: 'flag-file',
        allowOutside: i['allow-flag-file-outside-workspace'],
        optOut: 'allow-flag-file-outside-workspace',
      });
      const command = i['flag-sync-command'];
      return new FlagdRouter({
        file,
        flag: i['flag-key']!,
        stableVariation: i['stable-variation']!,
        canaryVariation: i['canary-variation']!,
        sync: command
          ? new CommandRouter({ command, cwd: ctx.workspace, env: { ...ctx.env, FLAG_FILE: file }, log })
          : undefined,
        log,
      });
    }
  }
}
