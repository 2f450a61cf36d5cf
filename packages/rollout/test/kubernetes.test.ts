import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rollout } from '@kubernetes-models/argo-rollouts/argoproj.io/v1alpha1/Rollout';
import { HTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute';
import { VirtualService } from '@kubernetes-models/istio/networking.istio.io/v1beta1/VirtualService';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubernetesApiDouble } from '../../../test/doubles/kubernetes';
import { ArgoRolloutsRouter } from '../src/routers/argo';
import { GatewayRouter, IstioRouter, KServeRouter, KubeClient } from '../src/routers/kubernetes';

let api: KubernetesApiDouble;
let kubeconfig: string;

function schemaCheck(Model: new (data: never) => { validate(): void }) {
  return (object: Record<string, unknown>) => {
    try {
      new Model(object as never).validate();
      return undefined;
    } catch (error) {
      return (error as Error).message;
    }
  };
}

beforeAll(async () => {
  api = new KubernetesApiDouble();
  await api.start();
  api.validate('gateway.networking.k8s.io/v1', 'HTTPRoute', schemaCheck(HTTPRoute as never));
  api.validate('networking.istio.io/v1beta1', 'VirtualService', schemaCheck(VirtualService as never));
  api.validate('argoproj.io/v1alpha1', 'Rollout', schemaCheck(Rollout as never));
  const dir = mkdtempSync(join(tmpdir(), 'kube-'));
  kubeconfig = join(dir, 'config');
  // The double speaks plain HTTP, which client-node allows only with insecure-skip-tls-verify.
  writeFileSync(
    kubeconfig,
    `apiVersion: v1
kind: Config
clusters:
- name: double
  cluster:
    server: ${api.url}
    insecure-skip-tls-verify: true
users:
- name: ci
  user:
    token: test-token
contexts:
- name: double
  context: {cluster: double, user: ci, namespace: ml}
current-context: double
`,
  );
});

afterAll(async () => {
  await api?.close();
});

const client = () => new KubeClient({ kubeconfig, namespace: 'ml' });

function httpRoute() {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'sentiment', namespace: 'ml' },
    spec: {
      parentRefs: [{ name: 'gateway' }],
      hostnames: ['sentiment.example.com'],
      rules: [
        {
          matches: [{ path: { type: 'PathPrefix', value: '/health' } }],
          backendRefs: [{ name: 'sentiment-stable', port: 8080 }],
        },
        {
          matches: [{ path: { type: 'PathPrefix', value: '/' } }],
          backendRefs: [
            { name: 'sentiment-stable', port: 8080, weight: 100 },
            { name: 'sentiment-canary', port: 8080, weight: 0 },
          ],
        },
      ],
    },
  };
}

describe('Kubernetes routers against the Kubernetes API double', () => {
  it('gateway-api: a JSON Patch that only sets the two backendRef weights, valid against the HTTPRoute schema', async () => {
    api.put('httproutes', httpRoute());
    const router = new GatewayRouter({
      client: client(),
      name: 'sentiment',
      stableBackend: 'sentiment-stable',
      canaryBackend: 'sentiment-canary',
    });
    await router.setWeight(10);
    const patch = api.patches[api.patches.length - 1]!;
    expect(patch.contentType).toBe('application/json-patch+json');
    expect(patch.status).toBe(200);
    const touched = (patch.body as Array<{ op: string; path: string }>)
      .filter((o) => o.op !== 'test')
      .map((o) => o.path);
    expect(touched).toEqual(['/spec/rules/1/backendRefs/0/weight', '/spec/rules/1/backendRefs/1/weight']);
    const stored = api.get('gateway.networking.k8s.io', 'v1', 'ml', 'httproutes', 'sentiment') as ReturnType<
      typeof httpRoute
    >;
    expect(stored.spec.rules[1]!.backendRefs.map((b) => b.weight)).toEqual([90, 10]);
    expect(stored.spec.rules[0]).toEqual(httpRoute().spec.rules[0]);
    expect(stored.spec.hostnames).toEqual(['sentiment.example.com']);
    expect(await router.current()).toBe(10);
    await router.rollback();
    expect(await router.current()).toBe(0);
    await router.promote();
    expect(await router.current()).toBe(100);
  });

  it('the double refuses an object its CRD schema rejects (422 Invalid) and a strategic merge patch (415)', async () => {
    api.put('httproutes', httpRoute());
    const ref = {
      group: 'gateway.networking.k8s.io',
      version: 'v1',
      plural: 'httproutes',
      kind: 'HTTPRoute',
      name: 'sentiment',
    };
    await expect(
      client().patch(ref, [{ op: 'replace', path: '/spec/rules/1/backendRefs/0/weight', value: -5 }]),
    ).rejects.toThrow(/\(422\).*weight must be >= 0/);
    const response = await fetch(
      `${api.url}/apis/gateway.networking.k8s.io/v1/namespaces/ml/httproutes/sentiment`,
      {
        method: 'PATCH',
        headers: { 'content-type': 'application/strategic-merge-patch+json' },
        body: '{}',
      },
    );
    expect(response.status).toBe(415);
    expect(((await response.json()) as { kind: string; reason: string }).reason).toBe('UnsupportedMediaType');
  });

  it('names the resource when it does not exist (Status 404 from the API server)', async () => {
    const router = new GatewayRouter({
      client: client(),
      name: 'missing',
      stableBackend: 'a',
      canaryBackend: 'b',
    });
    await expect(router.setWeight(10)).rejects.toThrow(
      /get HTTPRoute ml\/missing failed \(404\): httproutes.gateway.networking.k8s.io "missing" not found/,
    );
  });

  it('istio: sets the weights of the stable and canary subsets, valid against the VirtualService schema', async () => {
    api.put('virtualservices', {
      apiVersion: 'networking.istio.io/v1beta1',
      kind: 'VirtualService',
      metadata: { name: 'sentiment', namespace: 'ml' },
      spec: {
        hosts: ['sentiment'],
        http: [
          {
            route: [
              { destination: { host: 'sentiment', subset: 'v1' }, weight: 100 },
              { destination: { host: 'sentiment', subset: 'v2' }, weight: 0 },
            ],
          },
        ],
      },
    });
    const router = new IstioRouter({
      client: client(),
      name: 'sentiment',
      stableBackend: 'v1',
      canaryBackend: 'v2',
    });
    await router.setWeight(25);
    const stored = api.get('networking.istio.io', 'v1beta1', 'ml', 'virtualservices', 'sentiment') as {
      spec: { http: Array<{ route: Array<{ weight: number; destination: { subset: string } }> }> };
    };
    expect(stored.spec.http[0]!.route.map((r) => [r.destination.subset, r.weight])).toEqual([
      ['v1', 75],
      ['v2', 25],
    ]);
    expect(await router.current()).toBe(25);
  });

  it('kserve: canaryTrafficPercent by merge patch, 0 on rollback, removed on promotion', async () => {
    api.put('inferenceservices', {
      apiVersion: 'serving.kserve.io/v1beta1',
      kind: 'InferenceService',
      metadata: { name: 'sentiment', namespace: 'ml' },
      spec: {
        predictor: { model: { modelFormat: { name: 'sklearn' }, storageUri: 's3://models/sentiment/v2' } },
      },
    });
    const router = new KServeRouter({ client: client(), name: 'sentiment' });
    const read = () =>
      (
        api.get('serving.kserve.io', 'v1beta1', 'ml', 'inferenceservices', 'sentiment') as {
          spec: { predictor: Record<string, unknown> };
        }
      ).spec.predictor;
    await router.setWeight(10);
    expect(api.patches[api.patches.length - 1]!.contentType).toBe('application/merge-patch+json');
    expect(read().canaryTrafficPercent).toBe(10);
    expect(read().model).toEqual({
      modelFormat: { name: 'sklearn' },
      storageUri: 's3://models/sentiment/v2',
    });
    await router.rollback();
    expect(read().canaryTrafficPercent).toBe(0);
    await router.promote();
    expect('canaryTrafficPercent' in read()).toBe(false);
    expect(await router.current()).toBe(100);
  });

  it('argo-rollouts: sets the image, aborts through the status subresource when an AnalysisRun failed', async () => {
    api.put('rollouts', {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Rollout',
      metadata: { name: 'sentiment', namespace: 'ml' },
      spec: {
        replicas: 4,
        selector: { matchLabels: { app: 'sentiment' } },
        template: {
          metadata: { labels: { app: 'sentiment' } },
          spec: { containers: [{ name: 'model', image: 'ghcr.io/acme/sentiment:v1' }] },
        },
        strategy: { canary: { steps: [{ setWeight: 10 }, { pause: {} }, { setWeight: 50 }, { pause: {} }] } },
      },
      status: {
        currentPodHash: 'abc123',
        phase: 'Paused',
        canary: {
          weights: {
            canary: { weight: 10, podTemplateHash: 'abc123' },
            stable: { weight: 90, podTemplateHash: 'old' },
          },
        },
      },
    });
    const router = new ArgoRolloutsRouter({
      client: client(),
      name: 'sentiment',
      image: 'ghcr.io/acme/sentiment:v2',
      container: 'model',
      pollMs: 10,
    });
    await router.setWeight(10);
    const stored = () =>
      api.get('argoproj.io', 'v1alpha1', 'ml', 'rollouts', 'sentiment') as {
        spec: { template: { spec: { containers: Array<{ image: string }> } } };
        status: Record<string, unknown>;
      };
    expect(stored().spec.template.spec.containers[0]!.image).toBe('ghcr.io/acme/sentiment:v2');
    expect(await router.current()).toBe(10);
    await router.check();
    api.put('analysisruns', {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'AnalysisRun',
      metadata: {
        name: 'sentiment-abc123-2',
        namespace: 'ml',
        labels: { 'rollouts-pod-template-hash': 'abc123' },
        ownerReferences: [
          { kind: 'Rollout', name: 'sentiment', apiVersion: 'argoproj.io/v1alpha1', uid: 'u1' },
        ],
      },
      spec: { metrics: [] },
      status: { phase: 'Failed', message: 'metric "error-rate" assessed Failed' },
    });
    await expect(router.check()).rejects.toThrow(
      /AnalysisRun sentiment-abc123-2 failed: metric "error-rate" assessed Failed/,
    );
    const abort = api.patches[api.patches.length - 1]!;
    expect(abort.path).toMatch(/\/rollouts\/sentiment\/status$/);
    expect(abort.body).toEqual({ status: { abort: true } });
    expect(stored().status.abort).toBe(true);
    expect(stored().spec.template.spec.containers[0]!.image).toBe('ghcr.io/acme/sentiment:v2');
  });

  it('says where credentials were looked for when there is no kubeconfig', async () => {
    const missing = new GatewayRouter({
      client: new KubeClient({ kubeconfig: '/nonexistent/kubeconfig', namespace: 'ml' }),
      name: 'x',
      stableBackend: 'a',
      canaryBackend: 'b',
    });
    await expect(missing.setWeight(10)).rejects.toThrow(
      /Input 'kubeconfig': no file at \/nonexistent\/kubeconfig/,
    );
    const none = new GatewayRouter({
      client: new KubeClient({ namespace: 'ml', env: { HOME: mkdtempSync(join(tmpdir(), 'home-')) } }),
      name: 'x',
      stableBackend: 'a',
      canaryBackend: 'b',
    });
    await expect(none.setWeight(10)).rejects.toThrow(/no Kubernetes credentials/);
  });
});
