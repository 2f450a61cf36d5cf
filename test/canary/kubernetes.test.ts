import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubernetesApiDouble } from '../doubles/kubernetes';
import { runStep } from '../harness';

const api = new KubernetesApiDouble();
let kubeconfig: string;

beforeAll(async () => {
  await api.start();
  api.validate('gateway.networking.k8s.io/v1', 'HTTPRoute', (object) => {
    try {
      new HTTPRoute(object as never).validate();
      return undefined;
    } catch (error) {
      return (error as Error).message;
    }
  });
  kubeconfig = join(mkdtempSync(join(tmpdir(), 'kube-')), 'config');
  // The double speaks plain HTTP, which client-node allows only with insecure-skip-tls-verify.
  writeFileSync(
    kubeconfig,
    `apiVersion: v1
kind: Config
clusters:
- name: double
  cluster: {server: '${api.url}', insecure-skip-tls-verify: true}
users:
- name: ci
  user: {token: test-token}
contexts:
- name: double
  context: {cluster: double, user: ci}
current-context: double
`,
  );
  api.put('httproutes', {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'sentiment', namespace: 'ml' },
    spec: {
      parentRefs: [{ name: 'gateway' }],
      rules: [
        {
          backendRefs: [
            { name: 'sentiment-v1', port: 8080, weight: 100 },
            { name: 'sentiment-v2', port: 8080, weight: 0 },
          ],
        },
      ],
    },
  });
});

afterAll(async () => {
  await api.close();
});

const weights = () =>
  (
    api.get('gateway.networking.k8s.io', 'v1', 'ml', 'httproutes', 'sentiment') as {
      spec: { rules: Array<{ backendRefs: Array<{ weight: number }> }> };
    }
  ).spec.rules[0]!.backendRefs.map((b) => b.weight);

describe('canary-deploy bundle with the gateway-api router (Kubernetes API double)', () => {
  it('promotes and aborts through the bundled Kubernetes client, patching only the weights', async () => {
    const inputs = {
      router: 'gateway-api',
      kubeconfig,
      namespace: 'ml',
      resource: 'sentiment',
      'stable-backend': 'sentiment-v1',
      'canary-backend': 'sentiment-v2',
    };
    const promoted = await runStep({ action: 'canary-deploy', inputs: { ...inputs, action: 'promote' } });
    expect(promoted.error).toBeUndefined();
    expect(promoted.outputs.outcome).toBe('promoted');
    expect(weights()).toEqual([0, 100]);
    const aborted = await runStep({ action: 'canary-deploy', inputs: { ...inputs, action: 'abort' } });
    expect(aborted.outputs.outcome).toBe('rolled-back');
    expect(weights()).toEqual([100, 0]);
    expect(
      api.patches.every((p) => p.contentType === 'application/json-patch+json' && p.status === 200),
    ).toBe(true);
  });
});
