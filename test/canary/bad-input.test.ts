import { describe, expect, it } from 'vitest';
import { runStep } from '../harness';

/** Inputs the action must refuse before touching any traffic: one line naming the input, the value and what is accepted. */
const NGINX = {
  router: 'nginx',
  'nginx-include': '/tmp/never-written-canary.conf',
  'nginx-stable': '127.0.0.1:8001',
  'nginx-canary': '127.0.0.1:8002',
  'prometheus-url': 'http://127.0.0.1:9',
};

describe('canary-deploy bad input', () => {
  it('refuses weights that do not increase', async () => {
    const result = await runStep({ action: 'canary-deploy', inputs: { ...NGINX, steps: '10%, 50%, 25%' } });
    expect(result.exitCode).toBe(1);
    expect(result.error).toBe(
      `Input 'steps': weights must increase, but 25% follows 50% (got "10%, 50%, 25%")`,
    );
    expect(result.post?.stdout ?? '').not.toContain('restoring');
  });

  it('refuses weights over 100%', async () => {
    const result = await runStep({ action: 'canary-deploy', inputs: { ...NGINX, steps: '10%, 150%' } });
    expect(result.exitCode).toBe(1);
    expect(result.error).toMatch(
      /^Input 'steps'.*expected a percentage from 0% to 100%.*\(got "10%, 150%"\)$/,
    );
  });

  it('refuses an unknown router and lists the known ones', async () => {
    const result = await runStep({ action: 'canary-deploy', inputs: { ...NGINX, router: 'haproxy' } });
    expect(result.exitCode).toBe(1);
    expect(result.error).toMatch(
      /^Input 'router'.*nginx.*gateway-api.*istio.*kserve.*argo-rollouts.*command.*\(got "haproxy"\)$/,
    );
  });

  it('asks for the nginx inputs the nginx router needs', async () => {
    const result = await runStep({
      action: 'canary-deploy',
      inputs: { router: 'nginx', 'prometheus-url': 'http://127.0.0.1:9' },
    });
    expect(result.exitCode).toBe(1);
    expect(result.error).toContain(`Input 'nginx-include': required with router nginx`);
  });

  it('refuses a missing kubeconfig, naming the input and where else it looked', async () => {
    const result = await runStep({
      action: 'canary-deploy',
      inputs: {
        action: 'abort',
        router: 'gateway-api',
        resource: 'sentiment',
        'stable-backend': 'sentiment-stable',
        'canary-backend': 'sentiment-canary',
        kubeconfig: '/nonexistent/kubeconfig',
      },
    });
    expect(result.exitCode).toBe(1);
    expect(result.error).toMatch(/^Input 'kubeconfig': no file at \/nonexistent\/kubeconfig; .*in-cluster/);
  });

  it('refuses a metric list that is not valid YAML of known metrics', async () => {
    const result = await runStep({
      action: 'canary-deploy',
      inputs: { ...NGINX, metrics: '- name: throughput\n  max: 3' },
    });
    expect(result.exitCode).toBe(1);
    expect(result.error).toMatch(/^Input 'metrics'.*metric 'throughput' needs a query/);
  });
});
