// The soak: GoTel as it runs for real, under the faults it must survive, judged afterwards
// against a plan known in advance (README "Development", docs/soak.md).
//
// A local control plane (etcd + kube-apiserver), two `gotel operator` replicas as processes of
// their own, a loopback Slack-compatible receiver, and 24 Reservations (`every` 30/45/60 s,
// start/end pairs with maxRuntime, cron every minute) whose simulated jobs check in on time,
// skip runs, report failure or run too long (bench/soak-plan.ts). Faults on a timetable: the
// leader SIGKILLed (its process group; it starts again 10 s later), the apiserver stopped for
// ~60 s, the receiver answering 5xx, 429 and dropping connections for stretches. Jobs retry a
// refused check-in (503, 429, no answer) every ~2 s on the other replica, as clients do.
// Afterwards (bench/soak-check.ts) it prints false alerts, silent misses, duplicates, lost
// check-ins and the outage notices per apiserver outage, and exits 1 if any invariant failed.
//
//   npm run bench:soak                       # 10 minutes of plan, then a drain of 1-4 minutes
//   npm run bench:soak -- --duration 3m      # a quick run while developing
//   flags: --seed N (the plan), --keep (leave the logs directory), --analyze DIR/observations.json
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION, type OutboxEntry, type Reservation } from '../src/api/reservation.ts';
import { parseDuration } from '../src/core/duration.ts';
import { startControlPlane, type ControlPlane } from '../src/dev/control-plane.ts';
import { startSlackReceiver, type ReceiverAction } from '../src/dev/slack-receiver.ts';
import { leasePath, type Lease } from '../src/k8s/leader-election.ts';
import { KubeRest } from '../src/k8s/rest.ts';
import { loadKubeConfig } from '../src/operator/kubeconfig.ts';
import { parseRecords, type ConfigMap } from '../src/operator/outage-record.ts';
import { checkSoak, type Attempt, type GroupMemberSeen, type SentCheckin, type SoakObservations } from './soak-check.ts';
import { OVERRUN_EXTRA_MS, PAIR_RUN_MS, planRuns, random, soakFaults, soakReservations, type Fault, type PlannedRun, type SoakReservation } from './soak-plan.ts';

const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const NS = 'soak';
const CATCH_UP_MS = 60_000;
/** A job gives up on a check-in this long after its run started (it would be the next run's by then). */
const GIVE_UP_MS = 4 * 60_000;

const { values: flags } = parseArgs({ options: { duration: { type: 'string', default: '10m' }, seed: { type: 'string', default: '20261202' }, keep: { type: 'boolean', default: false }, analyze: { type: 'string' } } });
const durationMs = parseDuration(flags.duration, '--duration');
const seed = Number(flags.seed);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)).unref());
const say = (text: string): void => void process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${text}\n`);
const logDir = mkdtempSync(join(tmpdir(), 'gotel-soak-'));

// ---- the replicas ------------------------------------------------------------------------------

class Replica {
  child?: ChildProcess;
  identity = '';
  private starts = 0;
  readonly name: string;
  readonly port: number;
  private readonly args: string[];
  constructor(name: string, port: number, args: string[]) {
    this.name = name;
    this.port = port;
    this.args = args;
  }
  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }
  start(): void {
    this.identity = `soak-${this.name}-${++this.starts}`;
    const log = openSync(join(logDir, `${this.identity}.log`), 'a');
    // Its own process group, so SIGKILL takes everything it started, as a pod's kill would.
    this.child = spawn(process.execPath, [MAIN, 'operator', ...this.args, `--listen=127.0.0.1:${this.port}`, `--identity=${this.identity}`], { stdio: ['ignore', log, log], detached: true, env: { ...process.env, KUBECONFIG: '' } });
  }
  get alive(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }
  async signal(sig: 'SIGKILL' | 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || !this.alive) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    try {
      process.kill(-child.pid!, sig);
    } catch {
      // gone already
    }
    const timer = setTimeout(() => this.alive && process.kill(-child.pid!, 'SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  }
}

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

// ---- the jobs -----------------------------------------------------------------------------------

/** One check-in, retried on the other replica until acknowledged 2xx (or given up). */
async function checkIn(replicas: Replica[], run: PlannedRun, signal: SentCheckin['signal'], record: SentCheckin[], stopAt: () => number): Promise<void> {
  const c: SentCheckin = { reservation: run.reservation, rid: run.rid, signal, run, attempts: [] };
  const suffix = signal === 'success' ? '' : `/${signal}`;
  let which = run.index % replicas.length;
  while (Date.now() < Math.min(run.at + GIVE_UP_MS, stopAt())) {
    const replica = replicas[which++ % replicas.length]!;
    const sentAt = Date.now();
    let status = 0;
    let retryAfter = 0;
    try {
      const res = await fetch(`${replica.base}/checkin/${NS}/${run.reservation}${suffix}?rid=${encodeURIComponent(run.rid)}`, { method: 'POST', signal: AbortSignal.timeout(15_000) });
      status = res.status;
      retryAfter = Number(res.headers.get('retry-after') ?? 0);
      await res.arrayBuffer();
    } catch {
      // no answer: status stays 0
    }
    const attempt: Attempt = { sentAt, answeredAt: Date.now(), status, replica: replica.identity };
    if (c.attempts.length === 0) record.push(c); // only check-ins that were sent at all
    c.attempts.push(attempt);
    if (status >= 200 && status < 300) {
      c.acked = attempt;
      return;
    }
    if (status >= 400 && status < 500 && status !== 429) return; // refused for good: the check will say
    // No answer (a replica killed): the other one at once; 503/429: after Retry-After (at most 2 s).
    if (status !== 0) await sleep(Math.min(2, retryAfter || 2) * 1000 * (0.75 + Math.random() * 0.5));
    else if (c.attempts.at(-2)?.status === 0) await sleep(1_000); // neither replica answers
  }
}

/** Runs one planned run at its time: what the job does in it. */
async function runJob(replicas: Replica[], r: SoakReservation, run: PlannedRun, record: SentCheckin[], stopAt: () => number, stopped: Promise<void>): Promise<void> {
  await Promise.race([sleep(run.at - Date.now()), stopped]);
  if (Date.now() >= stopAt()) return;
  if (run.action === 'skip') return;
  if (r.kind !== 'pair') return checkIn(replicas, run, run.action === 'fail' ? 'fail' : 'success', record, stopAt);
  await checkIn(replicas, run, 'start', record, stopAt);
  await Promise.race([sleep(run.at + (run.action === 'long' ? (r.maxRuntimeMs ?? 0) + OVERRUN_EXTRA_MS : PAIR_RUN_MS) - Date.now()), stopped]);
  await checkIn(replicas, run, run.action === 'fail' ? 'fail' : 'success', record, stopAt);
}

// ---- what the Reservations' outboxes and the stored groups say ---------------------------------

class Watcher {
  readonly entries = new Map<string, OutboxEntry>();
  readonly groups = new Map<string, GroupMemberSeen[]>();
  private timer?: NodeJS.Timeout;
  private readonly rest: KubeRest;
  constructor(rest: KubeRest) {
    this.rest = rest;
  }
  start(): void {
    const tick = async (): Promise<void> => {
      await this.poll().catch(() => {});
      this.timer = setTimeout(() => void tick(), 1_000);
    };
    void tick();
  }
  stop(): void {
    clearTimeout(this.timer);
  }
  async poll(): Promise<Reservation[]> {
    const list = await this.rest.request<{ items: Reservation[] }>({ method: 'GET', path: `/apis/${GROUP}/${VERSION}/namespaces/${NS}/${PLURAL}`, timeoutMs: 5_000 });
    for (const r of list.items) {
      for (const e of r.status?.alert?.outbox ?? []) {
        this.entries.set(`${r.metadata.name}|${e.id}`, e);
        if (e.group) this.addMember(e.group, { reservation: r.metadata.name, kind: e.kind, reason: e.reason, dueTime: e.dueTime, entryId: e.id });
      }
    }
    const cms = await this.rest.request<{ items: ConfigMap[] }>({ method: 'GET', path: `/api/v1/namespaces/${NS}/configmaps?labelSelector=gotel.io%2Falert-group`, timeoutMs: 5_000 });
    for (const cm of cms.items) {
      const text = cm.data?.['group.json'];
      if (!text || cm.metadata.name.endsWith('-sent')) continue;
      const g = JSON.parse(text) as { id: string; kind: OutboxEntry['kind']; reason: string; members: { name: string; entryId: string; dueTime: string }[] };
      for (const m of g.members) this.addMember(g.id, { reservation: m.name, kind: g.kind, reason: g.reason, dueTime: m.dueTime, entryId: m.entryId });
    }
    return list.items;
  }
  private addMember(group: string, member: GroupMemberSeen): void {
    const members = this.groups.get(group) ?? [];
    if (!members.some((m) => m.reservation === member.reservation && m.entryId === member.entryId)) members.push(member);
    this.groups.set(group, members);
  }
}

// ---- the soak -----------------------------------------------------------------------------------

async function leader(rest: KubeRest): Promise<string | undefined> {
  const lease = await rest.request<Lease>({ method: 'GET', path: leasePath(NS, 'gotel-leader'), timeoutMs: 5_000 }).catch(() => undefined);
  return lease?.spec.holderIdentity || undefined;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

/** Receiver failure stretches: what it answers now, if not the usual 200. */
let receiverMode: ReceiverAction | undefined;

async function main(): Promise<number> {
  say(`duration ${flags.duration}, seed ${seed}, logs in ${logDir}; ${cpus().length} cores, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const plane: ControlPlane = await startControlPlane({ name: 'soak', progress: (m) => say(m) });
  const rest = new KubeRest(loadKubeConfig(plane.kubeconfigPath));
  const receiver = await startSlackReceiver({ mode: () => receiverMode });
  const replicas: Replica[] = [];
  const watcher = new Watcher(rest);
  const cleanup = async (): Promise<void> => {
    watcher.stop();
    await Promise.all(replicas.map((r) => r.signal('SIGKILL')));
    await receiver.close();
    rest.close();
    await plane.stop();
  };
  process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));
  try {
    await rest.request({ method: 'POST', path: '/api/v1/namespaces', body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } } });
    const args = [`--kubeconfig=${plane.kubeconfigPath}`, `--namespaces=${NS}`, `--leader-election-namespace=${NS}`, '--metrics-listen=127.0.0.1:0', `--slack-webhook-url=${receiver.url}`, '--log-level=info'];
    for (const name of ['a', 'b']) replicas.push(new Replica(name, await freePort(), args));
    for (const r of replicas) r.start();
    await until('both replicas ready', async () => (await Promise.all(replicas.map((r) => fetch(`${r.base}/readyz`).then((x) => x.ok)))).every(Boolean), 60_000);
    await until('a leader', async () => (await leader(rest)) !== undefined, 60_000);

    // The Reservations, and each one's plan from its creation on.
    const reservations = soakReservations();
    const rand = random(seed);
    const start = Date.now();
    const endMs = start + durationMs;
    const runs: PlannedRun[] = [];
    for (const r of reservations) {
      await rest.request({ method: 'POST', path: `/apis/${GROUP}/${VERSION}/namespaces/${NS}/${PLURAL}`, body: { apiVersion: API_VERSION, kind: KIND, metadata: { name: r.name }, spec: r.spec } });
      runs.push(...planRuns(r, Date.now(), endMs, endMs + 5 * 60_000, rand));
    }
    const plannedBad = runs.filter((x) => x.at <= endMs && x.action !== 'ok').length;
    say(`${reservations.length} Reservations, ${runs.filter((x) => x.at <= endMs).length} runs planned, ${plannedBad} of them bad; leader ${await leader(rest)}`);
    watcher.start();

    const checkins: SentCheckin[] = [];
    let stopJobs = Infinity;
    let jobsStopped: () => void = () => {};
    const stopped = new Promise<void>((r) => (jobsStopped = r));
    const byName = new Map(reservations.map((r) => [r.name, r]));
    const jobs = runs.map((run) => runJob(replicas, byName.get(run.reservation)!, run, checkins, () => stopJobs, stopped));

    // The faults, in order, at their times.
    const apiserverDown: { from: number; to: number }[] = [];
    const faults = soakFaults(durationMs);
    const fault = async (f: Fault): Promise<void> => {
      await sleep(start + f.atMs - Date.now());
      if (f.kind === 'kill-leader') {
        const id = await leader(rest);
        const victim = replicas.find((r) => r.identity === id);
        if (!victim) return say(`kill-leader: no leader to kill (${id ?? 'none'})`);
        say(`SIGKILL leader ${id}`);
        await victim.signal('SIGKILL');
        await sleep(f.forMs);
        victim.start();
        say(`started ${victim.identity} again`);
      } else if (f.kind === 'apiserver') {
        say(`stopping the apiserver for ${f.forMs / 1000}s`);
        await plane.halt('kube-apiserver');
        const from = Date.now();
        await sleep(f.forMs);
        const to = Date.now();
        apiserverDown.push({ from, to });
        await plane.restart('kube-apiserver');
        say(`the apiserver is back (ready ${((Date.now() - to) / 1000).toFixed(1)} s after its start)`);
      } else {
        receiverMode = f.kind === 'receiver-5xx' ? 'server_error' : f.kind === 'receiver-429' ? { retryAfter: 3 } : 'drop';
        say(`receiver: ${f.kind} for ${f.forMs / 1000}s`);
        await sleep(f.forMs);
        receiverMode = undefined;
        say('receiver: answering 200 again');
      }
    };
    let chain = Promise.resolve();
    for (const f of faults) chain = chain.then(() => fault(f));
    await chain;

    // The plan's end, then the drain: jobs go on checking in on time while GoTel delivers what is
    // pending and the last outage's notice, at least 60 s and at most 4 minutes.
    await sleep(endMs - Date.now());
    say('plan over; draining (jobs keep checking in on time)');
    const drainEnd = Date.now() + 4 * 60_000;
    await until('alerts and notices delivered', async () => {
      const items = await watcher.poll();
      const pending = items.some((r) => (r.status?.alert?.outbox ?? []).some((e) => !e.deliveredTime && !e.failedPermanently));
      const cm = await rest.request<ConfigMap>({ method: 'GET', path: `/api/v1/namespaces/${NS}/configmaps/gotel-outages`, timeoutMs: 5_000 }).catch(() => undefined);
      const open = parseRecords(cm).some((r) => !r.notice?.done);
      return Date.now() > endMs + 60_000 && !pending && !open;
    }, drainEnd - Date.now()).catch((err: Error) => say(`${err.message}: judging what was delivered`));

    // Stop GoTel before the jobs, so no run is judged after its job stopped.
    await Promise.all(replicas.map((r) => r.signal('SIGTERM')));
    stopJobs = Date.now();
    jobsStopped();
    await Promise.all(jobs);
    const items = await watcher.poll();
    watcher.stop();
    const cm = await rest.request<ConfigMap>({ method: 'GET', path: `/api/v1/namespaces/${NS}/configmaps/gotel-outages`, timeoutMs: 5_000 }).catch(() => undefined);
    const observations: SoakObservations = {
      reservations,
      runs,
      checkins,
      messages: receiver.delivered.map((m) => ({ time: m.time.getTime(), body: m.body })),
      entries: watcher.entries,
      groups: watcher.groups,
      final: new Map(items.map((r) => [r.metadata.name, { checkins: r.status?.checkins ?? 0, ...(r.status?.runKeys ? { runKeys: r.status.runKeys } : {}), ...(r.status?.outageRuns ? { outageRuns: r.status.outageRuns } : {}) }])),
      outages: parseRecords(cm),
      apiserverDown,
      catchUpMs: CATCH_UP_MS,
      endMs,
      now: Date.now(),
    };
    // Everything the verdict is made of, to read again later.
    writeFileSync(join(logDir, 'observations.json'), JSON.stringify({ ...observations, entries: [...observations.entries], groups: [...observations.groups], final: [...observations.final] }));
    const report = checkSoak(observations);
    writeFileSync(join(logDir, 'report.json'), JSON.stringify({ flags, report, received: receiver.received.length, delivered: receiver.delivered.length }, null, 1));
    print(report, { received: receiver.received.length, delivered: receiver.delivered.length, minutes: (Date.now() - start) / 60_000 });
    return report.failures.length === 0 ? 0 : 1;
  } finally {
    await cleanup();
    if (!flags.keep) rmSync(logDir, { recursive: true, force: true });
  }
}

function print(r: ReturnType<typeof checkSoak>, extra: { received: number; delivered: number; minutes: number }): void {
  const list = (xs: string[]): string => (xs.length === 0 ? '' : `\n    ${xs.slice(0, 20).join('\n    ')}${xs.length > 20 ? `\n    …and ${xs.length - 20} more` : ''}`);
  const lines = [
    `soak: ${flags.duration} of plan (${extra.minutes.toFixed(1)} min in all), seed ${seed}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`,
    `runs: ${Object.entries(r.runs).map(([k, v]) => `${v} ${k}`).join(', ')}`,
    `check-ins: ${r.checkins.sent} sent, ${r.checkins.acked} acknowledged; answers ${JSON.stringify(r.checkins.answers)}`,
    `  lost (acknowledged, not in status): ${r.checkins.lost}; counted twice: ${r.checkins.countedTwice}; 2xx while the apiserver was stopped: ${r.checkins.ackedWhileApiserverDown}`,
    `alerts: ${r.alerts.delivered} delivered for ${r.alerts.expected} bad runs to alert, ${r.alerts.matched} matched; recoveries ${r.alerts.recoveries}; receiver saw ${extra.received} requests, accepted ${extra.delivered}`,
    `  false alerts: ${r.alerts.falseAlerts.length}${list(r.alerts.falseAlerts)}`,
    `  allowed by the outage policy (acknowledged after the catch-up): ${r.alerts.allowedLate.length}${list(r.alerts.allowedLate)}`,
    `  silent misses: ${r.alerts.silentMisses.length}${list(r.alerts.silentMisses)}`,
    `  bad runs GoTel could not see as bad (their check-ins refused in an outage, acknowledged late): ${r.alerts.unseen.length}${list(r.alerts.unseen)}`,
    `  duplicates: ${r.alerts.duplicates.length}${list(r.alerts.duplicates)}`,
    `  alerts without their recovery: ${r.alerts.unrecovered.length}${list(r.alerts.unrecovered)}`,
    `  messages matched to no outbox entry: ${r.alerts.unresolvedMessages}`,
    `outages: ${r.outages.induced} apiserver stops; notices delivered per stop: ${JSON.stringify(r.outages.noticesPerInduced)}`,
    ...r.outages.records.map((x) => `  record ${x.id} ${x.start}–${x.end} (${x.causes.join(', ')}): ${x.reservations} Reservations, ${x.notices} notice(s)`),
    `  skipped runs due in an outage: ${r.outageRuns.skipsDue} (named in the notice: ${r.outageRuns.inNotice}; answered by a later check-in in the catch-up: ${r.outageRuns.answeredByLaterCheckin.length}); alerted anyway: ${r.outageRuns.alerted}${list(r.outageRuns.answeredByLaterCheckin)}`,
    r.failures.length === 0 ? 'soak: every invariant held' : `soak: FAILED\n  ${r.failures.join('\n  ')}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** `--analyze DIR/observations.json`: the verdict again on a kept run's observations (the checker changed). */
function analyze(file: string): number {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as SoakObservations & { entries: [string, OutboxEntry][]; groups: [string, GroupMemberSeen[]][]; final: [string, never][] };
  const observations: SoakObservations = { ...raw, entries: new Map(raw.entries), groups: new Map(raw.groups), final: new Map(raw.final) };
  const report = checkSoak(observations);
  print(report, { received: NaN, delivered: observations.messages.length, minutes: (observations.now - observations.runs.reduce((m, r) => Math.min(m, r.at), Infinity)) / 60_000 });
  return report.failures.length === 0 ? 0 : 1;
}

if (flags.analyze) {
  rmSync(logDir, { recursive: true, force: true });
  process.exit(analyze(flags.analyze));
}

process.exitCode = await main().catch((err: unknown) => {
  say(`soak failed to run: ${err instanceof Error ? err.stack : String(err)}`);
  return 2;
});
