#!/usr/bin/env node
// The `gotel` entry point: one program, a subcommand per job. Each subcommand lives in its own
// module and loads what it needs only when used, so `gotel next` never pays for the Kubernetes client.
import { baseProgram, registerClients } from './program.ts';

const program = baseProgram();

program
  .command('assets')
  .description('print the directory holding kube-apiserver, etcd, kubectl and helm (building what is missing)')
  .action(async () => (await import('./assets.ts')).runAssets());

program
  .command('start')
  .description('run GoTel: on the cluster in KUBECONFIG, or on a local control plane when none is configured')
  .action(async () => (await import('./start.ts')).runStart());

(await import('./next.ts')).registerNext(program);
(await import('./operator.ts')).registerOperator(program);
registerClients(program);

await program.parseAsync(process.argv);
