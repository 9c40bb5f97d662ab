// `gotel start` (what `npm start` runs): GoTel on a local control plane when no cluster is
// configured. Until the operator lands (issue 6) it starts the control plane, installs the CRD,
// applies examples/, prints how to reach it with kubectl, and runs until Ctrl-C.
import { KubeConfig } from '@kubernetes/client-node';
import { fileURLToPath } from 'node:url';
import { ensureAssets } from '../dev/assets.ts';
import { startControlPlane } from '../dev/control-plane.ts';
import { applyObjects, readManifestDir } from '../k8s/apply.ts';

const EXAMPLES_DIR = fileURLToPath(new URL('../../examples/', import.meta.url));

export async function runStart(): Promise<void> {
  if (process.env.KUBECONFIG) {
    process.stderr.write(
      `gotel start: KUBECONFIG is set (${process.env.KUBECONFIG}); running the operator on an existing cluster arrives with the operator.\n` +
        'Unset KUBECONFIG to start a local control plane instead.\n',
    );
    process.exitCode = 2;
    return;
  }
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const assets = await ensureAssets({ progress: log });
  const plane = await startControlPlane({ name: 'local', assets, progress: log });
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log('stopping the local control plane...');
    await plane.stop();
    log('stopped; nothing left running');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());

  const kc = new KubeConfig();
  kc.loadFromString(plane.kubeconfig);
  const applied = await applyObjects(kc, await readManifestDir(EXAMPLES_DIR), 'default');
  log(`applied ${applied.map((o) => `${o.kind}/${o.metadata?.name}`).join(', ')}`);

  process.stdout.write(
    [
      '',
      'GoTel local control plane is up.',
      `  kube-apiserver: ${plane.server}`,
      `  kubeconfig:     ${plane.kubeconfigPath}`,
      '',
      'In another terminal:',
      `  export KUBECONFIG=${plane.kubeconfigPath}`,
      `  ${assets.kubectl} get reservations`,
      `  ${assets.kubectl} explain reservation.spec`,
      '',
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
}
