import { execFile } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ActionError, InputError } from '@mlops-actions/kit';
import type { ConfigChanges } from '@mlops-actions/oci';

const exec = promisify(execFile);

/** The Dockerfile equivalent to the native build: base pinned by digest, the model copied, the same settings. */
export function dockerfile(
  base: string,
  modelDir: string,
  changes: ConfigChanges,
  labels: Record<string, string>,
): string {
  const json = (value: unknown) => JSON.stringify(value);
  const lines = [`FROM ${base}`, `COPY --chown=0:0 model/ ${json(modelDir)}`];
  for (const [key, value] of Object.entries(changes.env ?? {})) lines.push(`ENV ${key}=${json(value)}`);
  for (const [key, value] of Object.entries(labels)) lines.push(`LABEL ${json(key)}=${json(value)}`);
  for (const port of changes.ports ?? []) lines.push(`EXPOSE ${port}`);
  if (changes.workdir) lines.push(`WORKDIR ${changes.workdir}`);
  if (changes.user) lines.push(`USER ${changes.user}`);
  if (changes.entrypoint) lines.push(`ENTRYPOINT ${json(changes.entrypoint)}`);
  if (changes.cmd) lines.push(`CMD ${json(changes.cmd)}`);
  return `${lines.join('\n')}\n`;
}

/** Runs `docker buildx build` on a context holding the model and the generated Dockerfile. */
export async function dockerBuild(options: {
  context: string;
  modelPath: string;
  dockerfile: string;
  tags: string[];
  platforms: string[];
  push: boolean;
  log: (line: string) => void;
}): Promise<string> {
  try {
    await exec('docker', ['version', '--format', '{{.Server.Version}}'], { timeout: 20_000 });
  } catch (error) {
    const reason =
      (error as { code?: string; stderr?: string }).code === 'ENOENT'
        ? "no 'docker' command"
        : String((error as { stderr?: string }).stderr ?? error)
            .trim()
            .split('\n')[0];
    throw new InputError(
      'builder',
      `'docker' needs a Docker engine and none answered (${reason}); use builder: native, which needs no daemon`,
    );
  }
  cpSync(options.modelPath, join(options.context, 'model'), { recursive: true });
  writeFileSync(join(options.context, 'Dockerfile'), options.dockerfile);
  const metadata = join(options.context, 'metadata.json');
  const args = ['buildx', 'build', '--metadata-file', metadata, ...options.tags.flatMap((t) => ['-t', t])];
  if (options.platforms.length) args.push('--platform', options.platforms.join(','));
  if (options.push) args.push('--push');
  args.push(options.context);
  options.log(`docker ${args.join(' ')}`);
  try {
    await exec('docker', args, { maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    throw new ActionError(
      `docker buildx build failed: ${
        String((error as { stderr?: string }).stderr ?? error)
          .trim()
          .split('\n')
          .slice(-1)[0]
      }`,
    );
  }
  const meta = JSON.parse(readFileSync(metadata, 'utf8')) as Record<string, string>;
  return meta['containerimage.digest'] ?? '';
}
