// Jobs that check in by themselves: for a Reservation whose spec.jobRef names a CronJob (or a
// Job), GoTel watches batch/v1 Jobs and derives check-ins without any change to the job's code:
//
//   the Job has status.startTime             -> start   (runId = the Job's uid)
//   condition Complete=True                  -> success (durationSeconds = completion - start)
//   condition Failed=True                    -> fail    (message = reason: message, e.g. DeadlineExceeded)
//
// A Job belongs to a CronJob through its controller ownerReference (what the CronJob controller
// sets). Check-ins are idempotent: (runId = Job uid, signal) is stored once however often it is
// sent (the core drops a repeat still in status.recent), and this watcher remembers what it has
// stored. After a restart it sees every Job again; a Job that ended before the Reservation
// existed, or before the oldest check-in still in a full status.recent, is skipped as already
// counted (or too old to matter), and so is its start.
//
// Where it runs: correct on every replica (two replicas storing the same check-in race on
// resourceVersion and the loser finds a duplicate), but wasteful; the operator gives it
// `isLeader` so only the leader writes. A Job seen while not leading is handled at the next
// resync after leadership arrives (every `resyncMs`, default 30 s).
import type { Logger } from 'pino';
import type { Checkin, Reservation } from '../api/reservation.ts';
import { GROUP, LIMITS, PLURAL, VERSION } from '../api/reservation.ts';
import type { CheckinInput } from '../core/index.ts';
import { Informer } from '../k8s/informer.ts';
import type { KubeRest } from '../k8s/rest.ts';
import type { StatusWriter } from '../k8s/status-writer.ts';
import { silentLogger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { storeCheckin, type ResolveSpec } from './store.ts';

export interface BatchJob {
  metadata: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    creationTimestamp?: string;
    ownerReferences?: { apiVersion?: string; kind?: string; name?: string; uid?: string; controller?: boolean }[];
  };
  status?: {
    startTime?: string;
    completionTime?: string;
    conditions?: { type?: string; status?: string; reason?: string; message?: string; lastTransitionTime?: string }[];
  };
}

export interface JobWatcherDeps {
  rest: KubeRest;
  writer: StatusWriter;
  /** Namespaces to watch; empty or absent = all. */
  namespaces?: string[];
  /** The operator's Reservation cache (all namespaces it watches); else the watcher runs its own informers. */
  reservations?: { list(): Reservation[] };
  /** When given, only store while this is true (the leader). */
  isLeader?: () => boolean;
  logger?: Logger;
  metrics?: Metrics;
  clock?: () => Date;
  /** The Reservation as the judge sees it (jobRef → the CronJob's schedule); see storeCheckin. */
  resolveSpec?: ResolveSpec;
  /** How often every known Job is looked at again (catches up after gaining leadership, retries failures). */
  resyncMs?: number;
}

interface Derived {
  input: CheckinInput;
  /** When the event happened by the Job's own clock (for the already-counted check). */
  at?: number;
}

const ms = (s: string | undefined): number | undefined => {
  if (!s) return undefined;
  const t = Date.parse(s);
  return Number.isFinite(t) ? t : undefined;
};

/** The check-ins a Job's status implies, in order. */
export function checkinsForJob(job: BatchJob): Derived[] {
  const uid = job.metadata.uid;
  if (!uid) return [];
  const name = job.metadata.name ?? '';
  const st = job.status ?? {};
  const out: Derived[] = [];
  const start = ms(st.startTime);
  if (st.startTime) out.push({ input: { signal: 'start', runId: uid, source: 'job', message: `Job ${name} started` }, ...(start !== undefined ? { at: start } : {}) });
  const cond = (type: string) => st.conditions?.find((c) => c.type === type && c.status === 'True');
  const complete = cond('Complete');
  const failed = cond('Failed');
  const end = complete ?? failed;
  if (end) {
    const endAt = ms(complete ? (st.completionTime ?? end.lastTransitionTime) : end.lastTransitionTime);
    const durationSeconds = start !== undefined && endAt !== undefined && endAt >= start ? (endAt - start) / 1000 : undefined;
    const input: CheckinInput = complete
      ? { signal: 'success', runId: uid, source: 'job', exitCode: 0, message: `Job ${name} completed` }
      : {
          signal: 'fail',
          runId: uid,
          source: 'job',
          message: `Job ${name} failed: ${failed?.reason ?? 'Failed'}${failed?.message ? `: ${failed.message}` : ''}`,
        };
    if (durationSeconds !== undefined) input.durationSeconds = Math.round(durationSeconds * 1000) / 1000;
    out.push({ input, ...(endAt !== undefined ? { at: endAt } : {}) });
  }
  return out;
}

/** The CronJob that controls a Job, if any. */
export function owningCronJob(job: BatchJob): string | undefined {
  const ref = job.metadata.ownerReferences?.find((o) => o.kind === 'CronJob' && o.apiVersion?.startsWith('batch/') && o.controller !== false);
  return ref?.name;
}

/** Reservations whose jobRef covers this Job. */
export function reservationsForJob(job: BatchJob, reservations: Reservation[]): Reservation[] {
  const ns = job.metadata.namespace;
  const cronJob = owningCronJob(job);
  return reservations.filter((r) => {
    if (r.metadata.namespace !== ns) return false;
    const ref = r.spec?.jobRef;
    if (!ref) return false;
    return (ref.kind === 'CronJob' && ref.name === cronJob) || (ref.kind === 'Job' && ref.name === job.metadata.name);
  });
}

/** Whether a derived check-in is already counted (or too old to count) by what status shows. */
function alreadyCounted(res: Reservation, d: Derived): boolean {
  const st = res.status ?? {};
  const recent: Checkin[] = st.recent ?? [];
  if (recent.some((c) => c.runId === d.input.runId && (c.signal === d.input.signal || (d.input.signal === 'start' && (c.signal === 'success' || c.signal === 'fail'))))) return true;
  // Starts are deduplicated by the core (status.running, status.recent); the age rules are for ends.
  if (d.at === undefined || d.input.signal === 'start') return false;
  const created = ms(typeof res.metadata.creationTimestamp === 'string' ? res.metadata.creationTimestamp : res.metadata.creationTimestamp?.toISOString());
  if (created !== undefined && d.at < created) return true;
  if (recent.length >= LIMITS.recentCheckins) {
    const oldest = ms(recent[0]?.time);
    if (oldest !== undefined && d.at < oldest) return true;
  }
  return false;
}

export class JobWatcher {
  private readonly deps: JobWatcherDeps;
  private readonly log: Logger;
  private readonly jobs: Informer<BatchJob>[];
  private readonly ownReservations: Informer<Reservation>[] = [];
  private readonly pending = new Set<string>();
  /** `${reservation}|${uid}|${signal}` already stored by this process. */
  private readonly stored = new Set<string>();
  private draining = false;
  private resyncTimer?: NodeJS.Timeout;
  private running = false;
  private idle: Promise<void> = Promise.resolve();

  constructor(deps: JobWatcherDeps) {
    this.deps = deps;
    this.log = (deps.logger ?? silentLogger).child({ component: 'job-watcher' });
    const scopes = deps.namespaces?.length ? deps.namespaces.map((ns) => `/namespaces/${encodeURIComponent(ns)}`) : [''];
    this.jobs = scopes.map((scope) => new Informer<BatchJob>(deps.rest, { path: `/apis/batch/v1${scope}/jobs`, onChange: (key) => this.enqueue(key), logger: this.log }));
    if (!deps.reservations) {
      // A new or changed Reservation may cover Jobs seen before: look at them again.
      this.ownReservations = scopes.map(
        (scope) => new Informer<Reservation>(deps.rest, { path: `/apis/${GROUP}/${VERSION}${scope}/${PLURAL}`, onChange: () => this.resync(), logger: this.log }),
      );
    }
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    for (const inf of [...this.ownReservations, ...this.jobs]) inf.start();
    const every = this.deps.resyncMs ?? 30_000;
    this.resyncTimer = setInterval(() => this.resync(), every);
    this.resyncTimer.unref();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.resyncTimer);
    await Promise.all([...this.ownReservations, ...this.jobs].map((inf) => inf.stop()));
    await this.idle;
  }

  /** Resolves once Jobs (and its own Reservations, if any) are listed. */
  async waitForSync(timeoutMs = 60_000): Promise<void> {
    await Promise.all([...this.ownReservations, ...this.jobs].map((inf) => inf.waitForSync(timeoutMs)));
  }

  /** Resolves when every Job enqueued so far has been handled. */
  async whenIdle(): Promise<void> {
    while (this.draining) await this.idle;
  }

  /** Looks at every known Job again. */
  resync(): void {
    for (const inf of this.jobs) for (const key of inf.keys()) this.enqueue(key);
  }

  private reservations(): Reservation[] {
    if (this.deps.reservations) return this.deps.reservations.list();
    return this.ownReservations.flatMap((inf) => inf.list());
  }

  private job(key: string): BatchJob | undefined {
    for (const inf of this.jobs) {
      const j = inf.get(key);
      if (j) return j;
    }
    return undefined;
  }

  private enqueue(key: string): void {
    if (!this.running) return;
    this.pending.add(key);
    if (!this.draining) this.idle = this.drain();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.running && this.pending.size > 0) {
        const batch = [...this.pending];
        this.pending.clear();
        await Promise.all(batch.map((key) => this.process(key)));
      }
    } finally {
      this.draining = false;
    }
  }

  private async process(key: string): Promise<void> {
    const job = this.job(key);
    if (!job?.metadata.uid) return;
    if (this.deps.isLeader && !this.deps.isLeader()) return;
    const derived = checkinsForJob(job);
    if (derived.length === 0) return;
    for (const res of reservationsForJob(job, this.reservations())) {
      const rkey = `${res.metadata.namespace}/${res.metadata.name}`;
      for (const d of derived) {
        const mark = `${rkey}|${d.input.runId}|${d.input.signal}`;
        if (this.stored.has(mark)) continue;
        // A start after the run's end is meaningless (and would be counted): skip it once ended.
        if (d.input.signal === 'start' && derived.length > 1 && alreadyCounted(res, derived[1]!)) {
          this.stored.add(mark);
          continue;
        }
        if (alreadyCounted(res, d)) {
          this.stored.add(mark);
          continue;
        }
        try {
          const result = await storeCheckin(this.deps.writer, res.metadata.namespace ?? 'default', res.metadata.name, d.input, (this.deps.clock ?? (() => new Date()))(), this.deps.resolveSpec);
          this.stored.add(mark);
          if (this.stored.size > 50_000) this.stored.clear(); // bounded; status dedupe still holds
          if (!result.duplicate) this.deps.metrics?.checkins.inc({ signal: d.input.signal });
          this.log.info({ reservation: rkey, job: key, signal: d.input.signal, duplicate: result.duplicate }, 'job check-in stored');
        } catch (err) {
          // Retried at the next resync; the order (start before end) is kept by stopping here.
          this.log.warn({ reservation: rkey, job: key, signal: d.input.signal, err: (err as Error).message }, 'job check-in not stored');
          break;
        }
      }
    }
  }
}
