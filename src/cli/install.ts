// `gotel install DIR` (the single executable only): copies the executable itself into DIR as
// DIR/gotel. The GoTel image has no shell to run `cp` with, so a CronJob's init container runs
// `/gotel/gotel install /gotel-bin` to hand the client to the job's own container through an
// emptyDir (examples/gotel-run-cronjob.yaml).
import type { Command } from 'commander';
import { chmodSync, copyFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';

export function registerInstall(program: Command): void {
  program
    .command('install')
    .description('copy this executable into a directory as <dir>/gotel (an init container\'s way to hand it to a job)')
    .argument('<dir>', 'where to put gotel, e.g. an emptyDir shared with the job\'s container')
    .action((dir: string) => {
      process.exitCode = install(dir);
    });
}

function install(dir: string): number {
  const target = join(dir, 'gotel');
  const partial = join(dir, `.gotel-${process.pid}`);
  try {
    if (!statSync(dir).isDirectory()) throw new Error(`${dir} is not a directory`);
    // Copied under another name and renamed: the job never sees half an executable.
    copyFileSync(process.execPath, partial);
    chmodSync(partial, 0o755);
    renameSync(partial, target);
  } catch (err) {
    process.stderr.write(`gotel install: ${(err as Error).message}\n`);
    return 1;
  }
  process.stdout.write(`${target}\n`);
  return 0;
}
