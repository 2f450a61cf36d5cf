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

export interface KubeApiFailure {
  /** The HTTP status; undefined for a network error. */
  code?: number;
  /** The Status object's `message`, or the first line of the client's error text. */
  message: string;
  retryAfterMs?: number;
}

/** What a failed @kubernetes/client-node call says: the API server's Status body when there is one. */
export function kubeApiFailure(error: unknown): KubeApiFailure {
  const e = error as { code?: number; body?: unknown; message?: string; headers?: Record<string, string> };
  let body = e.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      // Not a Status object: keep the text.
    }
  }
  const message =
    body !== null && typeof body === 'object' && 'message' in body
      ? String(body.message)
      : (e.message ?? String(error)).split('\n')[0]!;
  const retryAfter = Number(e.headers?.['retry-after']);
  return {
    code: typeof e.code === 'number' ? e.code : undefined,
    message,
    retryAfterMs: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined,
  };
}
