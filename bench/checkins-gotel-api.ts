// Benchmark: durable check-ins through GoTel's own API (`POST /checkin {app, component}`), side
// by side with the original GoTel in one run. 100 reservations, 50 keep-alive connections, the
// same load generator (bench/checkins-load.ts, in a worker thread) for both. GoTel runs as the
// real `gotel operator` process(es) against kube-apiserver + etcd with etcd's fsync ON (a check-in
// is acknowledged only once etcd has it on disk: docs/architecture.md, promise 1).
//
//   npm run bench:checkins:gotel-api
//   GOTEL_ORIGINAL_URL=http://127.0.0.1:8080 npm run bench:checkins:gotel-api
//
// The original GoTel is not part of this project: give the address of one already running (on
// MariaDB with innodb_flush_log_at_trx_commit=1 and sync_binlog=1 for the same promise), and it
// is measured in the same run with the same reservations and load; without it the line says
// "original: skipped". docs/throughput.md says how it was run for the figures there.
//
// Settings: BENCH_TOTAL (20000 per round), BENCH_CONCURRENCY (50), BENCH_RESERVATIONS (100),
// BENCH_ROUNDS (2: GoTel and the original take turns), BENCH_REPLICAS (1: GoTel operator processes;
// connections are spread over them), BENCH_OPERATOR_NODE_ARGS (e.g. "--cpu-prof
// --cpu-prof-dir=/tmp/prof" to profile the operator under the load).
//
// After each round it waits until every acknowledged check-in is counted (GoTel: the
// Reservations' status.checkins; the original: number_of_checkins from its GET /reservation)
// and prints both counts.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { KubeConfig } from '@kubernetes/client-node';
import type { Reservation } from '../src/api/reservation.ts';
import { startControlPlane } from '../src/dev/control-plane.ts';
import { KubeRest } from '../src/k8s/rest.ts';
import { reservationPath } from '../src/k8s/status-writer.ts';
import { gotelName } from '../src/checkin/gotel-api.ts';

const TOTAL = Number(process.env.BENCH_TOTAL ?? 20_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 50);
const RESERVATIONS = Number(process.env.BENCH_RESERVATIONS ?? 100);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const REPLICAS = Number(process.env.BENCH_REPLICAS ?? 1);
const ORIGINAL = process.env.GOTEL_ORIGINAL_URL;
/** Process ids of the original GoTel and its MariaDB, to count their CPU time (optional). */
const ORIGINAL_PIDS = (process.env.GOTEL_ORIGINAL_PIDS ?? '').split(/[ ,]+/).filter(Boolean).map(Number);
const NS = 'bench';
const APP = 'bench';
const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

const log = (s: string): void => void process.stderr.write(`${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface LoadResult {
  latencies: Float64Array;
  elapsedMs: number;
  statuses: [number, number][];
}

function load(urls: string[], total: number): Promise<LoadResult> {
  const components = Array.from({ length: RESERVATIONS }, (_, i) => `c${i}`);
  const bodies = components.map((component) => JSON.stringify({ app: APP, component, notes: 'bench' }));
  // One worker per address, the connections split between them.
  const runs = urls.map((url, i) => {
    const share = Math.floor(total / urls.length) + (i < total % urls.length ? 1 : 0);
    const concurrency = Math.floor(CONCURRENCY / urls.length) + (i < CONCURRENCY % urls.length ? 1 : 0);
    const worker = new Worker(new URL('./checkins-load.ts', import.meta.url), {
      workerData: { url, paths: ['/checkin'], bodies, ackMarker: '"success":true', total: share, concurrency, ridPrefix: '' },
    });
    return new Promise<LoadResult>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    }).finally(() => void worker.terminate());
  });
  return Promise.all(runs).then((rs) => {
    const statuses = new Map<number, number>();
    for (const r of rs) for (const [code, n] of r.statuses) statuses.set(code, (statuses.get(code) ?? 0) + n);
    const latencies = new Float64Array(rs.reduce((a, r) => a + r.latencies.length, 0));
    let at = 0;
    for (const r of rs) {
      latencies.set(r.latencies, at);
      at += r.latencies.length;
    }
    return { latencies, elapsedMs: Math.max(...rs.map((r) => r.elapsedMs)), statuses: [...statuses] };
  });
}

/**
 * CPU seconds the processes have used (user + system, from /proc): the cost of a check-in
 * whatever else the machine runs, where check-ins per second depend on what the other
 * processes leave.
 */
function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone, or no /proc: counted as nothing
    }
  }
  return ticks / 100;
}

function pct(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function postJson(url: string, body: unknown): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, text: await res.text() };
}

/** The same reservations for both: GoTel's API takes the original's POST /reservation body. */
async function reserve(url: string): Promise<void> {
  for (let i = 0; i < RESERVATIONS; i++) {
    const r = await postJson(`${url}/reservation`, { app: APP, component: `c${i}`, owner: 'bench@example.com', notify: 'bench@example.com', frequency: 5, time_units: 'minutes' });
    if (r.status >= 300 || !r.text.includes('OK')) throw new Error(`POST ${url}/reservation: ${r.status} ${r.text.slice(0, 200)}`);
  }
}

async function waitReady(url: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`the operator exited (${child.exitCode})`);
    const ok = await fetch(`${url}/readyz`).then((r) => r.ok, () => false);
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`${url}/readyz never answered 200`);
}

const plane = await startControlPlane({ name: 'bench-api', progress: log, fsync: true });
const kc = new KubeConfig();
kc.loadFromString(plane.kubeconfig);
const rest = new KubeRest(kc);
const operators: ChildProcess[] = [];
const metricsUrls: string[] = [];

/** Journal batches the operators have written (their /metrics). */
async function journalCreates(): Promise<number> {
  let n = 0;
  for (const url of metricsUrls) {
    const text = await (await fetch(url)).text();
    n += Number(/^gotel_checkin_journal_batches_total\{op="create"\} (\d+)/m.exec(text)?.[1] ?? 0);
  }
  return n;
}

/** GoTel's count: the Reservations' status.checkins, summed. */
async function gotelCount(): Promise<number> {
  let n = 0;
  for (let i = 0; i < RESERVATIONS; i++) n += (await rest.request<Reservation>({ method: 'GET', path: reservationPath(NS, gotelName(APP, `c${i}`)) })).status?.checkins ?? 0;
  return n;
}

/** The original's count: number_of_checkins of its reservations, from its GET /reservation. */
async function originalCount(url: string): Promise<number> {
  const list = (await (await fetch(`${url}/reservation`)).json()) as { result?: { app: string; number_of_checkins: number }[] };
  return (list.result ?? []).filter((r) => r.app === APP).reduce((a, r) => a + r.number_of_checkins, 0);
}

interface System {
  name: string;
  urls: string[];
  count: () => Promise<number>;
  /** The count before the first check-in of the benchmark, and check-ins acknowledged since (warm-ups too). */
  base: number;
  acked: number;
  /** Its server processes (CPU time); empty when unknown. */
  pids: number[];
  pidNames: string[];
  /** Writes to its store so far, where known (GoTel: journal batches). */
  writes?: () => Promise<number>;
  rounds: { cpuMs: number; rate: number; p50: number; p99: number; max: number; acked: number; counted: number; bad: number }[];
}

/** Waits (up to 60 s) until the count has grown by every check-in acknowledged so far; returns the growth seen. */
async function counted(system: System): Promise<number> {
  let grown = 0;
  for (let i = 0; i < 240; i++) {
    grown = (await system.count()) - system.base;
    if (grown >= system.acked) break;
    await sleep(250);
  }
  return grown;
}

const ackedIn = (r: LoadResult): number => r.statuses.find(([code]) => code === 200)?.[1] ?? 0;

async function round(system: System): Promise<void> {
  system.acked += ackedIn(await load(system.urls, Math.min(2000, TOTAL))); // warm-up: connections, JIT, caches
  await sleep(500);
  const cpu0 = system.pids.map((pid) => cpuSeconds([pid]));
  const writes0 = await system.writes?.();
  const r = await load(system.urls, TOTAL);
  const writes = writes0 === undefined ? undefined : (await system.writes!()) - writes0;
  const perProcess = system.pids.map((pid, i) => ((cpuSeconds([pid]) - cpu0[i]!) * 1000) / TOTAL);
  const cpuMs = perProcess.reduce((a, b) => a + b, 0);
  const acked = ackedIn(r);
  system.acked += acked;
  // Every check-in acknowledged so far (warm-ups included) is counted: not one lost, none twice.
  const grown = await counted(system);
  const sorted = Float64Array.from(r.latencies).sort();
  const row = { cpuMs, rate: TOTAL / (r.elapsedMs / 1000), p50: pct(sorted, 50), p99: pct(sorted, 99), max: sorted[sorted.length - 1] ?? 0, acked: system.acked, counted: grown, bad: TOTAL - acked };
  system.rounds.push(row);
  const split = system.pids.length ? `  CPU ms per check-in by process: ${perProcess.map((ms, i) => `${system.pidNames[i]} ${ms.toFixed(3)}`).join(', ')}` : '';
  console.log(
    `${system.name.padEnd(34)}| ${row.rate.toFixed(0).padStart(11)} | ${row.p50.toFixed(1).padStart(6)} | ${row.p99.toFixed(1).padStart(6)} | ${row.max.toFixed(0).padStart(6)} | ${String(acked).padStart(6)} | ${`${grown}/${system.acked}`.padStart(13)}${grown === system.acked ? '' : ' !! MISMATCH'} | ${String(row.bad).padStart(7)} | ${system.pids.length ? cpuMs.toFixed(3).padStart(6) : '     -'}`,
  );
  if (split) console.log(`${split}${writes === undefined ? '' : `; ${writes} journal writes, ${(TOTAL / Math.max(1, writes)).toFixed(1)} check-ins per write`}`);
}

try {
  await rest.request({ method: 'POST', path: '/api/v1/namespaces', body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } } });
  const extraNode = (process.env.BENCH_OPERATOR_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const urls: string[] = [];
  for (let i = 0; i < REPLICAS; i++) {
    const port = await freePort();
    const metricsPort = await freePort();
    metricsUrls.push(`http://127.0.0.1:${metricsPort}/metrics`);
    const url = `http://127.0.0.1:${port}`;
    const child = spawn(
      process.execPath,
      [
        ...extraNode,
        MAIN,
        'operator',
        `--kubeconfig=${plane.kubeconfigPath}`,
        `--namespaces=${NS}`,
        `--listen=127.0.0.1:${port}`,
        `--metrics-listen=127.0.0.1:${metricsPort}`,
        `--identity=bench-${i}`,
        `--leader-election-namespace=${NS}`,
        '--gotel-api',
        `--gotel-api-namespace=${NS}`,
        // The original GoTel has no authentication: compared like for like.
        '--gotel-api-anonymous',
        '--log-level=warn',
      ],
      { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, KUBECONFIG: '' } },
    );
    operators.push(child);
    await waitReady(url, child);
    urls.push(url);
  }
  await reserve(urls[0]!);
  const systems: System[] = [{ name: `GoTel (${REPLICAS} operator${REPLICAS > 1 ? 's' : ''}, etcd fsync)`, urls, count: gotelCount, base: 0, acked: 0, pids: [...plane.pids, ...operators.map((o) => o.pid!)], pidNames: ['etcd', 'kube-apiserver', ...operators.map((_, i) => `operator-${i}`)], writes: journalCreates, rounds: [] }];
  if (ORIGINAL) {
    await reserve(ORIGINAL);
    systems.push({ name: 'original GoTel (MariaDB, fsync)', urls: [ORIGINAL], count: () => originalCount(ORIGINAL), base: 0, acked: 0, pids: ORIGINAL_PIDS, pidNames: ORIGINAL_PIDS.map((_, i) => (i === 0 ? 'gotel' : i === 1 ? 'mariadbd' : `pid-${i}`)), rounds: [] });
  }
  for (const s of systems) s.base = await s.count();
  // Every operator knows the last reservation (its informer has them all) before the load.
  for (const url of urls) {
    for (let i = 0; i < 200; i++) {
      const r = await postJson(`${url}/checkin`, { app: APP, component: `c${RESERVATIONS - 1}` });
      if (r.status === 200 && r.text.includes('"success":true')) {
        systems[0]!.acked++;
        break;
      }
      await sleep(50);
    }
  }

  console.log(`POST /checkin {app, component}: ${TOTAL} per round, ${RESERVATIONS} reservations, ${CONCURRENCY} connections, ${ROUNDS} round(s) in turn; ${cpus().length} cores (load average ${loadavg()[0]!.toFixed(1)} at start)`);
  console.log('GoTel: kube-apiserver v1.36.3 + etcd with fsync on loopback, anonymous GoTel API; acknowledged = 200 with "success":true');
  console.log('system                            | check-ins/s | p50 ms | p99 ms | max ms |  acked | counted/acked | not ack | CPU ms/check-in');
  console.log('----------------------------------|-------------|--------|--------|--------|--------|---------------|---------|----------------');
  for (let i = 0; i < ROUNDS; i++) for (const s of systems) await round(s);
  if (!ORIGINAL) console.log('original: skipped (no source: set GOTEL_ORIGINAL_URL to a running original GoTel)');
  else {
    const mean = (s: System, f: (r: System['rounds'][number]) => number) => s.rounds.reduce((a, r) => a + f(r), 0) / s.rounds.length;
    const [g, o] = systems as [System, System];
    if (o.pids.length) console.log(`CPU per check-in (servers and their stores): GoTel ${mean(g, (r) => r.cpuMs).toFixed(3)} ms, original ${mean(o, (r) => r.cpuMs).toFixed(3)} ms (${(mean(o, (r) => r.cpuMs) / mean(g, (r) => r.cpuMs)).toFixed(2)}x less for GoTel)`);
    const ratio = mean(g, (r) => r.rate) / mean(o, (r) => r.rate);
    const p99 = Math.max(...g.rounds.map((r) => r.p99));
    console.log(
      `ratio GoTel / original: ${ratio.toFixed(2)}x the rate (mean of ${ROUNDS} rounds: ${mean(g, (r) => r.rate).toFixed(0)}/s vs ${mean(o, (r) => r.rate).toFixed(0)}/s), p99 ${mean(g, (r) => r.p99).toFixed(1)} ms vs ${mean(o, (r) => r.p99).toFixed(1)} ms`,
    );
    // The target of docs/throughput.md: twice the rate, every round's p99 within 100 ms.
    console.log(`target (>= 2x the rate, p99 <= 100 ms in every round): ${ratio >= 2 && p99 <= 100 ? 'met' : 'not met'} (${ratio.toFixed(2)}x, worst p99 ${p99.toFixed(1)} ms)`);
  }
  const all = systems.flatMap((s) => s.rounds);
  console.log(all.every((r) => r.counted === r.acked) ? 'every acknowledged check-in counted' : '!! some acknowledged check-ins are not counted');
} finally {
  await Promise.all(
    operators.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        }),
    ),
  );
  rest.close();
  await plane.stop();
}
