import type { GithubContext } from '@mlops-actions/kit';

export interface DeploymentRequest {
  token: string;
  github: GithubContext;
  environment: string;
  model: string;
  version: string;
  modelUri: string;
  description: string;
}

/**
 * A GitHub Deployment (and a success status) for the environment the model was promoted to, so the
 * repository's Environments page shows which model version is live. Octokit is imported only here: its
 * plugins cost start-up time on every other path.
 */
export async function createDeployment(request: DeploymentRequest): Promise<{ id: number; url: string }> {
  const { getOctokit } = await import('@actions/github');
  const octokit = getOctokit(request.token, { baseUrl: request.github.apiUrl });
  const { owner, repo } = request.github;
  const deployment = await octokit.rest.repos.createDeployment({
    owner,
    repo,
    ref: request.github.sha || request.github.ref,
    environment: request.environment,
    auto_merge: false,
    required_contexts: [],
    transient_environment: false,
    production_environment: /prod/i.test(request.environment),
    description: request.description.slice(0, 140),
    payload: { model: request.model, version: request.version, 'model-uri': request.modelUri },
  });
  if (deployment.status !== 201 || !('id' in deployment.data))
    throw new Error(`GitHub did not create the deployment (status ${deployment.status})`);
  await octokit.rest.repos.createDeploymentStatus({
    owner,
    repo,
    deployment_id: deployment.data.id,
    state: 'success',
    environment: request.environment,
    log_url: request.github.runUrl,
    description: `${request.model} version ${request.version}`.slice(0, 140),
  });
  return { id: deployment.data.id, url: deployment.data.url };
}
