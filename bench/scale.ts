// Benchmark: many Reservations on one `gotel operator` process, against a local control plane
// (kube-apiserver + etcd on this machine), alerting to loopback Slack-compatible webhooks limited
// like Slack's (about 1 message/s per webhook, a short burst, then 429 with Retry-After).
//
//   npm run bench:scale                          (10,000 Reservations, both runs)
//   npm run bench:scale -- --reservations 500 --spread 60s     (a quick check)
//   flags: --reservations N, --runs a,b (r: quiet restarts only, see quietRestarts), --spread 5m (run b), --receivers 4, --concurrency 32,
//          --wait 60s (after the last deadline; --hold: the whole of it, even once all are named), --lead (time before the first deadline; default
//          grows with N), BENCH_NODE_OPTIONS="--heapsnapshot-signal=SIGUSR2" for the operator's
//          node (after its own flags, src/operator/node-flags.ts, so they can be overridden),
//          BENCH_OPERATOR=/path/to/other/checkout/bin/gotel.js (or src/cli/main.ts) to measure
//          another version; BENCH_OPERATOR_LOG=<file> appends the operators' log lines there. By default the operator is this checkout's compiled CLI, as the
//          image runs it (bench/scale-operator.ts compiles src/ first when it changed).
//
// Half the Reservations follow a cron schedule, half `every`; none checks in, so each misses its
// first run and gets one alert. Run (a): every deadline falls in the same minute. Run (b): the
// deadlines are spread evenly over --spread. For each run it prints: Reservations alerted (in
// status, and named in a received message), messages per receiver, p50/p99/max from each
// Reservation's deadline (status.deadline as judged) to the first message naming it, the
// operator's peak RSS (VmHWM, MiB), and the time from SIGKILL to the restarted process's
// "every deadline re-armed" log line (the restart is done before the deadlines, so the alerts come
// from re-armed timers). Also what capacity planning needs (docs/capacity.md): bytes per
// Reservation, status writes per Reservation, operator CPU per reconcile.
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION, type Reservation, type ReservationSpec } from '../src/api/reservation.ts';
import { startControlPlane, type ControlPlane } from '../src/dev/control-plane.ts';
import { parseDuration } from '../src/core/duration.ts';
import { KubeRest } from '../src/k8s/rest.ts';
import { startLimitedReceiver, type LimitedReceiver } from './scale-receiver.ts';
import { OPERATOR_MAIN, startOperatorProcess, type OperatorProcess } from './scale-operator.ts';
import { OPERATOR_ENV, OPERATOR_NODE_FLAGS } from '../src/operator/node-flags.ts';

const { values: flags } = parseArgs({
  options: {
    reservations: { type: 'string', default: '10000' },
    runs: { type: 'string', default: 'a,b' },
    spread: { type: 'string', default: '5m' },
    receivers: { type: 'string', default: '4' },
    concurrency: { type: 'string', default: '32' },
    wait: { type: 'string', default: '60s' },
    lead: { type: 'string' },
    hold: { type: 'boolean', default: false },
  },
});
const N = Number(flags.reservations);
const RECEIVERS = Number(flags.receivers);
const CONCURRENCY = Number(flags.concurrency);
const SPREAD_MS = parseDuration(flags.spread);
const WAIT_MS = parseDuration(flags.wait);
/** --hold: run the whole --wait even once every Reservation is named, so the peak RSS includes the status writes that trail the alerts. */
const HOLD = flags.hold;
/**
 * Creating N objects and the operator's first status write for each must end before the first
 * deadline, so that the restart measured before the deadlines is a quiet one (a restart while
 * thousands of first writes are still due waits for them: its first pass ends after its writes).
 */
const LEAD_MS = flags.lead ? parseDuration(flags.lead) : Math.max(60_000, 40_000 + N * 45);
const GRACE_S = 10;
const NODE_OPTIONS = (process.env.BENCH_NODE_OPTIONS ?? '').split(' ').filter(Boolean);

const log = (s: string): void => void process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** Runs `task(i)` for i < n with at most `limit` in flight. */
async function pool(n: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, n) }, async () => {
    while (next < n) await task(next++);
  }));
}

/** Adds the members of the alert groups stored in `ns` (ConfigMaps gotel-alert-group-<id>) to `into`. */
async function readGroups(rest: KubeRest, ns: string, into: Map<string, string[]>): Promise<void> {
  const list = await rest.request<{ items: { metadata: { name: string; labels?: Record<string, string> }; data?: Record<string, string> }[] }>({
    method: 'GET',
    path: `/api/v1/namespaces/${ns}/configmaps?labelSelector=${encodeURIComponent('gotel.io/alert-group')}`,
  });
  for (const cm of list.items) {
    const id = cm.metadata.labels?.['gotel.io/alert-group'];
    const json = cm.data?.['group.json'];
    if (!id || !json || into.has(id) || cm.metadata.name.endsWith('-sent')) continue;
    const group = JSON.parse(json) as { members?: { namespace: string; name: string }[] };
    into.set(id, (group.members ?? []).map((m) => `${m.namespace}/${m.name}`));
  }
}

/** Every Reservation of the namespace, in pages (as an informer would list them). */
async function listAll(rest: KubeRest, ns: string): Promise<Reservation[]> {
  const items: Reservation[] = [];
  let token: string | undefined;
  do {
    const page = await rest.request<{ items: Reservation[]; metadata: { continue?: string } }>({
      method: 'GET',
      path: `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${PLURAL}?limit=1000${token ? `&continue=${encodeURIComponent(token)}` : ''}`,
    });
    items.push(...page.items);
    token = page.metadata.continue || undefined;
  } while (token);
  return items;
}

/** A Prometheus text metric's value (the sum of the series whose labels contain every `match`). */
function metric(text: string, name: string, match: string[] = []): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== '{' && line[name.length] !== ' ')) continue;
    if (match.every((m) => line.includes(m))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

async function apiserverStatusWrites(rest: KubeRest): Promise<number> {
  const text = await rest.request<string>({ method: 'GET', path: '/metrics' });
  return metric(text, 'apiserver_request_total', ['resource="reservations"', 'subresource="status"', 'verb="PATCH"', 'code="200"']);
}

/** The spec of Reservation i: its first deadline is `deadline` (epoch ms, whole seconds); cron for even i, every for odd. */
function specFor(i: number, deadline: number, secret: string): ReservationSpec {
  const notify = [{ slack: { urlSecretRef: { name: secret } } }];
  if (i % 2 === 0) {
    // A cron run at the minute before the deadline; the grace makes up the seconds.
    // The minute before the deadline, at least a second before it: a grace must be positive.
    const minute = Math.floor((deadline - 1000) / 60_000) * 60_000;
    const at = new Date(minute);
    return { schedule: `${at.getUTCMinutes()} ${at.getUTCHours()} * * *`, timeZone: 'UTC', grace: `${Math.round((deadline - minute) / 1000)}s`, notify };
  }
  // The first expected run is creationTimestamp (whole seconds) + every.
  const every = Math.max(1, Math.round((deadline - GRACE_S * 1000 - Date.now()) / 1000));
  return { every: `${every}s`, grace: `${GRACE_S}s`, notify };
}

interface RunResult {
  name: string;
  created: number;
  createSeconds: number;
  firstPassSeconds: number;
  alertedInStatus: number;
  /** Reservations whose alert entry is marked delivered in status. */
  deliveredInStatus: number;
  /** Named only through the group their status records (its record was gone before the bench read it). */
  creditedFromStatus: number;
  named: number;
  messages: { path: string; accepted: number; refused: number }[];
  latencies: number[];
  peakRssMiB: number;
  idleRssMiB: number;
  restartToRearmedMs: number;
  spawnToRearmedMs: number;
  bytesPerReservation: number;
  statusWritesFirstPass: number;
  statusWritesAlerting: number;
  cpuPerReconcileMs: number;
  firstPassCpuMs: number;
}

const plane: ControlPlane = await startControlPlane({ name: 'bench-scale', progress: log });
const kc = new KubeConfig();
kc.loadFromString(plane.kubeconfig);
const rest = new KubeRest(kc);

async function operatorFor(ns: string, kind: string): Promise<OperatorProcess> {
  const op = startOperatorProcess(
    [
      `--kubeconfig=${plane.kubeconfigPath}`,
      `--namespaces=${ns}`,
      '--listen=127.0.0.1:0',
      '--metrics-listen=127.0.0.1:0',
      // A fixed identity, as a restarted pod keeps its name: the new process takes its own Lease at once.
      `--identity=bench-${kind}`,
      `--leader-election-namespace=${ns}`,
      '--log-level=info',
    ],
    NODE_OPTIONS,
  );
  await op.rearmed;
  return op;
}

async function reconcileCpu(op: OperatorProcess): Promise<{ cpu: number; reconciles: number }> {
  const text = await (await fetch(`${await op.metricsUrl}/metrics`)).text();
  return { cpu: op.cpuSeconds(), reconciles: metric(text, 'gotel_reconcile_seconds_count') };
}

async function run(kind: 'a' | 'b'): Promise<RunResult> {
  const spread = kind === 'a' ? 0 : SPREAD_MS;
  const ns = `scale-${kind}`;
  const keyRe = new RegExp(`${ns}/(r-\\d+)`, 'g');
  const receiver: LimitedReceiver = await startLimitedReceiver({ perSecond: 1, burst: 3, names: (body) => [...body.matchAll(keyRe)].map((m) => m[0]) });
  try {
    await rest.request({ method: 'POST', path: '/api/v1/namespaces', body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } });
    for (let j = 0; j < RECEIVERS; j++) {
      await rest.request({ method: 'POST', path: `/api/v1/namespaces/${ns}/secrets`, body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: `slack-${j}` }, stringData: { url: receiver.urlFor(`services/${ns}/hook-${j}`) } } });
    }
    let op = await operatorFor(ns, kind);
    // The anchor: the same process before any Reservation exists.
    await sleep(2000);
    const idleRssMiB = op.peakRssMiB();
    const first = Math.ceil((Date.now() + LEAD_MS) / 60_000) * 60_000 + GRACE_S * 1000;
    log(`run ${kind}: ${N} Reservations, first deadline ${new Date(first).toISOString()}, spread ${spread / 1000}s`);
    const writesBefore = await apiserverStatusWrites(rest);
    const t0 = Date.now();
    let created = 0;
    await pool(N, CONCURRENCY, async (i) => {
      const deadline = first + Math.floor((i / N) * spread / 1000) * 1000;
      const body = { apiVersion: API_VERSION, kind: KIND, metadata: { name: `r-${i}`, labels: { bench: ns } }, spec: specFor(i, deadline, `slack-${i % RECEIVERS}`) };
      await rest.request({ method: 'POST', path: `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${PLURAL}`, body });
      if (++created % 2000 === 0) log(`  created ${created}`);
    });
    const createSeconds = (Date.now() - t0) / 1000;
    log(`  created ${created} in ${createSeconds.toFixed(1)} s; waiting for the operator's first judgement of each`);
    let items: Reservation[] = [];
    for (;;) {
      items = await listAll(rest, ns);
      const judged = items.filter((r) => r.status?.deadline).length;
      if (judged >= N || Date.now() > first - 10_000) break;
      await sleep(3000);
    }
    const firstPassSeconds = (Date.now() - t0) / 1000;
    const deadlines = new Map(items.filter((r) => r.status?.deadline).map((r) => [`${ns}/${r.metadata.name}`, Date.parse(r.status!.deadline!)]));
    const bytesPerReservation = items.reduce((a, r) => a + JSON.stringify(r).length, 0) / Math.max(1, items.length);
    const statusWritesFirstPass = (await apiserverStatusWrites(rest)) - writesBefore;
    log(`  ${deadlines.size} judged after ${firstPassSeconds.toFixed(1)} s; ${((first - Date.now()) / 1000).toFixed(0)} s before the first deadline`);

    // SIGKILL and restart before the deadlines: the alerts then come from re-armed timers.
    const peakBefore = op.peakRssMiB();
    const killedAt = Date.now();
    await op.kill();
    op = startOperatorProcess(
      [`--kubeconfig=${plane.kubeconfigPath}`, `--namespaces=${ns}`, '--listen=127.0.0.1:0', '--metrics-listen=127.0.0.1:0', `--identity=bench-${kind}`, `--leader-election-namespace=${ns}`, '--log-level=info'],
      NODE_OPTIONS,
    );
    const rearmedAt = await op.rearmed;
    const restartToRearmedMs = rearmedAt - killedAt;
    const spawnToRearmedMs = rearmedAt - op.startedAt;
    const firstPassCpuMs = (op.firstPassCpuSeconds() * 1000) / Math.max(1, deadlines.size);
    const cpuStart = await reconcileCpu(op);
    const p = op.phases();
    log(`  SIGKILL -> re-armed ${restartToRearmedMs} ms (spawn -> re-armed ${spawnToRearmedMs} ms: listening ${p.listening} ms, leader ${p.leader} ms, first pass ${p.firstPass} ms)`);

    const writesAlertsBefore = await apiserverStatusWrites(rest);
    const last = Math.max(...deadlines.values());
    // Who each alert group names, read from its stored record (written before it is sent).
    const groupMembers = new Map<string, string[]>();
    const credit = (): void => {
      for (const [id, at] of receiver.groupArrivals) {
        for (const key of groupMembers.get(id) ?? []) if ((receiver.firstNamed.get(key) ?? Infinity) > at) receiver.firstNamed.set(key, at);
      }
    };
    while ((HOLD || receiver.firstNamed.size < deadlines.size) && Date.now() < last + WAIT_MS) {
      await readGroups(rest, ns, groupMembers);
      credit();
      await sleep(500);
    }
    const cpuEnd = await reconcileCpu(op);
    const statusWritesAlerting = (await apiserverStatusWrites(rest)) - writesAlertsBefore;
    const peakRssMiB = Math.max(peakBefore, op.peakRssMiB());
    await op.kill();
    const final = await listAll(rest, ns);
    const alertedInStatus = final.filter((r) => r.status?.alert?.firing === true || (r.status?.alert?.notifications ?? 0) > 0).length;
    // A group's record is deleted once every member's status names the group, which at a steady
    // pace can happen between two reads above: the status then says which group named it.
    let creditedFromStatus = 0;
    let deliveredInStatus = 0;
    for (const r of final) {
      const key = `${ns}/${r.metadata.name}`;
      const entry = r.status?.alert?.outbox?.find((e) => e.kind === 'alert' && e.deliveredTime);
      if (entry) deliveredInStatus++;
      const at = entry?.group ? receiver.groupArrivals.get(entry.group) : undefined;
      if (at === undefined || (receiver.firstNamed.get(key) ?? Infinity) <= at) continue;
      if (!receiver.firstNamed.has(key)) creditedFromStatus++;
      receiver.firstNamed.set(key, at);
    }
    const latencies = [...deadlines].filter(([key]) => receiver.firstNamed.has(key)).map(([key, d]) => (receiver.firstNamed.get(key)! - d) / 1000).sort((x, y) => x - y);
    const messages = [...receiver.counts()].map(([path, c]) => ({ path, ...c })).sort((x, y) => x.path.localeCompare(y.path));
    const reconciles = cpuEnd.reconciles - cpuStart.reconciles;
    return {
      name: kind === 'a' ? `(a) all due in one minute` : `(b) spread over ${spread / 1000} s`,
      created,
      createSeconds,
      firstPassSeconds,
      alertedInStatus,
      deliveredInStatus,
      creditedFromStatus,
      named: receiver.firstNamed.size,
      messages,
      latencies,
      peakRssMiB,
      idleRssMiB,
      restartToRearmedMs,
      spawnToRearmedMs,
      bytesPerReservation,
      statusWritesFirstPass,
      statusWritesAlerting,
      firstPassCpuMs,
      cpuPerReconcileMs: reconciles > 0 ? ((cpuEnd.cpu - cpuStart.cpu) * 1000) / reconciles : NaN,
    };
  } finally {
    await receiver.close();
  }
}

/**
 * Run (r): quiet restarts. N Reservations whose deadlines are far away, all first-judged; then
 * SIGKILL and restart three times, each timed from the kill to the "every deadline re-armed" line.
 */
async function quietRestarts(): Promise<void> {
  const ns = 'scale-r';
  await rest.request({ method: 'POST', path: '/api/v1/namespaces', body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } });
  let op = await operatorFor(ns, 'r');
  const t0 = Date.now();
  await pool(N, CONCURRENCY, async (i) => {
    const spec = i % 2 === 0 ? { schedule: '0 3 1 1 *', timeZone: 'UTC' } : { every: '6h' };
    await rest.request({ method: 'POST', path: `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${PLURAL}`, body: { apiVersion: API_VERSION, kind: KIND, metadata: { name: `r-${i}` }, spec } });
  });
  log(`run r: created ${N} in ${((Date.now() - t0) / 1000).toFixed(1)} s; waiting for every first judgement`);
  while ((await listAll(rest, ns)).filter((x) => x.status?.deadline).length < N) await sleep(5000);
  const judgedSeconds = (Date.now() - t0) / 1000;
  const times: string[] = [];
  let peak = op.peakRssMiB();
  for (let k = 0; k < 3; k++) {
    peak = Math.max(peak, op.peakRssMiB());
    const killedAt = Date.now();
    await op.kill();
    op = startOperatorProcess([`--kubeconfig=${plane.kubeconfigPath}`, `--namespaces=${ns}`, '--listen=127.0.0.1:0', '--metrics-listen=127.0.0.1:0', '--identity=bench-r', `--leader-election-namespace=${ns}`, '--log-level=info'], NODE_OPTIONS);
    const at = await op.rearmed;
    const p = op.phases();
    times.push(`${((at - killedAt) / 1000).toFixed(2)} s (listening ${(p.listening / 1000).toFixed(1)} s, leader ${(p.leader / 1000).toFixed(1)} s, first pass ${(p.firstPass / 1000).toFixed(1)} s)`);
    await sleep(3000);
  }
  peak = Math.max(peak, op.peakRssMiB());
  const restartedPeak = op.peakRssMiB();
  await op.kill();
  console.log(`\n(r) quiet restarts: ${N} Reservations, deadlines hours away, all first-judged after ${judgedSeconds.toFixed(0)} s`);
  console.log(`  SIGKILL -> every deadline re-armed: ${times.join('; ')} (after the process started)`);
  console.log(`  operator peak RSS (VmHWM): ${peak.toFixed(0)} MiB over the run; ${restartedPeak.toFixed(0)} MiB for a process that listed all ${N} at start`);
}

function print(r: RunResult): void {
  const l = r.latencies;
  console.log(`\n${r.name}: ${r.created} Reservations (created in ${r.createSeconds.toFixed(1)} s, ${(r.created / r.createSeconds).toFixed(0)}/s; all first-judged after ${r.firstPassSeconds.toFixed(1)} s)`);
  console.log(`  alerted: ${r.alertedInStatus} with an alert in status, ${r.deliveredInStatus} marked delivered; ${r.named} named in a received message (a grouped one names every member of its group; ${r.creditedFromStatus} of them found only through the group their status records)`);
  console.log(`  messages per receiver (accepted / refused 429): ${r.messages.map((m) => `${m.path.split('/').pop()} ${m.accepted}/${m.refused}`).join(', ')}`);
  console.log(`  deadline -> first message naming it: p50 ${pct(l, 50).toFixed(2)} s, p99 ${pct(l, 99).toFixed(2)} s, max ${(l[l.length - 1] ?? NaN).toFixed(2)} s (over the ${l.length} named)`);
  console.log(`  operator peak RSS (VmHWM): ${r.peakRssMiB.toFixed(0)} MiB (the same process with no Reservation yet: ${r.idleRssMiB.toFixed(0)} MiB)`);
  console.log(`  SIGKILL -> every deadline re-armed: ${(r.restartToRearmedMs / 1000).toFixed(2)} s (process start -> re-armed ${(r.spawnToRearmedMs / 1000).toFixed(2)} s)`);
  console.log(`  per Reservation: ${r.bytesPerReservation.toFixed(0)} bytes as stored (JSON); status writes ${(r.statusWritesFirstPass / r.created).toFixed(2)} for its first judgement, ${(r.statusWritesAlerting / r.created).toFixed(2)} for its alert; operator CPU ${r.firstPassCpuMs.toFixed(2)} ms per Reservation in the restart's list and first pass (no write), ${r.cpuPerReconcileMs.toFixed(2)} ms per reconcile while alerting (the sends included)`);
}

try {
  console.log(`GoTel at scale: ${N} Reservations (half cron, half every), one gotel operator process, ${RECEIVERS} Slack-like webhooks (1 message/s, burst 3, then 429 Retry-After); ${cpus().length} cores, load average ${loadavg()[0]!.toFixed(1)} at start; kube-apiserver + etcd on loopback; operator ${Object.entries(OPERATOR_ENV).map(([k, v]) => `${k}=${v} `).join('')}${OPERATOR_MAIN} ${[...OPERATOR_NODE_FLAGS, ...NODE_OPTIONS].join(' ')}`);
  for (const kind of flags.runs.split(',') as ('a' | 'b' | 'r')[]) {
    if (kind === 'r') await quietRestarts();
    else print(await run(kind));
  }
  console.log(`\nload average at the end: ${loadavg()[0]!.toFixed(1)}`);
} finally {
  rest.close();
  await plane.stop();
}
