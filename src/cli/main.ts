#!/usr/bin/env node
// The `gotel` entry point: one program, a subcommand per job. Each subcommand lives in its own
// module and is loaded only when used, so `gotel next` never pays for the Kubernetes client.
import { Command } from 'commander';

const program = new Command('gotel')
  .description('GoTel: makes sure scheduled work actually happens')
  .showHelpAfterError();

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
(await import('./checkin.ts')).registerCheckin(program);
(await import('./run.ts')).registerRun(program);
(await import('./sidecar.ts')).registerSidecar(program);

await program.parseAsync(process.argv);
