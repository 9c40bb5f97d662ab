// `gotel checkin NS/NAME [--start|--fail|--log|--exit-code N] [--run-id ID] [--message M]`:
// one check-in from a shell. Prints GoTel's answer (state, next deadline); exits 0 once it is
// stored, 1 when it could not be, 2 on bad usage.
import type { Command } from 'commander';
import { CheckinFailed, clientConfig, parseReservationRef, sendCheckin, UsageError, type CheckinKind, type ClientFlags } from './checkin-client.ts';

interface CheckinFlags extends ClientFlags {
  start?: boolean;
  fail?: boolean;
  log?: boolean;
  exitCode?: string;
  runId?: string;
  message?: string;
  duration?: string;
  json?: boolean;
}

export function registerCheckin(program: Command): void {
  program
    .command('checkin')
    .description('check in for a Reservation (success unless --start, --fail, --log or --exit-code)')
    .argument('<reservation>', 'NAMESPACE/NAME')
    .option('--start', 'a run started')
    .option('--fail', 'a run failed')
    .option('--log', 'a message only, not judged')
    .option('--exit-code <n>', 'a run ended with this exit code (0 = success)')
    .option('--run-id <id>', 'pairs a start with its end')
    .option('-m, --message <text>', 'a message stored with the check-in')
    .option('--duration <seconds>', 'how long the run took')
    .option('--url <url>', 'GoTel base URL (env GOTEL_URL)')
    .option('--token <token>', 'bearer token (env GOTEL_TOKEN; default: the pod\'s ServiceAccount token)')
    .option('--token-file <path>', 'read the bearer token from a file (env GOTEL_TOKEN_FILE)')
    .option('--retries <n>', 'retries on network errors, 429 and 5xx (default 5)')
    .option('--timeout <seconds>', 'per attempt (default 10)')
    .option('--json', 'print GoTel\'s whole answer as JSON')
    .action(async (ref: string, flags: CheckinFlags) => {
      process.exitCode = await runCheckin(ref, flags);
    });
}

export async function runCheckin(ref: string, flags: CheckinFlags): Promise<number> {
  try {
    const target = parseReservationRef(ref);
    const chosen = [flags.start, flags.fail, flags.log, flags.exitCode !== undefined].filter(Boolean).length;
    if (chosen > 1) throw new UsageError('give at most one of --start, --fail, --log, --exit-code');
    let kind: CheckinKind = 'success';
    if (flags.start) kind = 'start';
    else if (flags.fail) kind = 'fail';
    else if (flags.log) kind = 'log';
    else if (flags.exitCode !== undefined) {
      const n = Number(flags.exitCode);
      if (!/^\d+$/.test(flags.exitCode) || n > 255) throw new UsageError('--exit-code must be a whole number from 0 to 255');
      kind = n;
    }
    let durationSeconds: number | undefined;
    if (flags.duration !== undefined) {
      durationSeconds = Number(flags.duration);
      if (!Number.isFinite(durationSeconds) || durationSeconds < 0) throw new UsageError('--duration must be a number of seconds');
    }
    const cfg = clientConfig(flags);
    const answer = await sendCheckin(
      cfg,
      {
        ...target,
        kind,
        ...(flags.runId ? { runId: flags.runId } : {}),
        ...(flags.message ? { message: flags.message } : {}),
        ...(durationSeconds !== undefined ? { durationSeconds } : {}),
      },
      (why, delay) => process.stderr.write(`gotel checkin: ${why}; retrying in ${(delay / 1000).toFixed(1)}s\n`),
    );
    if (flags.json) process.stdout.write(`${JSON.stringify(answer.body)}\n`);
    else {
      const b = answer.body as { state?: string; deadline?: string; nextExpectedTime?: string; duplicate?: boolean; checkins?: number };
      const parts = [`${target.namespace}/${target.name}: stored${b.duplicate ? ' (already had it)' : ''}`];
      if (b.state) parts.push(`state ${b.state}`);
      if (b.deadline) parts.push(`next deadline ${b.deadline}`);
      process.stdout.write(`${parts.join('; ')}\n`);
    }
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`gotel checkin: ${err.message}\n`);
      return 2;
    }
    if (err instanceof CheckinFailed) {
      process.stderr.write(`gotel checkin: not stored: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
