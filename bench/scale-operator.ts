// One `gotel operator` process for bench/scale.ts: started as a real process (as in a pod): the
// compiled CLI (bin/gotel.js, dist/) with the operator's Node flags, as the image's ENTRYPOINT runs
// it; its JSON log lines watched for the moment it says every deadline is re-armed, its peak RSS
// read from /proc/<pid>/status (VmHWM), and killed with SIGKILL.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { OPERATOR_ENV, OPERATOR_NODE_FLAGS } from '../src/operator/node-flags.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The newest modification time of the files under `dir` (ms). */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/**
 * This checkout's compiled CLI, compiled first when src/ changed since (`npm run build`'s
 * compiler), unless BENCH_OPERATOR names another entry point: another checkout's bin/gotel.js or
 * src/cli/main.ts (a before/after anchor; a .ts entry point costs Node's type stripping at start,
 * about 28 MiB of RSS, docs/capacity.md).
 */
function operatorMain(): string {
  if (process.env.BENCH_OPERATOR) return process.env.BENCH_OPERATOR;
  const built = join(ROOT, 'dist/cli/main.js');
  let builtAt = 0;
  try {
    builtAt = statSync(built).mtimeMs;
  } catch {
    // not built yet
  }
  if (builtAt < newest(join(ROOT, 'src'))) {
    process.stderr.write('bench: compiling src/ to dist/ (the operator runs as the image runs it)\n');
    execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
  }
  return join(ROOT, 'bin/gotel.js');
}

const MAIN = operatorMain();
/** What the operator logs once its first pass as leader has judged every Reservation (src/operator/operator.ts). */
export const REARMED_MESSAGE = 'every deadline re-armed';

export interface OperatorProcess {
  readonly child: ChildProcess;
  readonly startedAt: number;
  /** Resolves with the epoch ms of the re-armed log line. */
  readonly rearmed: Promise<number>;
  /** Resolves with where its /metrics answers (from its 'operator listening' line). */
  readonly metricsUrl: Promise<string>;
  /** CPU seconds used so far (user + system, /proc/<pid>/stat); NaN once it exited. */
  cpuSeconds(): number;
  /** CPU seconds from its 'operator listening' line to the re-armed line: the caches' list and the first pass. */
  firstPassCpuSeconds(): number;
  /** Where the time to re-armed went: process start to 'operator listening', to 'became leader', and the first pass itself (ms). */
  phases(): { listening: number; leader: number; firstPass: number };
  /** Peak resident set size so far, MiB (VmHWM); NaN once it exited. */
  peakRssMiB(): number;
  kill(): Promise<void>;
}

export const OPERATOR_MAIN = MAIN;

/**
 * Starts `gotel operator` with the operator's Node flags (src/operator/node-flags.ts), then
 * `nodeOptions` (BENCH_NODE_OPTIONS: a later flag overrides, e.g. --max-semi-space-size=64).
 */
export function startOperatorProcess(args: string[], nodeOptions: string[] = []): OperatorProcess {
  const startedAt = Date.now();
  const child = spawn(process.execPath, [...OPERATOR_NODE_FLAGS, ...nodeOptions, MAIN, 'operator', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...OPERATOR_ENV, KUBECONFIG: '' } });
  let resolveRearmed: (t: number) => void = () => {};
  let rejectRearmed: (err: Error) => void = () => {};
  const rearmed = new Promise<number>((resolve, reject) => ((resolveRearmed = resolve), (rejectRearmed = reject)));
  rearmed.catch(() => {});
  let resolveMetrics: (url: string) => void = () => {};
  const metricsUrl = new Promise<string>((resolve) => (resolveMetrics = resolve));
  const phases = { listening: NaN, leader: NaN, firstPass: NaN };
  let cpuListening = NaN;
  let cpuRearmed = NaN;
  // BENCH_OPERATOR_LOG=<file>: every operator's log lines appended there (e.g. the alert groups' timings).
  const logFile = process.env.BENCH_OPERATOR_LOG ? createWriteStream(process.env.BENCH_OPERATOR_LOG, { flags: 'a' }) : undefined;
  createInterface({ input: child.stdout }).on('line', (line) => {
    logFile?.write(`${line}\n`);
    if (line.includes('"became leader"')) phases.leader = Date.now() - startedAt;
    if (line.includes(REARMED_MESSAGE)) {
      cpuRearmed = cpuSeconds();
      phases.firstPass = (JSON.parse(line) as { ms: number }).ms;
      resolveRearmed(Date.now());
    } else if (line.includes('"metricsUrl"')) {
      cpuListening = cpuSeconds();
      phases.listening = Date.now() - startedAt;
      resolveMetrics((JSON.parse(line) as { metricsUrl: string }).metricsUrl);
    }
    else if (/"level":(50|60)/.test(line)) process.stderr.write(`operator: ${line}\n`);
  });
  function cpuSeconds(): number {
    try {
      // Fields 14 and 15 (utime, stime) in clock ticks (100/s), counted after the ") " that ends the command name.
      const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(fields[11]) + Number(fields[12])) / 100;
    } catch {
      return NaN;
    }
  }
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => void (stderr = (stderr + c.toString()).slice(-4000)));
  child.once('exit', (code, signal) => rejectRearmed(new Error(`operator exited (${signal ?? code}) before re-arming: ${stderr}`)));
  return {
    child,
    startedAt,
    rearmed,
    metricsUrl,
    cpuSeconds,
    firstPassCpuSeconds: () => cpuRearmed - cpuListening,
    phases: () => phases,
    peakRssMiB() {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        return m ? Number(m[1]) / 1024 : NaN;
      } catch {
        return NaN;
      }
    },
    kill: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}
