// `gotel suspend NS/NAME` and `gotel resume NS/NAME`: stop and restart judging a Reservation
// (spec.suspend; its history is kept), through the Kubernetes API with the caller's own
// credentials, as a merge patch. Resuming removes the field, which is the same as false.
import type { Command } from 'commander';
import { patchReservationSpec, runPatchCommand, type KubeFlags } from './kube-patch.ts';

function register(program: Command, name: 'suspend' | 'resume', description: string, suspend: boolean): void {
  program
    .command(name)
    .description(description)
    .argument('<reservation>', 'NAMESPACE/NAME (or NAME in the context\'s namespace)')
    .option('--kubeconfig <path>', 'default: KUBECONFIG, else ~/.kube/config, else in-cluster')
    .option('--context <name>', 'the kubeconfig context to use')
    .action(async (ref: string, flags: KubeFlags) => {
      process.exitCode = await runPatchCommand(name, async () => {
        const stored = await patchReservationSpec(ref, flags, { suspend: suspend ? true : null });
        return suspend
          ? `${stored.key}: suspended (not judged, no alerts; \`gotel resume ${stored.key}\` to watch it again)`
          : `${stored.key}: resumed (judged and alerted for again)`;
      });
    });
}

export function registerSuspend(program: Command): void {
  register(program, 'suspend', 'stop judging a Reservation and alerting for it, keeping its history (spec.suspend)', true);
  register(program, 'resume', 'judge a suspended Reservation again', false);
}
