/** Event payloads shaped like the ones GitHub writes to GITHUB_EVENT_PATH (only the fields actions read). */

export interface EventSpec {
  name: string;
  payload: Record<string, unknown>;
}

function repository(fullName: string) {
  const [owner, name] = fullName.split('/');
  return {
    id: 1,
    name,
    full_name: fullName,
    private: false,
    owner: { login: owner, type: 'Organization' },
    default_branch: 'main',
  };
}

export const events = {
  pullRequest(options: {
    repo: string;
    number: number;
    baseSha: string;
    headSha: string;
    baseRef?: string;
    headRef?: string;
    fork?: boolean;
  }): EventSpec {
    const repo = repository(options.repo);
    const headRepo = options.fork ? repository(`contributor/${repo.name}`) : repo;
    return {
      name: 'pull_request',
      payload: {
        action: 'synchronize',
        number: options.number,
        pull_request: {
          number: options.number,
          state: 'open',
          title: 'Update the model',
          head: { ref: options.headRef ?? 'feature', sha: options.headSha, repo: headRepo },
          base: { ref: options.baseRef ?? 'main', sha: options.baseSha, repo },
        },
        repository: repo,
        sender: { login: 'octocat', type: 'User' },
      },
    };
  },
  push(options: { repo: string; ref?: string; sha: string; before?: string }): EventSpec {
    return {
      name: 'push',
      payload: {
        ref: options.ref ?? 'refs/heads/main',
        before: options.before ?? '0'.repeat(40),
        after: options.sha,
        repository: repository(options.repo),
        sender: { login: 'octocat', type: 'User' },
      },
    };
  },
  workflowDispatch(options: { repo: string; ref?: string; inputs?: Record<string, string> }): EventSpec {
    return {
      name: 'workflow_dispatch',
      payload: {
        ref: options.ref ?? 'refs/heads/main',
        inputs: options.inputs ?? {},
        repository: repository(options.repo),
        sender: { login: 'octocat', type: 'User' },
        workflow: '.github/workflows/promote.yml',
      },
    };
  },
  schedule(options: { repo: string; cron?: string }): EventSpec {
    return {
      name: 'schedule',
      payload: { schedule: options.cron ?? '0 6 * * *', repository: repository(options.repo) },
    };
  },
  issueComment(options: { repo: string; issue: number }): EventSpec {
    return {
      name: 'issue_comment',
      payload: {
        action: 'created',
        issue: { number: options.issue, title: 'Experiment tracking' },
        comment: { id: 1, body: '/evaluate' },
        repository: repository(options.repo),
        sender: { login: 'octocat', type: 'User' },
      },
    };
  },
};
