// `gotel snooze NS/NAME --for 2h` (or `--clear`): no alerts for a Reservation for a while, through
// the Kubernetes API with the caller's own credentials (spec.snoozeUntil, a merge patch). Scripts
// that hold only a token use `POST /snooze/{namespace}/{name}?for=2h` on GoTel instead.
import type { Command } from 'commander';
import { snoozeUntil, SnoozeDurationError } from '../core/snooze.ts';
import { UsageError } from './checkin-client.ts';
import { patchReservationSpec, runPatchCommand, type KubeFlags } from './kube-patch.ts';

interface SnoozeFlags extends KubeFlags {
  for?: string;
  clear?: boolean;
}

export function registerSnooze(program: Command): void {
  program
    .command('snooze')
    .description('no alerts for a Reservation for a while (sets spec.snoozeUntil with your kubeconfig\'s credentials)')
    .argument('<reservation>', 'NAMESPACE/NAME (or NAME in the context\'s namespace)')
    .option('--for <duration>', 'how long, e.g. 30m, 2h, 1h30m')
    .option('--clear', 'end a snooze now')
    .option('--kubeconfig <path>', 'default: KUBECONFIG, else ~/.kube/config, else in-cluster')
    .option('--context <name>', 'the kubeconfig context to use')
    .action(async (ref: string, flags: SnoozeFlags) => {
      process.exitCode = await runPatchCommand('snooze', () => snooze(ref, flags));
    });
}

async function snooze(ref: string, flags: SnoozeFlags, now = new Date()): Promise<string> {
  if (flags.clear && flags.for !== undefined) throw new UsageError('give --for or --clear, not both');
  if (flags.clear) {
    const stored = await patchReservationSpec(ref, flags, { snoozeUntil: null });
    return `${stored.key}: snooze cleared`;
  }
  if (flags.for === undefined) throw new UsageError('say for how long: --for 2h (or --clear to end a snooze)');
  let until: string;
  try {
    until = snoozeUntil(flags.for, now);
  } catch (err) {
    if (err instanceof SnoozeDurationError) throw new UsageError(`--for: ${err.message}`);
    throw err;
  }
  const stored = await patchReservationSpec(ref, flags, { snoozeUntil: until });
  return `${stored.key}: snoozed until ${stored.spec?.snoozeUntil ?? until}`;
}
