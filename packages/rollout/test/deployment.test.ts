import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KubernetesApiDouble, writeKubeconfig } from '../../../test/doubles/kubernetes';
import {
  DeploymentRouter,
  type DeploymentRouterOptions,
  replicaSplit,
  rolloutStatus,
  STABLE_REPLICAS_ANNOTATION,
} from '../src/routers/deployment';
import { KubeClient } from '../src/routers/kubernetes';

let api: KubernetesApiDouble;
let kubeconfig: string;
const lines: string[] = [];

beforeAll(async () => {
  api = new KubernetesApiDouble();
  await api.start();
  api.validateBuiltIns();
  kubeconfig = writeKubeconfig(api.url);
});

afterAll(async () => {
  await api?.close();
});

function deployment(name: string, track: string, replicas: number, image: string) {
  const labels = { app: 'sentiment', track };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'ml', labels },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: 'model', image, ports: [{ containerPort: 8080 }] }] },
      },
    },
  };
}

function service(selector: Record<string, string> = { app: 'sentiment' }) {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'sentiment', namespace: 'ml' },
    spec: { selector, ports: [{ port: 80, targetPort: 8080 }] },
  };
}

beforeEach(() => {
  lines.length = 0;
  api.patches.length = 0;
  api.rolloutReads = 1;
  api.put('deployments', deployment('sentiment-stable', 'stable', 10, 'registry.example/sentiment:1'));
  api.put('deployments', deployment('sentiment-canary', 'canary', 0, 'registry.example/sentiment:2'));
  api.put('services', service());
});

function router(options: Partial<DeploymentRouterOptions> = {}) {
  return new DeploymentRouter({
    client: new KubeClient({ kubeconfig, namespace: 'ml' }),
    mode: 'replicas',
    stable: 'sentiment-stable',
    canary: 'sentiment-canary',
    service: 'sentiment',
    timeoutMs: 10_000,
    pollMs: 10,
    log: (line) => lines.push(line),
    warn: (line) => lines.push(`warning: ${line}`),
    ...options,
  });
}

type Stored = ReturnType<typeof deployment> & {
  metadata: { annotations?: Record<string, string> };
  status?: Record<string, unknown>;
};
const stored = (name: string) => api.get('apps', 'v1', 'ml', 'deployments', name) as Stored;
const replicas = () => [stored('sentiment-stable').spec.replicas, stored('sentiment-canary').spec.replicas];

describe('replicaSplit', () => {
  it('keeps the pods stable needs and gives the canary the closest share, at least one pod', () => {
    expect(replicaSplit(10, 10)).toEqual({ stable: 9, canary: 1, share: 10 });
    // 8 stable pods for 75%; 3 canary pods = 27.3% is closer to 25% than 2 (20%).
    expect(replicaSplit(25, 10)).toEqual({ stable: 8, canary: 3, share: 300 / 11 });
    expect(replicaSplit(50, 10)).toEqual({ stable: 5, canary: 5, share: 50 });
    expect(replicaSplit(75, 10)).toEqual({ stable: 3, canary: 9, share: 75 });
    expect(replicaSplit(10, 3)).toEqual({ stable: 3, canary: 1, share: 25 });
    expect(replicaSplit(2.5, 20)).toEqual({ stable: 20, canary: 1, share: 100 / 21 });
    expect(replicaSplit(0, 4)).toEqual({ stable: 4, canary: 0, share: 0 });
    expect(replicaSplit(100, 4)).toEqual({ stable: 0, canary: 4, share: 100 });
  });
});

describe('rolloutStatus, as kubectl rollout status reads a Deployment', () => {
  const at = (generation: number, replicas: number, status: Record<string, unknown>) => ({
    metadata: { name: 'm', namespace: 'ml', generation },
    spec: { replicas },
    status,
  });
  it('waits for the spec to be observed, new replicas, old ones to go and updated ones to be available', () => {
    expect(rolloutStatus(at(3, 4, { observedGeneration: 2 }))).toEqual({
      done: false,
      message: 'waiting for the deployment spec update to be observed',
    });
    expect(rolloutStatus(at(3, 4, { observedGeneration: 3, updatedReplicas: 1, replicas: 5 })).message).toBe(
      '1 of 4 new replicas updated',
    );
    expect(
      rolloutStatus(
        at(3, 4, { observedGeneration: 3, updatedReplicas: 4, replicas: 6, availableReplicas: 4 }),
      ).message,
    ).toBe('2 old replicas pending termination');
    expect(
      rolloutStatus(
        at(3, 4, { observedGeneration: 3, updatedReplicas: 4, replicas: 4, availableReplicas: 3 }),
      ).message,
    ).toBe('3 of 4 updated replicas available');
    expect(
      rolloutStatus(
        at(3, 4, { observedGeneration: 4, updatedReplicas: 4, replicas: 4, availableReplicas: 4 }),
      ),
    ).toEqual({ done: true, message: 'successfully rolled out' });
  });
  it('fails on ProgressDeadlineExceeded only once the generation is observed', () => {
    const conditions = [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }];
    expect(rolloutStatus(at(3, 4, { observedGeneration: 2, conditions })).failed).toBeUndefined();
    expect(rolloutStatus(at(3, 4, { observedGeneration: 3, conditions }))).toEqual({
      done: false,
      failed: true,
      message:
        'Deployment ml/m exceeded its progress deadline (ProgressDeadlineExceeded); its new pods did not become available (kubectl -n ml describe deployment m)',
    });
  });
});

describe('deployment router against the Kubernetes API double (apps/v1 schemas)', () => {
  it('scales through 10 → 25 → 50%, waits for rollout status each time, and promotes by image', async () => {
    api.rolloutReads = 3;
    const r = router();
    const seen: number[][] = [];
    for (const weight of [10, 25, 50]) {
      await r.setWeight(weight);
      seen.push(replicas() as number[]);
    }
    expect(seen).toEqual([
      [9, 1],
      [8, 3],
      [5, 5],
    ]);
    expect(await r.current()).toBe(50);
    expect(lines).toContain('10% asked, 1 of 10 pods = 10%');
    expect(lines).toContain(
      "warning: 25% asked, 3 of 11 pods = 27.3%: the canary's effective share differs from the step (10 stable pods allow no closer split; set replicas for finer steps)",
    );
    expect(lines).toContain('Deployment ml/sentiment-canary: 0 of 1 updated replicas available');
    expect(stored('sentiment-stable').metadata.annotations?.[STABLE_REPLICAS_ANNOTATION]).toBe('10');
    await r.promote();
    expect(replicas()).toEqual([10, 0]);
    expect(stored('sentiment-stable').spec.template.spec.containers[0]!.image).toBe(
      'registry.example/sentiment:2',
    );
    expect(stored('sentiment-stable').metadata.annotations?.[STABLE_REPLICAS_ANNOTATION]).toBeUndefined();
    expect(stored('sentiment-stable').metadata.annotations?.['deployment.kubernetes.io/revision']).toBe('2');
    const scales = api.patches.filter((p) => p.path.endsWith('/scale'));
    expect(scales.every((p) => p.status === 200)).toBe(true);
    expect(scales.map((p) => (p.body as { spec: { replicas: number } }).spec.replicas)).toEqual([
      1, 9, 3, 8, 5, 5, 10, 0,
    ]);
  });

  it('promote by scale gives the canary every pod and stable none', async () => {
    const r = router({ promoteBy: 'scale' });
    await r.setWeight(10);
    await r.promote();
    expect(replicas()).toEqual([0, 10]);
    expect(stored('sentiment-stable').spec.template.spec.containers[0]!.image).toBe(
      'registry.example/sentiment:1',
    );
  });

  it('rollback sends the canary to 0 and stable back to the count recorded before the first change, from a new router (the post step)', async () => {
    await router().setWeight(50);
    expect(replicas()).toEqual([5, 5]);
    await router().rollback();
    expect(replicas()).toEqual([10, 0]);
    expect(stored('sentiment-stable').metadata.annotations?.[STABLE_REPLICAS_ANNOTATION]).toBeUndefined();
  });

  it('fails clearly when the canary rollout exceeds its progress deadline', async () => {
    api.stall('ml', 'sentiment-canary');
    try {
      await expect(router().setWeight(10)).rejects.toThrow(
        /^Deployment ml\/sentiment-canary exceeded its progress deadline \(ProgressDeadlineExceeded\): ReplicaSet "sentiment-canary-[0-9a-f]{10}" has timed out progressing; its new pods did not become available \(kubectl -n ml describe deployment sentiment-canary\)$/,
      );
    } finally {
      api.stall('ml', 'sentiment-canary', false);
    }
  });

  it('gives up waiting at the timeout and says what it waited for', async () => {
    api.rolloutReads = 1_000_000;
    await expect(router({ timeoutMs: 50 }).setWeight(10)).rejects.toThrow(
      'Deployment ml/sentiment-canary did not finish rolling out within 0 s (rollout-timeout): 0 of 1 updated replicas available',
    );
  });

  it('retries a scale that lost a race to another writer (409 Conflict) with a fresh resourceVersion', async () => {
    api.interfereAfterRead('ml', 'sentiment-canary');
    await router().setWeight(10);
    expect(replicas()).toEqual([9, 1]);
    const canary = api.patches.filter((p) => p.path.endsWith('sentiment-canary/scale'));
    expect(canary.map((p) => p.status)).toEqual([409, 200]);
    expect(lines).toContain(
      'Deployment ml/sentiment-canary changed under us (409 Conflict): reading it again (attempt 2 of 5)',
    );
  });

  it('names the input of a Deployment or Service that does not exist', async () => {
    await expect(router({ canary: 'sentiment-v3' }).setWeight(10)).rejects.toThrow(
      "Input 'canary-deployment': Deployment ml/sentiment-v3 not found; give the name of an existing Deployment in namespace ml",
    );
    await expect(router({ stable: 'nope' }).rollback()).rejects.toThrow(
      "Input 'resource': Deployment ml/nope not found",
    );
    await expect(router({ service: 'other' }).setWeight(10)).rejects.toThrow(
      "Input 'service': Service ml/other not found",
    );
    expect(replicas()).toEqual([10, 0]);
  });

  it('refuses a Service that does not select both Deployments, and selectors that overlap', async () => {
    api.put('services', service({ app: 'sentiment', track: 'stable' }));
    await expect(router().setWeight(10)).rejects.toThrow(
      "Input 'service': Service ml/sentiment selects app=sentiment,track=stable, which does not match the pods of Deployment sentiment-canary (app=sentiment,track=canary);",
    );
    api.put('services', service());
    const wide = deployment('sentiment-stable', 'stable', 10, 'registry.example/sentiment:1');
    wide.spec.selector.matchLabels = { app: 'sentiment' } as typeof wide.spec.selector.matchLabels;
    api.put('deployments', wide);
    await expect(router().setWeight(10)).rejects.toThrow(
      "Input 'canary-deployment': the selector of Deployment sentiment-stable (app=sentiment) also matches the pods of sentiment-canary;",
    );
    expect(replicas()).toEqual([10, 0]);
  });

  it('the double refuses a Scale its autoscaling/v1 schema rejects (422 Invalid)', async () => {
    const client = new KubeClient({ kubeconfig, namespace: 'ml' });
    const ref = {
      group: 'apps',
      version: 'v1',
      plural: 'deployments',
      kind: 'Deployment',
      name: 'sentiment-canary',
    };
    await expect(
      client.replaceScale(ref, {
        apiVersion: 'autoscaling/v1',
        kind: 'Scale',
        metadata: { name: 'sentiment-canary' },
        spec: { replicas: '3' },
      }),
    ).rejects.toThrow(
      /^Kubernetes: scale Deployment ml\/sentiment-canary failed \(422\): Scale.autoscaling "sentiment-canary" is invalid: .*replicas/,
    );
    expect(replicas()).toEqual([10, 0]);
  });

  it('refuses a stable Deployment with 0 replicas unless replicas is given', async () => {
    api.put('deployments', deployment('sentiment-stable', 'stable', 0, 'registry.example/sentiment:1'));
    await expect(router().setWeight(10)).rejects.toThrow(
      "Input 'resource': Deployment ml/sentiment-stable has 0 replicas, so no pod count gives the canary a share",
    );
    await router({ replicas: 4 }).setWeight(50);
    expect(replicas()).toEqual([2, 2]);
  });
});

describe('deployment router in place (Kubernetes API double)', () => {
  const inPlace = () =>
    router({
      mode: 'in-place',
      stable: 'fraud',
      canary: undefined,
      service: undefined,
      image: 'registry.example/fraud:2',
    });

  beforeEach(() => {
    const d = deployment('fraud', 'stable', 3, 'registry.example/fraud:1');
    d.spec.template.metadata = {
      labels: { app: 'fraud', track: 'stable' },
    } as typeof d.spec.template.metadata;
    d.spec.selector.matchLabels = { app: 'fraud', track: 'stable' } as typeof d.spec.selector.matchLabels;
    api.put('deployments', d);
  });

  it('sets the image, then undo restores the previous ReplicaSet template as kubectl rollout undo does', async () => {
    const original = structuredClone(stored('fraud').spec.template);
    const r = inPlace();
    await r.setWeight(10);
    expect(stored('fraud').spec.template.spec.containers[0]!.image).toBe('registry.example/fraud:2');
    expect(stored('fraud').metadata.annotations?.['deployment.kubernetes.io/revision']).toBe('2');
    await r.setWeight(25);
    expect(await r.current()).toBe(25);
    await inPlace().rollback();
    expect(stored('fraud').spec.template).toEqual(original);
    // The old ReplicaSet comes back with the next revision, as the deployment controller numbers it.
    expect(stored('fraud').metadata.annotations?.['deployment.kubernetes.io/revision']).toBe('3');
    const undo = api.patches[api.patches.length - 1]!;
    expect(undo.contentType).toBe('application/json-patch+json');
    expect(JSON.stringify(undo.body)).not.toContain('pod-template-hash');
    expect(
      lines.some((l) =>
        /^Rolling Deployment ml\/fraud back to revision 1 \(ReplicaSet fraud-[0-9a-f]{10}, registry.example\/fraud:1\)$/.test(
          l,
        ),
      ),
    ).toBe(true);
    await inPlace().rollback();
    expect(lines).toContain('Deployment ml/fraud does not run registry.example/fraud:2: nothing to undo');
  });

  it('says so when there is no earlier revision to go back to', async () => {
    api.put('deployments', {
      ...deployment('fraud', 'stable', 3, 'registry.example/fraud:2'),
    });
    await expect(inPlace().rollback()).rejects.toThrow(
      'Deployment ml/fraud has no ReplicaSet of a revision before 1 to roll back to',
    );
  });
});
