// Where the operator finds its cluster: --kubeconfig, else in-cluster (a pod's ServiceAccount),
// else KUBECONFIG, else ~/.kube/config. None of them: a clear error.
import { KubeConfig } from '@kubernetes/client-node';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SA_DIR } from '../k8s/credentials.ts';
import { ConfigError } from './config.ts';
import { clusterConfigured } from './credentials.ts';

export { clusterConfigured };
const SA_TOKEN = join(SA_DIR, 'token');

export function loadKubeConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (path) kc.loadFromFile(path);
    else if (env.KUBERNETES_SERVICE_HOST && existsSync(SA_TOKEN)) kc.loadFromCluster();
    else if (clusterConfigured(env)) kc.loadFromDefault();
    else throw new ConfigError('no cluster configured: pass --kubeconfig, set KUBECONFIG, or run in a pod; `npm start` runs GoTel on a local control plane instead');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`cannot load kubeconfig${path ? ` ${path}` : ''}: ${(err as Error).message}`);
  }
  if (!kc.getCurrentCluster()) throw new ConfigError(`kubeconfig${path ? ` ${path}` : ''} has no current cluster`);
  return kc;
}
