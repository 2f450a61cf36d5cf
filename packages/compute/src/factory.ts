import { ActionError } from '@mlops-actions/kit';
import type { TrainingBackend } from './backend';
import { KubernetesBackend, type KubernetesBackendOptions } from './kubernetes';
import { RayBackend, type RayOptions } from './ray';

export type BackendKind = 'kubernetes' | 'ray';

export interface BackendOptions {
  kubernetes?: KubernetesBackendOptions;
  ray?: RayOptions;
  log?: { info(line: string): void; warning(line: string): void };
}

/** The remote backend train-and-log hands the training to; `local` never gets here. */
export function createBackend(kind: BackendKind, options: BackendOptions): TrainingBackend {
  switch (kind) {
    case 'kubernetes':
      if (!options.kubernetes) throw new ActionError('backend kubernetes: no Kubernetes options given');
      return new KubernetesBackend(options.kubernetes, options.log);
    case 'ray':
      if (!options.ray) throw new ActionError('backend ray: no Ray options given');
      return new RayBackend(options.ray);
  }
}
