// The operator's credentials for its own cluster: --kubeconfig, else in-cluster (a pod's
// ServiceAccount), else KUBECONFIG, else ~/.kube/config, read by src/k8s/credentials.ts so the
// operator never loads @kubernetes/client-node (docs/capacity.md, memory). A kubeconfig that needs
// more (exec plugins, several KUBECONFIG files to merge, ...) is loaded by client-node as before.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { LiteKubeConfig, SA_DIR, type KubeCredentials } from '../k8s/credentials.ts';
import { ConfigError } from './config.ts';

/** True when some cluster is configured for this process (used by `gotel start` to choose). */
export function clusterConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  return !!env.KUBECONFIG || inCluster(env) || existsSync(join(homedir(), '.kube', 'config'));
}

function inCluster(env: NodeJS.ProcessEnv): boolean {
  return !!env.KUBERNETES_SERVICE_HOST && existsSync(join(SA_DIR, 'token'));
}

function lite(path: string | undefined, env: NodeJS.ProcessEnv): KubeCredentials | undefined {
  try {
    if (path) return LiteKubeConfig.fromFile(path);
    if (inCluster(env)) return LiteKubeConfig.fromCluster(env);
    if (env.KUBECONFIG) return env.KUBECONFIG.includes(delimiter) ? undefined : LiteKubeConfig.fromFile(env.KUBECONFIG);
    const home = join(homedir(), '.kube', 'config');
    return existsSync(home) ? LiteKubeConfig.fromFile(home) : undefined;
  } catch {
    return undefined; // client-node reads it, or says what is wrong
  }
}

export async function loadOperatorCredentials(path: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<KubeCredentials> {
  if (!path && !clusterConfigured(env)) throw new ConfigError('no cluster configured: pass --kubeconfig, set KUBECONFIG, or run in a pod; `npm start` runs GoTel on a local control plane instead');
  const found = lite(path, env);
  if (found) return found;
  const { loadKubeConfig } = await import('./kubeconfig.ts');
  return loadKubeConfig(path, env);
}
