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
// Where it runs: the operator's one work queue handles Job keys beside Reservation keys (a Job
// event enqueues the Job; a failed store is retried with the queue's backoff), and only the leader
// stores; a new leader enqueues every known Job. The Reservations a Job concerns come from an
// index (JobRefIndex), never from a scan of every Reservation.
import type { Logger } from 'pino';
import type { Checkin, Reservation } from '../api/reservation.ts';
import { GROUP, LIMITS, PLURAL, VERSION } from '../api/reservation.ts';
import { type CheckinInput, type CronJobOf } from '../core/index.ts';
import { ms } from '../core/time.ts';
import { Informer } from '../k8s/informer.ts';
import { WorkQueue } from '../k8s/work-queue.ts';
import type { KubeRest } from '../k8s/rest.ts';
import type { StatusWriter } from '../k8s/status-writer.ts';
import { silentLogger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { Clock } from '../util/clock.ts';
import { CheckinStore } from './store.ts';

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
  /** The Reservations whose jobRef covers a Job (the operator's index); else the watcher keeps its own. */
  reservationsFor?: (job: BatchJob) => Reservation[];
  /** The operator's work queue, which hands Job keys back through `process`; else the watcher runs its own. */
  enqueue?: (key: string) => void;
  /** When given, only store while this is true (the leader). */
  isLeader?: () => boolean;
  logger?: Logger;
  metrics?: Metrics;
  clock?: Clock;
  /** The CronJob a Reservation follows, for the judge (core/job-ref.ts). */
  cronJobOf?: CronJobOf;
}

/** Job keys on the operator's work queue carry this prefix (Reservation keys are namespace/name). */
export const JOB_KEY_PREFIX = 'job:';

interface Derived {
  input: CheckinInput;
  /** When the event happened by the Job's own clock (for the already-counted check). */
  at?: number;
}


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
  /** Without the operator's index: the watcher's own Reservations. */
  private readonly ownReservations: Informer<Reservation>[] = [];
  /** Without the operator's queue: the watcher's own. */
  private readonly queue?: WorkQueue;
  /** `${reservation}|${uid}|${signal}` already stored by this process. */
  private readonly stored = new Set<string>();
  /** Job check-ins go straight to status (no journal): their evidence, the Job, stays in the apiserver. */
  private readonly store: CheckinStore;
  private running = false;

  constructor(deps: JobWatcherDeps) {
    this.deps = deps;
    this.log = (deps.logger ?? silentLogger).child({ component: 'job-watcher' });
    this.store = new CheckinStore({ writer: deps.writer, ...(deps.cronJobOf ? { cronJobOf: deps.cronJobOf } : {}) });
    const scopes = deps.namespaces?.length ? deps.namespaces.map((ns) => `/namespaces/${encodeURIComponent(ns)}`) : [''];
    if (!deps.enqueue) this.queue = new WorkQueue(async (key) => this.process(key), { logger: this.log, baseBackoffMs: 1_000, maxBackoffMs: 60_000 });
    this.jobs = scopes.map((scope) => new Informer<BatchJob>(deps.rest, { path: `/apis/batch/v1${scope}/jobs`, onChange: (key) => this.enqueue(key), logger: this.log }));
    if (!deps.reservationsFor) {
      // A new or changed Reservation may cover Jobs seen before: look at them again.
      this.ownReservations = scopes.map(
        (scope) => new Informer<Reservation>(deps.rest, { path: `/apis/${GROUP}/${VERSION}${scope}/${PLURAL}`, onChange: () => this.resync(), logger: this.log }),
      );
    }
  }

  /** The Job informers, for the operator's readiness. */
  get informers(): Informer<BatchJob>[] {
    return this.jobs;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    for (const inf of [...this.ownReservations, ...this.jobs]) inf.start();
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all([...this.ownReservations, ...this.jobs].map((inf) => inf.stop()));
    await this.queue?.drain();
  }

  /** Resolves once Jobs (and its own Reservations, if any) are listed. */
  async waitForSync(timeoutMs = 60_000): Promise<void> {
    await Promise.all([...this.ownReservations, ...this.jobs].map((inf) => inf.waitForSync(timeoutMs)));
  }

  /** Resolves when every Job enqueued so far on its own queue has been handled. */
  async whenIdle(): Promise<void> {
    await this.queue?.idle();
  }

  /** Looks at every known Job again (a new leader, a Reservation that changed). */
  resync(): void {
    for (const inf of this.jobs) for (const key of inf.keys()) this.enqueue(key);
  }

  /** The work-queue key of a Job, told apart from Reservation keys on the operator's queue. */
  static keyOf(jobKey: string): string {
    return `${JOB_KEY_PREFIX}${jobKey}`;
  }

  private reservationsFor(job: BatchJob): Reservation[] {
    if (this.deps.reservationsFor) return this.deps.reservationsFor(job);
    return reservationsForJob(job, this.ownReservations.flatMap((inf) => inf.list()));
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
    if (this.deps.enqueue) this.deps.enqueue(JobWatcher.keyOf(key));
    else this.queue?.add(JobWatcher.keyOf(key));
  }

  /**
   * Stores the check-ins a Job's status implies for each Reservation that follows it. Throws when
   * one could not be stored: the queue retries the Job with backoff (start before end is kept by
   * stopping at the first failure).
   */
  async process(queueKey: string): Promise<void> {
    const key = queueKey.startsWith(JOB_KEY_PREFIX) ? queueKey.slice(JOB_KEY_PREFIX.length) : queueKey;
    const job = this.job(key);
    if (!job?.metadata.uid) return;
    if (this.deps.isLeader && !this.deps.isLeader()) return;
    const derived = checkinsForJob(job);
    if (derived.length === 0) return;
    for (const res of this.reservationsFor(job)) await this.storeFor(res, key, derived);
  }

  private async storeFor(res: Reservation, jobKey: string, derived: Derived[]): Promise<void> {
    const rkey = `${res.metadata.namespace}/${res.metadata.name}`;
    for (const d of derived) {
      const mark = `${rkey}|${d.input.runId}|${d.input.signal}`;
      if (this.stored.has(mark)) continue;
      // A start after the run's end is meaningless (and would be counted): skip it once ended.
      const ended = d.input.signal === 'start' && derived.length > 1 && alreadyCounted(res, derived[1]!);
      if (ended || alreadyCounted(res, d)) {
        this.stored.add(mark);
        continue;
      }
      try {
        const result = await this.store.submit(res.metadata.namespace ?? 'default', res.metadata.name, d.input, (this.deps.clock ?? (() => new Date()))());
        this.stored.add(mark);
        if (this.stored.size > 50_000) this.stored.clear(); // bounded; status dedupe still holds
        if (!result.duplicate) this.deps.metrics?.checkins.inc({ signal: d.input.signal });
        this.log.info({ reservation: rkey, job: jobKey, signal: d.input.signal, duplicate: result.duplicate }, 'job check-in stored');
      } catch (err) {
        this.log.warn({ reservation: rkey, job: jobKey, signal: d.input.signal, err: (err as Error).message }, 'job check-in not stored; retried with backoff');
        throw err;
      }
    }
  }
}
