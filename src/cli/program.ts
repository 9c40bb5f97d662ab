// The `gotel` program shared by the full CLI (main.ts) and the single executable a job carries
// (exe.ts): its name, version, and the client commands that need neither the operator nor the
// local control plane.
import { Command } from 'commander';
import { registerCheckin } from './checkin.ts';
import { registerRun } from './run.ts';
import { registerSidecar } from './sidecar.ts';
import { registerSnooze } from './snooze.ts';
import { registerSuspend } from './suspend.ts';
import { packageVersion } from './version.ts';

export function baseProgram(): Command {
  const version = packageVersion();
  const program = new Command('gotel')
    .description('GoTel: makes sure scheduled work actually happens')
    .version(version, '-V, --version', 'print the version')
    .showHelpAfterError();
  program
    .command('version')
    .description('print the version')
    .action(() => void process.stdout.write(`${version}\n`));
  return program;
}

/** check-ins from a job (checkin, run, sidecar) and people's commands (snooze, suspend, resume). */
export function registerClients(program: Command): Command {
  registerCheckin(program);
  registerRun(program);
  registerSidecar(program);
  registerSnooze(program);
  registerSuspend(program);
  return program;
}
