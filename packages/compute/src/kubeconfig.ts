import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '@mlops-actions/kit';

export interface KubeconfigOptions {
  /** A kubeconfig path; without it KUBECONFIG, ~/.kube/config, then in-cluster credentials. */
  kubeconfig?: string;
  context?: string;
  env?: NodeJS.ProcessEnv;
  /** The input that names the kubeconfig, for errors (canary-deploy and train-and-log both call it `kubeconfig`). */
  input?: string;
}

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * Loads credentials as kubectl finds them: the given file, KUBECONFIG, ~/.kube/config, then the pod's
 * service account. @kubernetes/client-node is imported here only, when a Kubernetes path is taken.
 */
export async function loadKubeConfig(options: KubeconfigOptions): Promise<{
  kc: import('@kubernetes/client-node').KubeConfig;
  k8s: typeof import('@kubernetes/client-node');
}> {
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  const input = options.input ?? 'kubeconfig';
  const env = options.env ?? process.env;
  const home = env.HOME || homedir();
  const fromEnv = env.KUBECONFIG?.split(':').find((f) => f && existsSync(f));
  if (options.kubeconfig) {
    if (!existsSync(options.kubeconfig)) {
      throw new InputError(
        input,
        `no file at ${options.kubeconfig}; give the path of a kubeconfig file, or leave it empty to use KUBECONFIG, ~/.kube/config or the in-cluster service account`,
      );
    }
    kc.loadFromFile(options.kubeconfig);
  } else if (fromEnv) {
    kc.loadFromFile(fromEnv);
  } else if (existsSync(join(home, '.kube', 'config'))) {
    kc.loadFromFile(join(home, '.kube', 'config'));
  } else if (env.KUBERNETES_SERVICE_HOST && existsSync(SERVICE_ACCOUNT_TOKEN)) {
    kc.loadFromCluster();
  } else {
    throw new InputError(
      input,
      'no Kubernetes credentials: not set, no KUBECONFIG, no ~/.kube/config and not running in a cluster; give the path of a kubeconfig file (e.g. written by azure/k8s-set-context or aws eks update-kubeconfig)',
    );
  }
  if (options.context) kc.setCurrentContext(options.context);
  if (!kc.getCurrentCluster()) {
    throw new InputError(input, `the kubeconfig has no cluster for context '${kc.getCurrentContext()}'`);
  }
  return { kc, k8s };
}
