import { NginxRouter } from '@mlops-actions/rollout';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubernetesApiDouble, writeKubeconfig } from '../doubles/kubernetes';
import { runStep } from '../harness';
import { NGINX } from '../servers/nginx';
import { type CanaryWorld, startWorld } from './setup';

/**
 * The deployment router end to end through dist/canary-deploy: the Kubernetes API double holds the two
 * Deployments and the Service, and plays kube-proxy for the real nginx in front of two real model servers
 * (each change of pod counts becomes nginx weights in proportion to the pods), so the real Prometheus sees
 * the canary's share of traffic that the replicas give it.
 */
const FAST = {
  interval: '3s',
  'initial-delay': '1s',
  count: '1',
  'min-samples': '15',
  'inconclusive-limit': '0',
  metrics: `- name: error-rate
  test: two-proportion
  max: 0.05
  critical: true
- name: p99-latency
  max: 1`,
};

const api = new KubernetesApiDouble();
let world: CanaryWorld;
let kubeconfig: string;
let proxy = Promise.resolve();

function deployment(name: string, track: string, replicas: number, image: string) {
  const labels = { app: 'sentiment', track };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'ml' },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { containers: [{ name: 'model', image }] } },
    },
  };
}

type Stored = ReturnType<typeof deployment> & { metadata: { annotations?: Record<string, string> } };
const stored = (name: string) => api.get('apps', 'v1', 'ml', 'deployments', name) as Stored;
const replicas = () => [stored('sentiment-stable')?.spec.replicas, stored('sentiment-canary')?.spec.replicas];
const scaled = () =>
  api.patches
    .filter((p) => p.path.endsWith('/scale') && p.status === 200)
    .map((p) => (p.body as { spec: { replicas: number } }).spec.replicas);

async function reset(name: string): Promise<void> {
  api.patches.length = 0;
  api.put('deployments', deployment('sentiment-stable', 'stable', 10, 'registry.example/sentiment:1'));
  api.put('deployments', deployment('sentiment-canary', 'canary', 0, 'registry.example/sentiment:2'));
  await proxy;
  await world.reset(name);
}

function inputs(track: string): Record<string, string> {
  return {
    ...FAST,
    router: 'deployment',
    kubeconfig,
    namespace: 'ml',
    resource: 'sentiment-stable',
    'canary-deployment': 'sentiment-canary',
    service: 'sentiment',
    'rollout-timeout': '20s',
    'prometheus-url': world.prometheus.url,
    'stable-selector': `track="stable-${track}"`,
    'canary-selector': `track="canary-${track}"`,
  };
}

beforeAll(async () => {
  world = await startWorld();
  await api.start();
  api.validateBuiltIns();
  const nginx = world.inputs('proxy');
  const router = new NginxRouter({
    includeFile: nginx['nginx-include']!,
    mode: 'upstream',
    name: 'model',
    stable: world.stable.address,
    canary: world.canary.address,
    binary: NGINX,
    prefix: world.nginx.prefix,
    config: world.nginx.configFile,
  });
  api.onDeploymentChange = () => {
    const [s = 0, c = 0] = replicas();
    proxy = proxy.then(() => router.setWeight(s + c > 0 ? (100 * c) / (s + c) : 0));
    return proxy;
  };
  api.put('services', {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'sentiment', namespace: 'ml' },
    spec: { selector: { app: 'sentiment' }, ports: [{ port: 80, targetPort: 8080 }] },
  });
  kubeconfig = writeKubeconfig(api.url);
}, 60_000);

afterAll(async () => {
  await api.close();
  await world?.close();
});

describe('canary-deploy with the deployment router (Kubernetes API double, real nginx and Prometheus)', () => {
  it('scales 10 → 25 → 50% by replicas, then promotes a healthy canary: stable takes its image', async () => {
    await reset('deploy-healthy');
    const load = world.load(100);
    try {
      const result = await runStep({
        action: 'canary-deploy',
        inputs: { ...inputs('deploy-healthy'), steps: '10%, 25%, 50%, 100%' },
      });
      expect(result.error).toBeUndefined();
      expect(result.outputs.outcome).toBe('promoted');
      // canary up first, then stable down; promotion: stable to 10 on the new image, canary to 0.
      expect(scaled()).toEqual([1, 9, 3, 8, 5, 5, 10, 0]);
      expect(replicas()).toEqual([10, 0]);
      expect(stored('sentiment-stable').spec.template.spec.containers[0]!.image).toBe(
        'registry.example/sentiment:2',
      );
      expect(result.stdout).toContain('10% asked, 1 of 10 pods = 10%');
      expect(result.stdout).toContain(
        "::warning::25%25 asked, 3 of 11 pods = 27.3%25: the canary's effective share differs from the step",
      );
      // All pods are stable's again, now on the canary's image: the proxy sends everything to the stable track.
      expect(world.weight()).toBe(0);
      expect(result.post?.stdout).toContain('nothing to restore');
    } finally {
      await load.stop();
    }
  });

  it('rolls an erroring canary back: canary at 0 replicas, stable at its original 10', async () => {
    await reset('deploy-errors');
    world.canary.setErrorRate(0.3);
    const load = world.load(100);
    try {
      const result = await runStep({
        action: 'canary-deploy',
        inputs: { ...inputs('deploy-errors'), steps: '10%, 50%, 100%' },
      });
      expect(result.exitCode).toBe(1);
      expect(result.outputs.outcome).toBe('rolled-back');
      expect(result.outputs['failed-step']).toBe('1');
      expect(scaled()).toEqual([1, 9, 10, 0]);
      expect(replicas()).toEqual([10, 0]);
      expect(stored('sentiment-stable').spec.template.spec.containers[0]!.image).toBe(
        'registry.example/sentiment:1',
      );
      expect(world.weight()).toBe(0);
    } finally {
      await load.stop();
    }
  });

  it('aborts with a clear message when the canary exceeds its progress deadline', async () => {
    await reset('deploy-stalled');
    api.stall('ml', 'sentiment-canary');
    try {
      const result = await runStep({ action: 'canary-deploy', inputs: inputs('deploy-stalled') });
      expect(result.exitCode).toBe(1);
      expect(result.error).toMatch(
        /^Deployment ml\/sentiment-canary exceeded its progress deadline \(ProgressDeadlineExceeded\): ReplicaSet "sentiment-canary-[0-9a-f]{10}" has timed out progressing; its new pods did not become available \(kubectl -n ml describe deployment sentiment-canary\)$/,
      );
      expect(replicas()).toEqual([10, 0]);
    } finally {
      api.stall('ml', 'sentiment-canary', false);
    }
  });

  it('restores stable from the post step when the action process is killed mid-rollout', async () => {
    await reset('deploy-killed');
    const load = world.load(100);
    try {
      const result = await runStep({
        action: 'canary-deploy',
        inputs: { ...inputs('deploy-killed'), steps: '10%, 50%, 100%' },
        killWhenStdout: '50% asked, 5 of 10 pods = 50%',
      });
      expect(result.signal).toBe('SIGKILL');
      expect(result.post?.exitCode).toBe(0);
      expect(result.post?.stdout).toContain('100% stable restored by the post step');
      expect(replicas()).toEqual([10, 0]);
      expect(
        stored('sentiment-stable').metadata.annotations?.['canary-deploy.mlops-actions/stable-replicas'],
      ).toBeUndefined();
    } finally {
      await load.stop();
    }
  });

  it('names the input of a Deployment that does not exist, in one line', async () => {
    await reset('deploy-missing');
    const result = await runStep({
      action: 'canary-deploy',
      inputs: { ...inputs('deploy-missing'), action: 'abort', 'canary-deployment': 'sentiment-v3' },
    });
    expect(result.exitCode).toBe(1);
    expect(result.error).toBe(
      "Input 'canary-deployment': Deployment ml/sentiment-v3 not found; give the name of an existing Deployment in namespace ml",
    );
  });

  it('asks for the canary Deployment and the Service in replicas mode, and the image in place', async () => {
    const replicasMode = await runStep({
      action: 'canary-deploy',
      inputs: { action: 'abort', router: 'deployment', resource: 'sentiment-stable' },
    });
    expect(replicasMode.error).toContain(
      "Input 'canary-deployment': required with router deployment (deployment-mode replicas)",
    );
    expect(replicasMode.error).toContain(
      "Input 'service': required with router deployment (deployment-mode replicas)",
    );
    const inPlace = await runStep({
      action: 'canary-deploy',
      inputs: { action: 'abort', router: 'deployment', resource: 'fraud', 'deployment-mode': 'in-place' },
    });
    expect(inPlace.error).toBe("Input 'image': required with router deployment (deployment-mode in-place)");
  });
});
