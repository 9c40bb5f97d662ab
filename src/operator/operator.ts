// The operator process, assembled in one place (docs/architecture.md, "The operator assembled"):
// what it watches (Reservations, CronJobs, Jobs, every replica's check-in journal), one work queue
// feeding the reconciler and the Job check-ins, leader election, the alert sender, the check-in
// store with this replica's journal, the journal sweeper, and the HTTP server.
//
// Who judges: the leader reconciles every Reservation (deadlines, alerts, Events, Job check-ins,
// a dead replica's journal). Every replica takes HTTP check-ins and stores each with the verdict
// it brings (the same judge, inside the same status write), so a recovery a check-in brings is
// recorded wherever it arrives; only the leader sends it.
import type { Logger } from 'pino';
import { randomUUID } from 'node:crypto';
import { AlertDispatcher } from '../alerts/dispatcher.ts';
import { GROUP, PLURAL, VERSION, type Reservation } from '../api/reservation.ts';
import { parseDefaultReceiver } from '../alerts/receivers.ts';
import { JobWatcher, JOB_KEY_PREFIX } from '../checkin/job-watcher.ts';
import { ShardJournal } from '../checkin/journal.ts';
import { JournalSweeper } from '../checkin/journal-sweeper.ts';
import { JournalView } from '../checkin/journal-view.ts';
import { createCheckinRouter } from '../checkin/router.ts';
import { CheckinStore } from '../checkin/store.ts';
import { FOLD_WAIT_MS } from '../core/index.ts';
import { createEventRecorder } from '../k8s/events.ts';
import type { Informer, KubeObject } from '../k8s/informer.ts';
import { LeaderElector } from '../k8s/leader-election.ts';
import { KubeRest, REQUEST_CONCURRENCY } from '../k8s/rest.ts';
import type { KubeCredentials } from '../k8s/credentials.ts';
import { StatusWriter } from '../k8s/status-writer.ts';
import { trimObject } from '../k8s/trim.ts';
import { WorkQueue } from '../k8s/work-queue.ts';
import type { Metrics } from '../metrics.ts';
import { systemClock } from '../util/clock.ts';
import type { OperatorConfig } from './config.ts';
import { Reconciler } from './reconciler.ts';
import { createStatusRouter } from '../status/router.ts';
import { createApp, listen } from './server.ts';
import { Watched } from './watched.ts';
import { FirstPass } from './first-pass.ts';
import { OutageNotifier } from './outage-notifier.ts';
import { OutageTracker } from './outage-tracker.ts';
import { CheckinAvailability } from '../checkin/availability.ts';
import { peerServices, type Service } from '../ha/index.ts';
import { createMetricsApp } from './server.ts';

export class Operator {
  readonly config: OperatorConfig;
  /** This process's check-in journal shard id (unique per process). */
  readonly shard = randomUUID().slice(0, 8);
  /** Reservations and CronJobs as cached here, with the jobRef index. */
  readonly reservations: Watched;
  /** Every replica's check-in journal, as listed and watched in GoTel's namespace. */
  readonly journalView: JournalView;
  private readonly rest: KubeRest;
  private readonly writer: StatusWriter;
  private readonly metrics: Metrics;
  private readonly logger: Logger;
  private readonly queue: WorkQueue;
  private readonly elector: LeaderElector;
  private readonly reconciler: Reconciler;
  private readonly jobWatcher: JobWatcher;
  private readonly journal: ShardJournal;
  private readonly store: CheckinStore;
  private readonly sweeper: JournalSweeper;
  /** Who monitors the monitors: the heartbeat Lease, the watch of Peers, the dead man's switch (src/ha). */
  private readonly peers: Service;
  /** GoTel's own outages: observed here, recorded durably, given to the judge. */
  private readonly outages: OutageTracker;
  /** The leader's one notice per outage. */
  private outageNotifier?: OutageNotifier;
  private outageNotifierStopping: Promise<void> = Promise.resolve();
  /** The alert sender of the current leadership term. */
  private outbox?: AlertDispatcher;
  private outboxStopping: Promise<void> = Promise.resolve();
  /** This term's first judgement of every Reservation (when it ends, every deadline has its timer). */
  private readonly firstPass = new FirstPass();
  private resyncTimer?: NodeJS.Timeout;
  private leaderSince = 0;
  private http?: { url: string; close: () => Promise<void> };
  private metricsHttp?: { url: string; close: () => Promise<void> };

  // The composition root, long by design: every part of the operator is built here, in one typed
  // place, so reading it shows each part and how they connect (docs/architecture.md).
  constructor(config: OperatorConfig, kc: KubeCredentials, metrics: Metrics, logger: Logger) {
    this.config = config;
    this.metrics = metrics;
    this.logger = logger;
    this.rest = new KubeRest(kc);
    this.writer = new StatusWriter(this.rest);
    // One queue: Reservation keys go to the reconciler, Job keys to the Job check-ins. Sixteen
    // workers: a reconcile that writes waits a round trip for the apiserver, and with four, many
    // Reservations created or due at once were written at the pace of four round trips (one key
    // still has one worker at a time, so no object sees concurrent writes from here).
    this.queue = new WorkQueue((key) => (key.startsWith(JOB_KEY_PREFIX) ? this.jobWatcher.process(key) : this.reconcile(key)), {
      logger,
      concurrency: REQUEST_CONCURRENCY,
      // A deadline fired: its alert joins its group before the status write (README "Alert grouping").
      onDue: (key) => {
        if (!key.startsWith(JOB_KEY_PREFIX)) this.reconciler.anticipate(key);
      },
    });
    const enqueue = (key: string): void => this.queue.add(key);
    this.reservations = new Watched(this.rest, {
      namespaces: config.namespaces,
      ...(config.selector ? { selector: config.selector } : {}),
      logger,
      onReservation: (key) => {
        // The writer starts from the freshest copy we have: most writes then need no read.
        const r = this.reservations.get(key);
        if (r) this.writer.observe(r);
        enqueue(key);
      },
      onCronJob: (keys) => keys.forEach(enqueue),
    });
    this.outages = new OutageTracker({
      rest: this.rest,
      namespace: config.leaderElectionNamespace,
      leaderLease: config.leaderLeaseName,
      leaseDurationMs: config.leaseDurationMs,
      logger,
      // What the judge knows changed: every Reservation is judged again with it.
      onChange: () => this.enqueueAll(),
    });
    const outages = () => ({ outages: this.outages.windows(), catchUpMs: config.outageCatchUpMs });
    const cronJobOf = this.reservations.cronJobOf.bind(this.reservations);
    const isLeader = (): boolean => this.elector.isLeader;
    this.jobWatcher = new JobWatcher({ rest: this.rest, writer: this.writer, namespaces: config.namespaces, reservationsFor: (job) => this.reservations.reservationsForJob(job), enqueue, isLeader, logger, metrics, cronJobOf });
    this.journal = new ShardJournal(this.rest, {
      namespace: config.leaderElectionNamespace,
      shard: this.shard,
      identity: config.identity,
      // The shard Lease lasts as long as the leader's: one knob for "how soon a dead replica is noticed".
      leaseDurationSeconds: Math.max(1, Math.ceil(config.leaseDurationMs / 1000)),
      logger,
      onWrite: (op) => metrics.journalBatches.inc({ op }),
    });
    this.journalView = new JournalView(this.rest, { namespace: config.leaderElectionNamespace, logger, own: this.journal });
    this.store = new CheckinStore({
      writer: this.writer,
      journal: this.journal,
      statusWritesPerSecond: config.checkinStatusWritesPerSecond,
      cronJobOf,
      // Another replica's older, unfolded check-ins for a Reservation go first (see CheckinStore.foldLimit).
      foreignUnfolded: (key, status) => this.journalView.unfolded(key, status),
      outages,
      // A check-in is answered 503 at once while the apiserver is known down, and past a bound (availability.ts).
      availability: new CheckinAvailability({ down: () => this.outages.underWay }),
    });
    metrics.unfoldedCheckins.read = () => this.store.unfolded;
    // Per-Reservation metrics are read from the informer cache at scrape time (src/metrics.ts).
    metrics.reservationSource.list = () => this.reservations.list();
    this.sweeper = new JournalSweeper({ rest: this.rest, writer: this.writer, view: this.journalView, namespace: config.leaderElectionNamespace, shard: this.shard, isLeader, cronJobOf, outages, logger });
    this.reconciler = new Reconciler({
      get: (key) => this.reservations.get(key),
      writer: this.writer,
      events: createEventRecorder(this.rest, config.identity, logger),
      metrics,
      logger,
      clock: systemClock,
      isLeader,
      leaderSince: () => this.leaderSince,
      cronJobOf,
      unfolded: (key, status) => this.journalView.unfolded(key, status),
      // A dead replica's journal is swept once its shard Lease (as long as the leader's) has been
      // stale for twice its duration, within a sweep interval (5 s): wait for that, and then some.
      foldWaitMs: Math.max(FOLD_WAIT_MS, 2 * config.leaseDurationMs + 5_000 + 30_000),
      outages,
      outbox: {
        sync: (r) => this.outbox?.sync(r),
        forget: (namespace, name) => this.outbox?.forget(namespace, name),
        // Without grouping there is nothing to announce early: no judgement ahead of the write.
        ...(config.alertGroupWindowMs > 0 ? { anticipate: (r: Reservation) => this.outbox?.anticipate(r) } : {}),
      },
    });
    this.peers = peerServices({ rest: this.rest, config, metrics, logger, isLeader, reservations: this.reservations, cachesSynced: () => this.notReadyReason() === null });
    this.elector = new LeaderElector(this.rest, {
      namespace: config.leaderElectionNamespace,
      name: config.leaderLeaseName,
      identity: config.identity,
      leaseDurationMs: config.leaseDurationMs,
      logger,
      onStartedLeading: () => this.startedLeading(),
      onStoppedLeading: () => this.stoppedLeading(),
    });
  }

  /** Every cache this replica must have synced before it is ready. */
  private get informers(): Informer<KubeObject>[] {
    return [...this.reservations.informers, ...this.jobWatcher.informers, ...this.journalView.informers] as Informer<KubeObject>[];
  }

  private async reconcile(key: string): ReturnType<Reconciler['reconcile']> {
    const result = await this.reconciler.reconcile(key);
    this.firstPass.judged(key, Date.now());
    return result;
  }

  /** Reservations and known Jobs, all enqueued: a new leader judges everything from durable status. */
  private enqueueAll(): void {
    for (const key of this.reservations.keys()) this.queue.add(key);
    this.jobWatcher.resync();
  }

  private startedLeading(): void {
    this.metrics.leader.set(1);
    this.leaderSince = Date.now();
    this.reconciler.reset();
    this.firstPass.begin(this.reservations.keys(), Date.now(), (reservations, ms) => {
      this.metrics.deadlinesArmed.set(1);
      this.logger.info({ reservations, ms, processUptimeMs: Math.round(process.uptime() * 1000) }, 'every deadline re-armed');
    });
    this.enqueueAll();
    // The last term's sender must have finished (and recorded) its send in flight before a new
    // one looks at the outbox, or both could send the same entry.
    void this.outboxStopping.then(() => {
      if (!this.elector.isLeader || this.outbox) return;
      this.outbox = this.newSender();
      for (const key of this.reservations.keys()) this.queue.add(key);
    });
    // The same rule for the outage notice: the last term's send is marked before this one looks.
    void this.outageNotifierStopping.then(() => {
      if (!this.elector.isLeader || this.outageNotifier) return;
      this.outageNotifier = this.newOutageNotifier();
      this.outageNotifier.start();
    });
  }

  private newOutageNotifier(): OutageNotifier {
    const { config } = this;
    return new OutageNotifier({
      rest: this.rest,
      store: this.outages.store,
      windows: () => this.outages.windows(),
      catchUpMs: config.outageCatchUpMs,
      reservations: () => this.listReservations(),
      cronJobOf: this.reservations.cronJobOf.bind(this.reservations),
      ...(config.slackWebhookUrl ? { defaultReceiver: parseDefaultReceiver(config.slackWebhookUrl) } : {}),
      receivers: config.receivers,
      clusterName: config.clusterName,
      logger: this.logger,
    });
  }

  private stoppedLeading(): void {
    this.metrics.leader.set(0);
    this.metrics.deadlinesArmed.set(0);
    this.firstPass.cancel();
    this.queue.cancelDelayed();
    this.reconciler.reset();
    // Only the leader sends: a former leader stops retrying at once.
    const outbox = this.outbox;
    this.outbox = undefined;
    if (outbox) this.outboxStopping = outbox.stop().catch(() => {});
    const notifier = this.outageNotifier;
    this.outageNotifier = undefined;
    if (notifier) this.outageNotifierStopping = notifier.stop().catch(() => {});
  }

  private newSender(): AlertDispatcher {
    const { config } = this;
    return new AlertDispatcher({
      rest: this.rest,
      writer: this.writer,
      defaultReceiver: config.slackWebhookUrl ? parseDefaultReceiver(config.slackWebhookUrl) : undefined,
      receivers: config.receivers,
      clusterName: config.clusterName,
      metrics: this.metrics,
      logger: this.logger,
      groupWindowMs: config.alertGroupWindowMs,
      groupNamespace: config.leaderElectionNamespace,
    });
  }

  /**
   * Every watched Reservation, read from the apiserver (per watched namespace, in pages of 500 and
   * trimmed as the caches are: 10,000 at once as one answer were one 40 MiB text and its objects).
   */
  private async listReservations(): Promise<Reservation[]> {
    const scopes = this.config.namespaces.length > 0 ? this.config.namespaces.map((ns) => `/namespaces/${encodeURIComponent(ns)}`) : [''];
    const items: Reservation[] = [];
    for (const scope of scopes) {
      let token: string | undefined;
      do {
        const query = `limit=500${token ? `&continue=${encodeURIComponent(token)}` : ''}${this.config.selector ? `&labelSelector=${encodeURIComponent(this.config.selector)}` : ''}`;
        const page = await this.rest.request<{ items: Reservation[]; metadata?: { continue?: string } }>({ method: 'GET', path: `/apis/${GROUP}/${VERSION}${scope}/${PLURAL}?${query}` });
        for (const r of page.items) items.push(trimObject(r));
        token = page.metadata?.continue || undefined;
      } while (token);
    }
    return items;
  }

  private checkinRouter(): ReturnType<typeof createCheckinRouter> {
    return createCheckinRouter({
      rest: this.rest,
      writer: this.writer,
      metrics: this.metrics,
      logger: this.logger,
      cronJobOf: this.reservations.cronJobOf.bind(this.reservations),
      store: this.store,
      onUnavailable: () => this.outages.refused(),
      reservations: { get: (namespace, name) => this.reservations.get(`${namespace}/${name}`) },
      ...(this.config.selector ? { selector: this.config.selector } : {}),
      gotelApi: this.config.gotelApi,
      clientLimits: this.config.clientLimits,
    });
  }

  /** The status page and badges (src/status), from the informer cache. */
  private statusRouter(): ReturnType<typeof createStatusRouter> {
    return createStatusRouter({
      config: this.config.statusPage,
      reservations: this.reservations,
      rest: this.rest,
      peersNamespace: this.config.leaderElectionNamespace,
      clusterName: this.config.clusterName,
    });
  }

  /** Why this replica is not ready (for /readyz), or null. */
  notReadyReason(): string | null {
    const unsynced = this.informers.filter((i) => !i.synced).length;
    return unsynced > 0 ? `${unsynced} cache(s) not synced with the apiserver yet` : null;
  }

  get url(): string | undefined {
    return this.http?.url;
  }

  /** Where /metrics answers (--metrics-listen). */
  get metricsUrl(): string | undefined {
    return this.metricsHttp?.url;
  }

  get isLeader(): boolean {
    return this.elector.isLeader;
  }

  async start(): Promise<void> {
    const app = createApp({ metrics: this.metrics, notReadyReason: () => this.notReadyReason(), routers: [this.checkinRouter(), this.statusRouter()] });
    this.http = await listen(app, this.config.listen.host, this.config.listen.port);
    const metricsAt = this.config.metricsListen;
    this.metricsHttp = await listen(createMetricsApp(this.metrics), metricsAt.host, metricsAt.port);
    this.logger.info({ url: this.http.url, metricsUrl: this.metricsHttp.url, identity: this.config.identity, namespaces: this.config.namespaces, selector: this.config.selector, lease: this.config.leaderLeaseName }, 'operator listening');
    this.jobWatcher.start();
    for (const inf of [...this.reservations.informers, ...this.journalView.informers]) inf.start();
    await Promise.all(this.informers.map((i) => i.waitForSync()));
    // Before leading: the records, and a gap in the leader Lease's renewals (no replica led).
    await this.outages.start();
    this.elector.start();
    // The journal's Lease says this replica lives.
    this.journal.start().catch((err: unknown) => this.logger.warn({ err: (err as Error).message }, 'check-in journal unavailable: check-ins wait for their status writes'));
    // The leader folds the journal of a replica that died.
    this.sweeper.start();
    this.peers.start();
    // Safety net only: deadlines fire from the queue's delayed adds; this catches anything a lost event left behind.
    this.resyncTimer = setInterval(() => this.enqueueAll(), this.config.resyncMs);
    this.resyncTimer.unref();
  }

  /** Graceful stop: release leadership, finish work in progress, stop serving. */
  async stop(): Promise<void> {
    clearInterval(this.resyncTimer);
    // While still holding the Lease: no new reconciles, and the sender finishes and records the
    // message in flight. Only then is the Lease released, so the standby never sees a half-sent
    // entry as pending.
    await this.elector.stop(true, async () => {
      await this.queue.drain();
      const outbox = this.outbox;
      this.outbox = undefined;
      await outbox?.stop();
      const notifier = this.outageNotifier;
      this.outageNotifier = undefined;
      await notifier?.stop();
    });
    this.outages.stop();
    await this.queue.drain();
    await this.outboxStopping;
    await this.outageNotifierStopping;
    // No new check-ins, then what was accepted is folded (the check-in journal empties).
    await this.http?.close();
    await this.metricsHttp?.close();
    await this.store.flush();
    await this.journal.stop(this.store.unfolded === 0);
    await this.sweeper.stop();
    await this.peers.stop();
    await this.jobWatcher.stop();
    await Promise.all(this.informers.map((i) => i.stop()));
    this.rest.close();
  }
}
