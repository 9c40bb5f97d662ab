// Takeover: while a peer is Stale and its apiserver reachable, this GoTel judges the peer cluster's
// Reservations in its place, with the operator's own judging parts (reconciler, work queue, alert
// outbox, Job watch) run against the peer's apiserver and the peer's Reservations' own status.
//
// Two judges never act on one cluster at once: the takeover is a candidate in the peer cluster's
// own `gotel-leader` Lease, as `<identity>@<cluster-name>`, and judges only while it holds it.
// Handing back: the peer's returning replicas cannot lead while the takeover renews that Lease,
// but each of them renews its check-in journal Lease from start-up. As soon as one of those is
// seen alive, the takeover finishes its send in flight and releases the Lease, so the peer's
// GoTel leads again within a retry period and, reading the same durable outboxes, sends nothing
// the takeover already sent.
//
// Reservations that get their check-ins from Job status (spec.jobRef) are judged fully: their
// check-ins live in the peer's apiserver. Those that depend on HTTP check-ins cannot get them while
// the peer's GoTel is down, so they are not judged (no one-by-one Missed); the takeover's message
// lists them as not watched until the peer returns.
import { AlertDispatcher } from '../alerts/dispatcher.ts';
import type { DefaultReceiver } from '../alerts/receivers.ts';
import { JobWatcher, JOB_KEY_PREFIX } from '../checkin/job-watcher.ts';
import { JOURNAL_LABEL } from '../checkin/journal.ts';
import type { Reservation } from '../api/reservation.ts';
import { createEventRecorder } from '../k8s/events.ts';
import { LeaderElector, leasePath as journalLeasePath, type Lease } from '../k8s/leader-election.ts';
import type { KubeRest } from '../k8s/rest.ts';
import { StatusWriter } from '../k8s/status-writer.ts';
import { WorkQueue } from '../k8s/work-queue.ts';
import type { Logger } from '../log.ts';
import { createMetrics } from '../metrics.ts';
import { Reconciler } from '../operator/reconciler.ts';
import { Watched } from '../operator/watched.ts';
import { systemClock } from '../util/clock.ts';

export interface TakeoverOptions {
  /** The peer's apiserver. */
  rest: KubeRest;
  /** The peer GoTel's namespace (its gotel-leader and journal Leases). */
  namespace: string;
  /** `<this identity>@<this cluster-name>`. */
  identity: string;
  peerClusterName: string;
  leaseDurationMs: number;
  defaultReceiver?: DefaultReceiver;
  logger: Logger;
  /** Called when the takeover starts or stops judging (to record it in the Peer's status). */
  onChange: (t: TakeoverReport) => void;
}

export interface TakeoverReport {
  leading: boolean;
  since?: string;
  reservationsJudged: number;
  alertsSent: number;
  /** Reservations that depend on HTTP check-ins: not watched until the peer returns. */
  notWatched: string[];
  /** The peer's own GoTel is back (a journal Lease renews): the takeover is handing back. */
  handedBack: boolean;
}

const judged = (r: Reservation): boolean => r.spec.jobRef !== undefined;
const keyOf = (r: Reservation): string => `${r.metadata.namespace}/${r.metadata.name}`;

export class Takeover {
  private readonly o: TakeoverOptions;
  private readonly metrics = createMetrics({ defaultMetrics: false });
  private readonly reservations: Watched;
  private readonly queue: WorkQueue;
  private readonly elector: LeaderElector;
  private readonly reconciler: Reconciler;
  private readonly jobs: JobWatcher;
  private readonly writer: StatusWriter;
  private outbox?: AlertDispatcher;
  private outboxStopping: Promise<void> = Promise.resolve();
  private leaderSince = 0;
  private journalTimer?: NodeJS.Timeout;
  /** Journal Leases of the peer's replicas as first seen (name -> resourceVersion). */
  private journalSeen?: Map<string, string>;
  private report: TakeoverReport = { leading: false, reservationsJudged: 0, alertsSent: 0, notWatched: [], handedBack: false };
  private stopped = false;
  private stopping?: Promise<void>;

  constructor(options: TakeoverOptions) {
    this.o = options;
    const { rest, logger } = options;
    const enqueue = (key: string): void => this.queue.add(key);
    this.writer = new StatusWriter(rest);
    // Only Reservations with a jobRef are judged here (their check-ins are in the peer's apiserver).
    this.reservations = new Watched(rest, { namespaces: [], logger, onReservation: enqueue, onCronJob: (keys) => keys.forEach(enqueue) });
    const get = (key: string): Reservation | undefined => {
      const r = this.reservations.get(key);
      return r && judged(r) ? r : undefined;
    };
    const cronJobOf = this.reservations.cronJobOf.bind(this.reservations);
    this.reconciler = new Reconciler({
      get,
      writer: this.writer,
      events: createEventRecorder(rest, options.identity, logger),
      metrics: this.metrics,
      logger,
      clock: systemClock,
      isLeader: () => this.elector.isLeader,
      leaderSince: () => this.leaderSince,
      cronJobOf,
      outbox: { sync: (r) => this.outbox?.sync(r), forget: (ns, name) => this.outbox?.forget(ns, name) },
    });
    this.queue = new WorkQueue((key) => (key.startsWith(JOB_KEY_PREFIX) ? this.jobs.process(key) : this.reconciler.reconcile(key)), { logger });
    this.jobs = new JobWatcher({
      rest,
      writer: this.writer,
      reservationsFor: (job) => this.reservations.reservationsForJob(job).filter(judged),
      enqueue,
      isLeader: () => this.elector.isLeader,
      logger,
      metrics: this.metrics,
      cronJobOf,
    });
    this.elector = new LeaderElector(rest, {
      namespace: options.namespace,
      name: 'gotel-leader',
      identity: options.identity,
      leaseDurationMs: options.leaseDurationMs,
      logger,
      onStartedLeading: () => this.startedLeading(),
      onStoppedLeading: () => this.stoppedLeading(),
    });
  }

  async start(): Promise<void> {
    for (const inf of this.reservations.informers) inf.start();
    await Promise.all(this.reservations.informers.map((i) => i.waitForSync()));
    if (this.stopped) return;
    this.jobs.start();
    this.elector.start();
    this.journalTimer = setInterval(() => void this.watchJournal(), Math.max(500, Math.floor(this.o.leaseDurationMs / 3)));
  }

  /** Stops judging: the send in flight finishes and is recorded, then the peer's Lease is released. */
  stop(): Promise<void> {
    this.stopping ??= this.stopOnce();
    return this.stopping;
  }

  private async stopOnce(): Promise<void> {
    this.stopped = true;
    clearInterval(this.journalTimer);
    await this.elector.stop(true, async () => {
      await this.queue.drain();
      const outbox = this.outbox;
      this.outbox = undefined;
      await outbox?.stop();
    });
    await this.queue.drain();
    await this.outboxStopping;
    await this.jobs.stop();
    await Promise.all(this.reservations.informers.map((i) => i.stop()));
  }

  get status(): TakeoverReport {
    return this.report;
  }

  private startedLeading(): void {
    this.leaderSince = Date.now();
    this.reconciler.reset();
    const previous = this.outboxStopping;
    void previous.then(() => {
      if (!this.elector.isLeader || this.outbox) return;
      this.outbox = new AlertDispatcher({ rest: this.o.rest, writer: this.writer, defaultReceiver: this.o.defaultReceiver, clusterName: this.o.peerClusterName, metrics: this.metrics, logger: this.o.logger });
      for (const r of this.reservations.list()) if (judged(r)) this.queue.add(keyOf(r));
      this.jobs.resync();
    });
    const all = this.reservations.list();
    this.update({
      leading: true,
      since: new Date(this.leaderSince).toISOString(),
      reservationsJudged: all.filter(judged).length,
      notWatched: all.filter((r) => !judged(r)).map(keyOf).sort(),
    });
  }

  private stoppedLeading(): void {
    this.queue.cancelDelayed();
    this.reconciler.reset();
    const outbox = this.outbox;
    this.outbox = undefined;
    if (outbox) this.outboxStopping = outbox.stop().catch(() => {});
    this.update({ leading: false });
  }

  private update(change: Partial<TakeoverReport>): void {
    this.report = { ...this.report, ...change };
    try {
      this.o.onChange(this.report);
    } catch (err) {
      this.o.logger.warn({ err: (err as Error).message }, 'takeover report failed');
    }
  }

  /** Alerts this takeover delivered on the peer's behalf (its own metrics registry). */
  async alertsSent(): Promise<number> {
    const values = (await this.metrics.alerts.get()).values;
    return values.filter((v) => v.labels.result === 'delivered').reduce((n, v) => n + v.value, 0);
  }

  /** The peer's replicas renew their journal Leases from start-up: one that moves means it is back. */
  private async watchJournal(): Promise<void> {
    try {
      const list = await this.o.rest.request<{ items: Lease[] }>({ method: 'GET', path: `${journalLeasePath(this.o.namespace)}?labelSelector=${encodeURIComponent(JOURNAL_LABEL)}`, timeoutMs: 5_000 });
      const now = new Map(list.items.map((l) => [l.metadata.name, l.metadata.resourceVersion ?? '']));
      if (!this.journalSeen) {
        this.journalSeen = now;
        return;
      }
      const back = [...now].some(([name, rv]) => this.journalSeen!.get(name) !== rv);
      if (back && !this.report.handedBack) {
        this.o.logger.info({ namespace: this.o.namespace }, "the peer's GoTel is back: handing its cluster back");
        this.update({ handedBack: true, alertsSent: await this.alertsSent() });
        await this.stop();
      }
    } catch (err) {
      this.o.logger.debug({ err: (err as Error).message }, 'peer journal leases not read');
    }
  }
}
