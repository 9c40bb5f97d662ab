// One `gotel operator` process for bench/scale.ts: started as a real process (as in a pod), its
// JSON log lines watched for the moment it says every deadline is re-armed, its peak RSS read from
// /proc/<pid>/status (VmHWM), and killed with SIGKILL.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** This checkout's CLI, unless BENCH_OPERATOR names another checkout's src/cli/main.ts (a before/after anchor). */
const MAIN = process.env.BENCH_OPERATOR ?? fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
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

export function startOperatorProcess(args: string[], nodeOptions: string[] = []): OperatorProcess {
  const startedAt = Date.now();
  const child = spawn(process.execPath, [...nodeOptions, MAIN, 'operator', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KUBECONFIG: '' } });
  let resolveRearmed: (t: number) => void = () => {};
  let rejectRearmed: (err: Error) => void = () => {};
  const rearmed = new Promise<number>((resolve, reject) => ((resolveRearmed = resolve), (rejectRearmed = reject)));
  rearmed.catch(() => {});
  let resolveMetrics: (url: string) => void = () => {};
  const metricsUrl = new Promise<string>((resolve) => (resolveMetrics = resolve));
  const phases = { listening: NaN, leader: NaN, firstPass: NaN };
  let cpuListening = NaN;
  let cpuRearmed = NaN;
  createInterface({ input: child.stdout }).on('line', (line) => {
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
