// Benchmark: durable check-ins against a local control plane (kube-apiserver + etcd on this
// machine). Each check-in is acknowledged only once the apiserver holds it: in the Reservation's
// status, or in the check-in journal when status writes are at their rate (as the operator runs).
// Success check-ins, each with its own run id. Prints check-ins per second, p50/p99/max
// acknowledgement time and apiserver writes per check-in (status writes, journal batches written
// and deleted), for one hot Reservation and for 100 Reservations, anonymous and with a
// ServiceAccount token (TokenReview + SubjectAccessReview, cached). After each scenario it waits
// until every check-in is folded into status and checks the counts there.
//
//   npm run bench:checkins      (BENCH_TOTAL=20000 BENCH_CONCURRENCY=128 BENCH_RATE=1000 BENCH_STATUS_WRITES=5 BENCH_SCENARIOS=1,2 to change)
//
// Through GoTel's own API (POST /checkin) against etcd with fsync on, side by side with the
// original GoTel: bench/checkins-gotel-api.ts (npm run bench:checkins:gotel-api).
//
// The load generator runs in a worker thread; the check-in server, the apiserver and etcd share
// the machine's cores with it. Rate limiting is off (its default, 100/s per Reservation, would be
// what is measured for the hot Reservation otherwise).
import { cpus, loadavg } from 'node:os';
import type { AddressInfo } from 'node:net';
import { Worker } from 'node:worker_threads';
import { KubeConfig } from '@kubernetes/client-node';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION, type Reservation } from '../src/api/reservation.ts';
import { ShardJournal } from '../src/checkin/journal.ts';
import { createCheckinApp } from '../src/checkin/router.ts';
import { CheckinStore } from '../src/checkin/store.ts';
import { startControlPlane } from '../src/dev/control-plane.ts';
import { Informer } from '../src/k8s/informer.ts';
import { KubeRest } from '../src/k8s/rest.ts';
import { StatusWriter, reservationPath } from '../src/k8s/status-writer.ts';

const TOTAL = Number(process.env.BENCH_TOTAL ?? 5_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 100);
/** The paced scenario's offered load: the target, 1,000 check-ins per second. */
const RATE = Number(process.env.BENCH_RATE ?? 1000);

const log = (s: string): void => void process.stderr.write(`${s}\n`);

async function eventuallyCached(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 50));
}

function pct(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function load(url: string, paths: string[], total: number, concurrency: number, token?: string, rate?: number) {
  const worker = new Worker(new URL('./checkins-load.ts', import.meta.url), { workerData: { url, paths, total, concurrency, ridPrefix: `${Date.now().toString(36)}-`, ...(token ? { token } : {}), ...(rate ? { rate } : {}) } });
  const result = await new Promise<{ latencies: Float64Array; elapsedMs: number; statuses: [number, number][]; journaled: number }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  return result;
}

/**
 * client-node's applyToHTTPSOptions replaces the request's agent with a new one (a new TLS
 * connection per request); this keeps KubeRest's keep-alive agent. A no-op once src/k8s/rest.ts
 * sets its agent after applyToHTTPSOptions. BENCH_KEEPALIVE_FIX=0 measures without it.
 */
class KeepAgentKubeConfig extends KubeConfig {
  override async applyToHTTPSOptions(opts: Parameters<KubeConfig['applyToHTTPSOptions']>[0]): Promise<void> {
    const agent = (opts as { agent?: unknown }).agent;
    await super.applyToHTTPSOptions(opts);
    if (agent) (opts as { agent?: unknown }).agent = agent;
  }
}
const keepAliveFix = process.env.BENCH_KEEPALIVE_FIX !== '0';

const plane = await startControlPlane({ name: 'bench', progress: log });
const kc = keepAliveFix ? new KeepAgentKubeConfig() : new KubeConfig();
kc.loadFromString(plane.kubeconfig);
const rest = new KubeRest(kc);
let writes = 0;
let journalWrites = 0;
const writer = new StatusWriter(rest, { onWrite: () => writes++ });
const journal = new ShardJournal(rest, { namespace: 'default', shard: 'bench', identity: 'bench', intervalMs: Number(process.env.BENCH_JOURNAL_INTERVAL ?? 20), onWrite: () => journalWrites++ });
const STATUS_WRITES = Number(process.env.BENCH_STATUS_WRITES ?? 5);
const store = new CheckinStore({ writer, journal, statusWritesPerSecond: STATUS_WRITES });
// As in the operator: Reservations for authentication come from an informer cache, not a GET.
const reservations = new Informer<Reservation>(rest, { path: `/apis/${GROUP}/${VERSION}/${PLURAL}`, onChange: () => {} });
reservations.start();
const app = createCheckinApp({ rest, writer, store, rateLimit: false, reservations: { get: (namespace, name) => reservations.get(`${namespace}/${name}`) } });
const server = app.listen(0, '127.0.0.1');
await new Promise((r) => server.once('listening', r));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

/** Waits until every acknowledged check-in is folded into status and its journal batch deleted; returns how long that took. */
async function settled(): Promise<number> {
  const t0 = performance.now();
  while (store.unfolded > 0 || journal.open > 0) await new Promise((r) => setTimeout(r, 10));
  return performance.now() - t0;
}

try {
  const ns = 'bench';
  await rest.request({ method: 'POST', path: '/api/v1/namespaces', body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } });
  const create = (name: string, anonymous: boolean) =>
    rest.request({ method: 'POST', path: `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${PLURAL}`, body: { apiVersion: API_VERSION, kind: KIND, metadata: { name }, spec: { every: '1m', anonymous } } });
  await create('hot', true);
  for (let i = 0; i < 100; i++) await create(`r${i}`, true);
  for (let i = 0; i < 100; i++) await create(`s${i}`, false);
  // A ServiceAccount allowed the verb checkin on every Reservation in the namespace.
  await rest.request({ method: 'POST', path: `/api/v1/namespaces/${ns}/serviceaccounts`, body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'job' } } });
  await rest.request({
    method: 'POST',
    path: `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles`,
    body: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'checkin' }, rules: [{ apiGroups: [GROUP], resources: [PLURAL], verbs: ['checkin'] }] },
  });
  await rest.request({
    method: 'POST',
    path: `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`,
    body: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'checkin' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'checkin' }, subjects: [{ kind: 'ServiceAccount', name: 'job', namespace: ns }] },
  });
  const token = (
    await rest.request<{ status: { token: string } }>({
      method: 'POST',
      path: `/api/v1/namespaces/${ns}/serviceaccounts/job/token`,
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
    })
  ).status.token;
  await reservations.waitForSync();
  await eventuallyCached(() => reservations.list().length >= 201);

  const hundred = (prefix: string) => Array.from({ length: 100 }, (_, i) => `${prefix}${i}`);
  const scenarios: { name: string; paths: string[]; token?: string; names: string[]; concurrency: number; rate?: number }[] = [
    { name: `1 hot Reservation, anonymous, ${CONCURRENCY} clients`, paths: [`/checkin/${ns}/hot`], names: ['hot'], concurrency: CONCURRENCY },
    { name: `100 Reservations, anonymous, ${CONCURRENCY} clients`, paths: hundred(`/checkin/${ns}/r`), names: hundred('r'), concurrency: CONCURRENCY },
    { name: `100 Reservations, anonymous, ${RATE}/s offered`, paths: hundred(`/checkin/${ns}/r`), names: hundred('r'), concurrency: CONCURRENCY, rate: RATE },
    { name: `100 Reservations, anonymous, ${4 * CONCURRENCY} clients`, paths: hundred(`/checkin/${ns}/r`), names: hundred('r'), concurrency: 4 * CONCURRENCY },
    { name: `100 Reservations, SA token, ${4 * CONCURRENCY} clients`, paths: hundred(`/checkin/${ns}/s`), names: hundred('s'), token, concurrency: 4 * CONCURRENCY },
  ];

  const only = process.env.BENCH_SCENARIOS?.split(',').map(Number);
  const chosen = only ? scenarios.filter((_, i) => only.includes(i + 1)) : scenarios;
  console.log(`GoTel durable check-ins: ${TOTAL} per scenario, ${cpus().length} cores (load average ${loadavg()[0]!.toFixed(1)} at start), kube-apiserver v1.36.3 + etcd (unsafe-no-fsync) on loopback${keepAliveFix ? '; KubeRest keeps its keep-alive agent' : '; KubeRest as is'}`);
  console.log(`check-in status writes: ${STATUS_WRITES}/s (--checkin-status-writes), then the journal`);
  console.log('scenario                                     | check-ins/s | p50 ms | p99 ms | max ms | writes/check-in (status + journal) | journaled | non-2xx');
  console.log('---------------------------------------------|-------------|--------|--------|--------|------------------------------------|-----------|--------');
  for (const s of chosen) {
    // Warm-up: connections, caches (TokenReview/SubjectAccessReview, Reservation reads), JIT.
    await load(url, s.paths, Math.min(1000, TOTAL), s.concurrency, s.token, s.rate);
    await settled();
    const before = new Map<string, number>();
    for (const n of s.names) before.set(n, (await rest.request<Reservation>({ method: 'GET', path: reservationPath(ns, n) })).status?.checkins ?? 0);
    writes = 0;
    journalWrites = 0;
    const r = await load(url, s.paths, TOTAL, s.concurrency, s.token, s.rate);
    const [w, jw] = [writes, journalWrites];
    const bad = r.statuses.filter(([code]) => code !== 200).reduce((a, [, n]) => a + n, 0);
    const journaled = r.journaled;
    const foldMs = await settled();
    let stored = 0;
    for (const n of s.names) stored += ((await rest.request<Reservation>({ method: 'GET', path: reservationPath(ns, n) })).status?.checkins ?? 0) - (before.get(n) ?? 0);
    const sorted = Float64Array.from(r.latencies).sort();
    const rate = TOTAL / (r.elapsedMs / 1000);
    const perCheckin = `${((w + jw) / TOTAL).toFixed(3)} (${(w / TOTAL).toFixed(3)} + ${(jw / TOTAL).toFixed(3)})`;
    console.log(
      `${s.name.padEnd(45)}| ${rate.toFixed(0).padStart(11)} | ${pct(sorted, 50).toFixed(1).padStart(6)} | ${pct(sorted, 99).toFixed(1).padStart(6)} | ${(sorted[sorted.length - 1] ?? 0).toFixed(0).padStart(6)} | ${perCheckin.padStart(34)} | ${String(journaled).padStart(9)} | ${String(bad).padStart(7)}`,
    );
    console.log(`  all folded into status ${foldMs.toFixed(0)} ms after the last answer; ${stored} counted in status for ${TOTAL - bad} acknowledged${stored === TOTAL - bad ? '' : '  !! MISMATCH'}`);
  }

  // A burst: 1,000 check-ins at once to one Reservation.
  await settled();
  writes = 0;
  journalWrites = 0;
  const burst = await load(url, [`/checkin/${ns}/hot`], 1000, 1000);
  await settled();
  const bs = Float64Array.from(burst.latencies).sort();
  console.log(`burst: 1000 simultaneous check-ins to one Reservation -> ${writes} status writes + ${journalWrites} journal writes (${((writes + journalWrites) / 1000).toFixed(3)} per check-in), all acknowledged in ${burst.elapsedMs.toFixed(0)} ms, p99 ${pct(bs, 99).toFixed(0)} ms`);
} finally {
  await journal.stop(true);
  await reservations.stop();
  server.close();
  server.closeAllConnections();
  rest.close();
  await plane.stop();
}
