import { randomBytes } from 'node:crypto';

export interface UploadedArtifact {
  name: string;
  id: number | undefined;
  size: number | undefined;
}

/** Whether the runner gives this step GitHub's artifact service (it does on GitHub-hosted and self-hosted runners). */
export function artifactServiceAvailable(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.ACTIONS_RUNTIME_TOKEN && env.ACTIONS_RESULTS_URL);
}

/**
 * Uploads files as a workflow artifact through GitHub's artifact service (the client reads the
 * runner's ACTIONS_RUNTIME_TOKEN and ACTIONS_RESULTS_URL); loaded only when something is uploaded.
 */
export async function uploadArtifact(name: string, files: string[], root: string): Promise<UploadedArtifact> {
  const { DefaultArtifactClient } = await import('@actions/artifact');
  const result = await new DefaultArtifactClient().uploadArtifact(name, files, root, {});
  return { name, id: result.id, size: result.size };
}

/**
 * An artifact name unique within the workflow run: names must be, and one step may run in several jobs
 * of a matrix. Only characters the artifact service accepts.
 */
export function uniqueArtifactName(prefix: string, env: NodeJS.ProcessEnv): string {
  const parts = [prefix, env.GITHUB_JOB, randomBytes(3).toString('hex')].filter(Boolean) as string[];
  return parts.join('-').replace(/["':<>|*?\\/\r\n]/g, '_');
}
