import { Job } from 'kubernetes-models/batch/v1/Job';
import { describe, expect, it } from 'vitest';
import { kubeflowSchemas } from '../../../test/doubles/crd-schema';
import {
  buildJobObject,
  type KubernetesBackendOptions,
  mergeTemplate,
  parsePodTemplate,
  parseResources,
  timestampKey,
} from '../src/kubernetes';

const options: KubernetesBackendOptions = {
  kind: 'job',
  namespace: 'ml',
  image: 'ghcr.io/acme/train:1',
  resources: { cpu: '4', memory: '16Gi', gpu: 2 },
  nodeSelector: { pool: 'gpu' },
  tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
  serviceAccount: 'trainer',
  nodes: 1,
  runtime: 'torch-distributed',
};
const spec = {
  name: 'mlops-train-abc',
  command: ['/bin/sh', '-c', 'python train.py'],
  env: { MLFLOW_RUN_ID: 'abc' },
  workingDirectory: '.',
  labels: { 'mlops-actions/run-id': 'abc' },
  timeoutMs: 3_600_000,
};

describe('Kubernetes training objects', () => {
  it('builds a batch/v1 Job that the published schema accepts', () => {
    const job = buildJobObject(options, spec);
    expect(() => new Job(job as never).validate()).not.toThrow();
    expect(job).toMatchObject({
      spec: { backoffLimit: 0, activeDeadlineSeconds: 3600, template: { spec: { restartPolicy: 'Never' } } },
    });
  });

  it('makes several nodes an Indexed Job', () => {
    const job = buildJobObject({ ...options, nodes: 4 }, spec) as { spec: Record<string, unknown> };
    expect(job.spec).toMatchObject({ completions: 4, parallelism: 4, completionMode: 'Indexed' });
    expect(() => new Job(job as never).validate()).not.toThrow();
  });

  it('gives a PyTorchJob one Master and nodes − 1 Workers, container named pytorch', () => {
    const job = buildJobObject({ ...options, kind: 'pytorchjob', nodes: 3 }, spec) as {
      apiVersion: string;
      spec: {
        pytorchReplicaSpecs: Record<
          string,
          { replicas: number; template: { spec: { containers: Array<{ name: string }> } } }
        >;
      };
    };
    expect(job.apiVersion).toBe('kubeflow.org/v1');
    expect(job.spec.pytorchReplicaSpecs.Master!.replicas).toBe(1);
    expect(job.spec.pytorchReplicaSpecs.Worker!.replicas).toBe(2);
    expect(job.spec.pytorchReplicaSpecs.Master!.template.spec.containers[0]!.name).toBe('pytorch');
  });

  it('gives a TrainJob its runtime, trainer and a runtime patch for the node pods (Trainer v2.3 shape)', () => {
    const job = buildJobObject({ ...options, kind: 'trainjob', nodes: 2 }, spec) as {
      spec: Record<string, unknown>;
    };
    expect(job.spec.runtimeRef).toEqual({
      name: 'torch-distributed',
      apiGroup: 'trainer.kubeflow.org',
      kind: 'ClusterTrainingRuntime',
    });
    expect(job.spec.trainer).toEqual({
      image: 'ghcr.io/acme/train:1',
      command: ['/bin/sh', '-c', 'python train.py'],
      env: [{ name: 'MLFLOW_RUN_ID', value: 'abc' }],
      numNodes: 2,
      resourcesPerNode: {
        limits: { memory: '16Gi', 'nvidia.com/gpu': '2' },
        requests: { cpu: '4', memory: '16Gi' },
      },
    });
    expect(job.spec.activeDeadlineSeconds).toBe(3600);
    expect(job.spec.runtimePatches).toEqual([
      {
        manager: 'mlops-actions',
        trainingRuntimeSpec: {
          template: {
            spec: {
              replicatedJobs: [
                {
                  name: 'node',
                  template: {
                    spec: {
                      template: {
                        metadata: { labels: { 'mlops-actions/run-id': 'abc' } },
                        spec: {
                          serviceAccountName: 'trainer',
                          nodeSelector: { pool: 'gpu' },
                          tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
                        },
                      },
                    },
                  },
                },
              ],
            },
          },
        },
      },
    ]);
  });

  it('refuses pod-template fields a TrainJob cannot carry instead of dropping them', () => {
    const podTemplate = parsePodTemplate(
      'spec:\n  hostNetwork: true\n  containers:\n  - name: node\n    ports: [{containerPort: 80}]\n',
    );
    expect(() => buildJobObject({ ...options, kind: 'trainjob', podTemplate }, spec)).toThrow(
      'pod-template: spec.hostNetwork, spec.containers[node].ports cannot be set on a TrainJob',
    );
  });

  it('merges a pod template override: containers and env by name, other fields replaced', () => {
    const override = parsePodTemplate(`
spec:
  containers:
  - name: train
    env:
    - name: MLFLOW_TRACKING_TOKEN
      valueFrom: {secretKeyRef: {name: mlflow, key: token}}
  volumes:
  - name: data
    persistentVolumeClaim: {claimName: data}
`);
    const job = buildJobObject({ ...options, podTemplate: override }, spec) as {
      spec: {
        template: { spec: { containers: Array<{ env: unknown[]; image: string }>; volumes: unknown[] } };
      };
    };
    const container = job.spec.template.spec.containers[0]!;
    expect(container.image).toBe('ghcr.io/acme/train:1');
    expect(container.env).toEqual([
      { name: 'MLFLOW_RUN_ID', value: 'abc' },
      { name: 'MLFLOW_TRACKING_TOKEN', valueFrom: { secretKeyRef: { name: 'mlflow', key: 'token' } } },
    ]);
    expect(job.spec.template.spec.volumes).toHaveLength(1);
    expect(() => new Job(job as never).validate()).not.toThrow();
    expect(mergeTemplate({ a: [1, 2] }, { a: [3] })).toEqual({ a: [3] });
  });

  it('parses resources and refuses what is not a quantity or a GPU count', () => {
    expect(parseResources({ cpu: '500m', memory: '2Gi', 'nvidia.com/gpu': '1' })).toEqual({
      cpu: '500m',
      memory: '2Gi',
      gpu: 1,
    });
    expect(() => parseResources({ gpu: 'two' })).toThrow("gpu: 'two' is not a whole number of GPUs");
    expect(() => parseResources({ memory: '2 GB' })).toThrow('is not a Kubernetes quantity');
    expect(() => parseResources({ disk: '1' })).toThrow("unknown resource 'disk'");
  });

  it('orders RFC 3339 timestamps with trimmed nanoseconds by time', () => {
    expect(timestampKey('2026-12-03T12:00:01.5Z') > timestampKey('2026-12-03T12:00:01.123456789Z')).toBe(
      true,
    );
    expect(timestampKey('2026-12-03T12:00:01Z') < timestampKey('2026-12-03T12:00:01.000000001Z')).toBe(true);
  });
});

describe('Kubeflow objects against the CRDs published schemas (fixtures, see fixtures/README.md)', () => {
  const trainJobSchema = kubeflowSchemas['trainer.kubeflow.org/v1alpha1/TrainJob']();
  const pyTorchJobSchema = kubeflowSchemas['kubeflow.org/v1/PyTorchJob']();
  const podTemplate = (container: string) =>
    parsePodTemplate(`
metadata:
  annotations: {sidecar.istio.io/inject: "false"}
spec:
  containers:
  - name: ${container}
    env:
    - name: MLFLOW_TRACKING_TOKEN
      valueFrom: {secretKeyRef: {name: mlflow, key: token}}
    volumeMounts:
    - {name: data, mountPath: /data}
  volumes:
  - name: data
    persistentVolumeClaim: {claimName: data}
  imagePullSecrets:
  - name: ghcr
`);
  const full: KubernetesBackendOptions = { ...options, nodes: 3 };

  it('builds a TrainJob the trainer.kubeflow.org/v1alpha1 schema accepts, with no field it would prune', () => {
    const job = buildJobObject({ ...full, kind: 'trainjob', podTemplate: podTemplate('node') }, spec);
    expect(trainJobSchema.check(job)).toBeUndefined();
    expect(trainJobSchema.unknownFields(job)).toEqual([]);
    const patch = JSON.stringify(job);
    expect(patch).toContain('"volumeMounts":[{"name":"data","mountPath":"/data"}]');
    expect(patch).toContain('"imagePullSecrets":[{"name":"ghcr"}]');
    expect(patch).toContain('"annotations":{"sidecar.istio.io/inject":"false"}');
    expect((job as { spec: { trainer: { env: unknown[] } } }).spec.trainer.env).toEqual([
      { name: 'MLFLOW_RUN_ID', value: 'abc' },
      { name: 'MLFLOW_TRACKING_TOKEN', valueFrom: { secretKeyRef: { name: 'mlflow', key: 'token' } } },
    ]);
  });

  it('builds a PyTorchJob the kubeflow.org/v1 schema accepts, with no field it would prune', () => {
    const job = buildJobObject({ ...full, kind: 'pytorchjob', podTemplate: podTemplate('pytorch') }, spec);
    expect(pyTorchJobSchema.check(job)).toBeUndefined();
    expect(pyTorchJobSchema.unknownFields(job)).toEqual([]);
    expect(JSON.stringify(job)).toContain('"serviceAccountName":"trainer"');
  });

  it('the schema check fails the shapes the CRDs do not have', () => {
    const stale = buildJobObject({ ...options, kind: 'trainjob' }, spec) as { spec: Record<string, unknown> };
    stale.spec.podSpecOverrides = [{ targetJobs: [{ name: 'node' }], nodeSelector: { pool: 'gpu' } }];
    expect(trainJobSchema.unknownFields(stale)).toEqual(['spec.podSpecOverrides']);
    const job = buildJobObject({ ...options, kind: 'trainjob' }, spec) as {
      spec: { trainer: Record<string, unknown> };
    };
    job.spec.trainer.numNodes = 'two';
    expect(trainJobSchema.check(job)).toBe('spec.trainer.numNodes: must be integer');
    const pytorch = buildJobObject({ ...options, kind: 'pytorchjob' }, spec) as {
      spec: { pytorchReplicaSpecs: { Master: { template: { spec: { containers: unknown[] } } } } };
    };
    const containers = pytorch.spec.pytorchReplicaSpecs.Master.template.spec.containers;
    containers.push(containers[0]);
    expect(pyTorchJobSchema.check(pytorch)).toMatch(
      /^spec\.pytorchReplicaSpecs\.Master\.template\.spec\.containers: Duplicate value/,
    );
  });
});
