import { ActionError } from '@mlops-actions/kit';
import type { TrainingBackend } from './backend';
import { KubernetesBackend, type KubernetesBackendOptions } from './kubernetes';

export type BackendKind = 'kubernetes' | 'ray';

export interface BackendOptions {
  kubernetes?: KubernetesBackendOptions;
  log?: { info(line: string): void; warning(line: string): void };
}

/** The remote backend train-and-log hands the training to; `local` never gets here. */
export function createBackend(kind: BackendKind, options: BackendOptions): TrainingBackend {
  switch (kind) {
    case 'kubernetes':
      if (!options.kubernetes) throw new ActionError('backend kubernetes: no Kubernetes options given');
      return new KubernetesBackend(options.kubernetes, options.log);
    case 'ray':
      throw new ActionError("Input 'backend': ray is not available in this build; use local or kubernetes");
  }
}
