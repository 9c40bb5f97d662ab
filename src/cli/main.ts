#!/usr/bin/env node
// The `gotel` entry point: one program, a subcommand per job. Each subcommand lives in its own
// module and loads what it needs only when used, so `gotel next` never pays for the Kubernetes client.
import { baseProgram, registerClients } from './program.ts';

const program = baseProgram();

// `assets` and `start` need the local control plane (src/dev), which the image leaves out.
async function devOnly<T>(load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    if ((err as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND' || !(err as Error).message.includes('/dev/')) throw err;
    process.stderr.write('gotel: `assets` and `start` run a local control plane for development and are not part of this installation (the image); run them from a clone of the repository\n');
    process.exit(2);
  }
}

program
  .command('assets')
  .description('print the directory holding kube-apiserver, etcd, kubectl and helm (building what is missing)')
  .action(async () => (await devOnly(() => import('./assets.ts'))).runAssets());

program
  .command('start')
  .description('run GoTel: on the cluster in KUBECONFIG, or on a local control plane when none is configured')
  .action(async () => (await devOnly(() => import('./start.ts'))).runStart());

(await import('./next.ts')).registerNext(program);
(await import('./operator.ts')).registerOperator(program);
registerClients(program);

await program.parseAsync(process.argv);
