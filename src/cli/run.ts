// `gotel run NS/NAME -- command args...`: wraps a job. It checks in `start` with a fresh run id,
// runs the command with stdin, stdout and stderr passed through and signals forwarded, then checks
// in the end with the exit code, the duration and the tail of the output, and exits with the
// command's own code (128+n when a signal ended it). A monitor must not break the job it watches:
// when GoTel cannot be reached the command still runs and the failure goes to stderr.
import type { Command } from 'commander';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { constants } from 'node:os';
import { CheckinFailed, clientConfig, parseReservationRef, sendCheckin, type ClientConfig, type ClientFlags } from './checkin-client.ts';

interface RunFlags extends ClientFlags {
  runId?: string;
  tailBytes?: string;
}

/** Signals passed on to the command (SIGKILL and SIGSTOP cannot be caught). */
export const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run a command and check in its start and end (exit code, duration, output tail)')
    .argument('<reservation>', 'NAMESPACE/NAME')
    .argument('<command...>', 'the command and its arguments (after --)')
    .option('--run-id <id>', 'run id (default: a fresh UUID)')
    .option('--tail-bytes <n>', 'how much of the end of the output to send (default 4096, at most 10240)')
    .option('--url <url>', 'GoTel base URL (env GOTEL_URL)')
    .option('--token <token>', 'bearer token (env GOTEL_TOKEN; default: the pod\'s ServiceAccount token)')
    .option('--token-file <path>', 'read the bearer token from a file (env GOTEL_TOKEN_FILE)')
    .option('--retries <n>', 'retries per check-in on network errors, 429 and 5xx (default 5)')
    .option('--timeout <seconds>', 'per attempt (default 10)')
    .action(async (ref: string, command: string[], flags: RunFlags) => {
      process.exitCode = await runWrapped(ref, command, flags);
    });
}

/** Keeps the last `max` bytes written. */
class Tail {
  private chunks: Buffer[] = [];
  private size = 0;
  private readonly max: number;
  constructor(max: number) {
    this.max = max;
  }
  push(chunk: Buffer): void {
    if (this.max <= 0) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.chunks.length > 1 && this.size - this.chunks[0]!.length >= this.max) this.size -= this.chunks.shift()!.length;
  }
  text(): string {
    const all = Buffer.concat(this.chunks);
    let s = all.subarray(Math.max(0, all.length - this.max)).toString('utf8');
    while (s.startsWith('\uFFFD')) s = s.slice(1); // a character cut in half
    return s;
  }
}

const warn = (msg: string): void => void process.stderr.write(`gotel run: ${msg}\n`);

export async function runWrapped(ref: string, command: string[], flags: RunFlags): Promise<number> {
  let cfg: ClientConfig | undefined;
  let target: { namespace: string; name: string } | undefined;
  try {
    target = parseReservationRef(ref);
    cfg = clientConfig(flags);
    if (!cfg.url) warn('no GoTel URL (--url or GOTEL_URL): running the command without check-ins');
  } catch (err) {
    // Bad monitoring configuration must not stop the job: say so and run it anyway.
    warn(`${err instanceof Error ? err.message : String(err)}: running the command without check-ins`);
    cfg = undefined;
  }
  const tailBytes = Math.min(10_240, Math.max(0, Number(flags.tailBytes ?? 4096) || 0));
  const runId = flags.runId ?? randomUUID();
  const report = cfg?.url && target ? { cfg, target } : undefined;

  const started = Date.now();
  const start = report
    ? sendCheckin(report.cfg, { ...report.target, kind: 'start', runId, source: 'cli' }, (why, delay) => warn(`start check-in: ${why}; retrying in ${(delay / 1000).toFixed(1)}s`)).then(
        () => true,
        (err: unknown) => {
          warn(`start check-in not stored: ${err instanceof CheckinFailed ? err.message : String(err)}`);
          return false;
        },
      )
    : Promise.resolve(false);

  const tail = new Tail(tailBytes);
  const { code, spawnError } = await runChild(command, tail);
  const durationSeconds = (Date.now() - started) / 1000;
  if (spawnError) warn(spawnError);

  if (report) {
    await start; // the end is sent after the start (when the start could be stored at all)
    const message = spawnError ?? tail.text().trimEnd();
    try {
      await sendCheckin(
        report.cfg,
        { ...report.target, kind: code, runId, durationSeconds, source: 'cli', ...(message ? { message } : {}) },
        (why, delay) => warn(`end check-in: ${why}; retrying in ${(delay / 1000).toFixed(1)}s`),
      );
    } catch (err) {
      warn(`end check-in (exit code ${code}) not stored: ${err instanceof CheckinFailed ? err.message : String(err)}`);
    }
  }
  return code;
}

/**
 * Runs `command` with signals forwarded and its output passed through (the tail kept); resolves
 * with its exit code as a shell would report it, or why it could not start.
 */
function runChild(command: string[], tail: Tail): Promise<{ code: number; spawnError?: string }> {
  const [file, ...args] = command;
  return new Promise((resolve) => {
    const child = spawn(file!, args, { stdio: ['inherit', 'pipe', 'pipe'] });
    const forward = (sig: NodeJS.Signals) => () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    };
    const handlers = FORWARDED_SIGNALS.map((sig) => [sig, forward(sig)] as const);
    for (const [sig, h] of handlers) process.on(sig, h);
    const unhook = (): void => {
      for (const [sig, h] of handlers) process.off(sig, h);
    };
    passThrough(child, child.stdout, process.stdout, tail);
    passThrough(child, child.stderr, process.stderr, tail);
    child.on('error', (err: NodeJS.ErrnoException) => {
      unhook();
      // As a shell would: 127 not found, 126 not executable.
      resolve({ code: err.code === 'ENOENT' ? 127 : 126, spawnError: `cannot run ${file}: ${err.message}` });
    });
    child.on('close', (exitCode, signal) => {
      unhook();
      if (exitCode !== null) resolve({ code: exitCode });
      else resolve({ code: 128 + (signal ? (constants.signals[signal] ?? 0) : 0) });
    });
  });
}

/**
 * Passes output through byte for byte (with backpressure); the tail keeps the end of it. When our
 * own output goes away (`gotel run ... | head -1`), the command gets the SIGPIPE it would have got
 * writing there itself, instead of this process crashing on EPIPE.
 */
function passThrough(child: ChildProcess, src: NodeJS.ReadableStream, dst: NodeJS.WriteStream, tail: Tail): void {
  let gone = false;
  dst.on('error', (err: NodeJS.ErrnoException) => {
    if (gone) return;
    gone = true;
    src.resume();
    if (err.code === 'EPIPE' && child.exitCode === null && child.signalCode === null) child.kill('SIGPIPE');
  });
  src.on('data', (c: Buffer) => {
    tail.push(c);
    if (gone) return;
    if (!dst.write(c)) {
      src.pause();
      dst.once('drain', () => src.resume());
    }
  });
}
