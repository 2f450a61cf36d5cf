import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type DvcRepo, openRepo, Puller, type PullResult, requestedObjectIds } from '@mlops-actions/dvc';
import {
  type ActionContext,
  confinePath,
  defineAction,
  formatBytes,
  InputError,
  input,
  z,
} from '@mlops-actions/kit';
import { inlineCode } from '@mlops-actions/report';
import { cacheKey, restoreDvcCache, saveDvcCache } from './cache';

export const inputs = z.object({
  targets: input
    .list()
    .default([])
    .describe(
      'What to pull, one per line or comma-separated: workspace paths (files, directory outs or paths inside them), .dvc files, dvc.lock stage names (train or dvc.yaml:train) or globs (data/*.dvc). Empty pulls everything',
    ),
  remote: z
    .string()
    .optional()
    .describe(
      "DVC remote name from .dvc/config; default: core.remote (outs with their own 'remote:' keep it)",
    ),
  jobs: input
    .integer()
    .refine((n) => n >= 1 && n <= 256, 'expected a whole number from 1 to 256')
    .optional()
    .describe(
      'Parallel downloads; default: 2 × CPUs for a local remote, 4 × CPUs (at most 32) for http, s3, gs and azure',
    ),
  'link-type': z
    .enum(['copy', 'reflink', 'hardlink', 'symlink'])
    .default('copy')
    .describe(
      'How files go from .dvc/cache into the workspace: copy, reflink (copy-on-write, falls back to copy), hardlink or symlink',
    ),
  cache: input
    .boolean()
    .prefault('true')
    .describe('Restore and save .dvc/cache with actions/cache, keyed by the requested object ids'),
  'use-dvc-cli': input
    .boolean()
    .prefault('false')
    .describe(
      'Run an installed `dvc pull` instead of the native engine (for ssh, hdfs, webdav, gdrive, oss … remotes)',
    ),
  'working-directory': z
    .string()
    .default('.')
    .describe('The DVC repository (the folder holding .dvc/), relative to the workspace'),
  'http-user': z
    .string()
    .optional()
    .describe("User for an http(s) remote, overriding the remote's 'user' option"),
  'http-password': input
    .secret(z.string().optional())
    .describe(
      "Password for an http(s) remote with auth basic, or the header value with auth custom; overrides the remote's 'password'",
    ),
});

export const outputs = z.object({
  files: z.number().describe('Files the targets cover (all present in the workspace afterwards)'),
  bytes: z.number().describe('Their total size in bytes'),
  'downloaded-files': z.number().describe('Files transferred from the remote in this run'),
  'downloaded-bytes': z.number().describe('Bytes transferred from the remote in this run'),
  'cache-hit': z.boolean().describe('True when actions/cache restored .dvc/cache with the exact key'),
  'data-hash': z
    .string()
    .describe(
      'sha256 (hex) over the lines "<path>\\t<md5>\\n" of every pulled file, sorted by path: the data lineage id',
    ),
});

type Inputs = z.output<typeof inputs>;

function repoDir(i: Inputs, workspace: string): string {
  const dir = confinePath(workspace, i['working-directory'], { input: 'working-directory' });
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new InputError(
      'working-directory',
      `'${i['working-directory']}' is not a folder in the workspace (${dir})`,
    );
  }
  return dir;
}

async function runDvcCli(i: Inputs, repo: DvcRepo, ctx: ActionContext): Promise<PullResult> {
  const { getExecOutput } = await import('@actions/exec');
  const args = [
    'pull',
    ...(i.remote ? ['-r', i.remote] : []),
    ...(i.jobs ? ['-j', String(i.jobs)] : []),
    ...i.targets,
  ];
  const started = Date.now();
  ctx.log.info(`Running dvc ${args.join(' ')}`);
  let result: { exitCode: number; stderr: string };
  try {
    result = await getExecOutput('dvc', args, { cwd: repo.root, ignoreReturnCode: true });
  } catch (error) {
    throw new InputError(
      'use-dvc-cli',
      `could not run 'dvc' (${(error as Error).message}); install DVC first, e.g. pip install 'dvc[all]'`,
    );
  }
  if (result.exitCode !== 0) {
    const last = result.stderr.trim().split('\n').filter(Boolean).pop() ?? '';
    throw new InputError(
      'use-dvc-cli',
      `'dvc ${args.join(' ')}' failed with exit code ${result.exitCode}: ${last}`,
    );
  }
  const puller = new Puller(repo, { targets: i.targets, remote: i.remote, dryRun: true, log: ctx.log });
  const pulled = await puller.pull();
  // DVC reports no counts we can parse reliably; files it wrote in this run are new since the start.
  const fresh = pulled.pulled.filter((f) => statSync(join(repo.root, f.path)).mtimeMs >= started);
  return { ...pulled, downloadedFiles: fresh.length, downloadedBytes: fresh.reduce((s, f) => s + f.size, 0) };
}

export default defineAction({
  id: 'dvc-pull',
  name: 'DVC pull (native)',
  description:
    'Fetches the DVC-tracked data and models of the checked-out commit without Python or DVC: verified, parallel, atomic and cached across runs.',
  branding: { icon: 'download-cloud', color: 'blue' },
  inputs,
  outputs,
  async run(i, ctx) {
    const repo = await openRepo(repoDir(i, ctx.workspace));
    const cacheDir = repo.config.cacheDir;
    let cacheHit = false;
    let key: string | undefined;
    if (i.cache) {
      const ids = requestedObjectIds(repo, i.targets, i.remote);
      const keys = cacheKey(ids);
      key = keys.key;
      cacheHit = (await restoreDvcCache(cacheDir, keys.key, keys.restoreKeys, ctx.log)).hit;
    }
    let result: PullResult;
    if (i['use-dvc-cli']) {
      result = await runDvcCli(i, repo, ctx);
    } else {
      result = await new Puller(repo, {
        targets: i.targets,
        remote: i.remote,
        jobs: i.jobs,
        linkType: i['link-type'],
        log: ctx.log,
        signal: ctx.signal,
        progress: (options) => ctx.progress(options),
        remoteOptions: {
          httpUser: i['http-user'],
          httpPassword: i['http-password'],
          mask: (v) => ctx.mask(v),
          env: ctx.env,
        },
      }).pull();
    }
    if (i.cache && key && !cacheHit && existsSync(cacheDir)) await saveDvcCache(cacheDir, key, ctx.log);

    const rows = result.targets.map(
      (t) =>
        `| ${inlineCode(t.target)} | ${t.files} | ${formatBytes(t.bytes)} | ${t.downloadedFiles} (${formatBytes(t.downloadedBytes)}) |`,
    );
    ctx.summary.add(
      [
        '### dvc-pull',
        '',
        '| target | files | size | downloaded |',
        '| --- | ---: | ---: | ---: |',
        ...rows,
        '',
        `Data hash: ${inlineCode(result.dataHash)} · cache: ${!i.cache ? 'off' : cacheHit ? 'hit' : 'miss'}${
          result.skippedNoCache.length
            ? ` · not pulled (cache: false): ${result.skippedNoCache.map(inlineCode).join(', ')}`
            : ''
        }`,
      ].join('\n'),
    );
    ctx.log.info(
      `dvc-pull: ${result.files} file(s), ${formatBytes(result.bytes)}; downloaded ${result.downloadedFiles} (${formatBytes(result.downloadedBytes)}); data-hash ${result.dataHash}`,
    );
    return {
      files: result.files,
      bytes: result.bytes,
      'downloaded-files': result.downloadedFiles,
      'downloaded-bytes': result.downloadedBytes,
      'cache-hit': cacheHit,
      'data-hash': result.dataHash,
    };
  },
});
