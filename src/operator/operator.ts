// The operator process, assembled: informers on Reservations (and CronJobs, for jobRef), a keyed
// work queue, the reconciler, deadline wake-ups, leader election, the alert outbox and the HTTP
// server. Only the leader judges and alerts; every replica serves check-ins.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Router } from 'express';
import type { Logger } from 'pino';
import { randomUUID } from 'node:crypto';
import { JournalView } from '../checkin/journal-view.ts';
import { GROUP, PLURAL, VERSION, type Reservation } from '../api/reservation.ts';
import { createEventRecorder } from '../k8s/events.ts';
import { Informer, type KubeObject } from '../k8s/informer.ts';
import { LeaderElector } from '../k8s/leader-election.ts';
import { KubeRest } from '../k8s/rest.ts';
import { StatusWriter } from '../k8s/status-writer.ts';
import { WorkQueue } from '../k8s/work-queue.ts';
import type { Metrics } from '../metrics.ts';
import type { OperatorConfig } from './config.ts';
import { resolveJobRefSchedule, type CronJob, type CronJobLookup } from './job-ref.ts';
import { FOLD_WAIT_MS, Reconciler, type OutboxSender } from './reconciler.ts';
import { createApp, listen } from './server.ts';
import { Wakeups } from './wakeups.ts';

/** Pieces owned by other modules (alerts, check-ins), built from the operator's shared parts. */
export interface OperatorPlugins {
  /** The alert sender; a new one each leadership term (stopped when leadership ends). */
  outbox?: (parts: SharedParts) => OutboxSender & { stop(): Promise<void> };
  routers?: (parts: SharedParts) => Router[];
  /** Long-running helpers (e.g. the Job watcher); started with the operator. */
  services?: (parts: SharedParts) => { start(): void; stop(): Promise<void> }[];
}

export interface SharedParts {
  config: OperatorConfig;
  kc: KubeConfig;
  rest: KubeRest;
  writer: StatusWriter;
  metrics: Metrics;
  logger: Logger;
  isLeader: () => boolean;
  /** Reservations in every watched namespace, from the informer cache. */
  reservations: { get(key: string): Reservation | undefined; list(): Reservation[] };
  /** The Reservation as the judge sees it (a jobRef CronJob's schedule filled in). */
  resolveSpec: (r: Reservation) => Reservation;
  /** This process's check-in journal shard id (unique per process). */
  shard: string;
  /** Every replica's check-in journal, as listed and watched in GoTel's namespace. */
  journalView: JournalView;
  /** Whether every cache is synced with the apiserver (the peer watch's heartbeat reports it). */
  cachesSynced?: () => boolean;
}

export class Operator {
  readonly config: OperatorConfig;
  readonly parts: SharedParts;
  private readonly informers: Informer<KubeObject>[];
  private readonly reservations: Informer<Reservation>[];
  private readonly cronJobs: Informer<CronJob>[];
  private readonly queue: WorkQueue;
  private readonly wakeups: Wakeups;
  private readonly elector: LeaderElector;
  private readonly reconciler: Reconciler;
  private readonly outboxFactory?: (parts: SharedParts) => OutboxSender & { stop(): Promise<void> };
  private outbox?: OutboxSender & { stop(): Promise<void> };
  private outboxStopping: Promise<void> = Promise.resolve();
  private readonly services: { start(): void; stop(): Promise<void> }[];
  private readonly routers: Router[];
  private resyncTimer?: NodeJS.Timeout;
  private leaderSince = 0;
  private http?: { url: string; close: () => Promise<void> };

  constructor(config: OperatorConfig, kc: KubeConfig, metrics: Metrics, logger: Logger, plugins: OperatorPlugins = {}) {
    this.config = config;
    const rest = new KubeRest(kc);
    const writer = new StatusWriter(rest);
    const scopes = config.namespaces.length > 0 ? config.namespaces.map((ns) => `/namespaces/${ns}`) : [''];
    const enqueue = (key: string): void => this.queue.add(key);
    this.reservations = scopes.map((scope) => {
      const informer: Informer<Reservation> = new Informer<Reservation>(rest, {
        path: `/apis/${GROUP}/${VERSION}${scope}/${PLURAL}`,
        onChange: (key) => {
          // The writer starts from the freshest copy we have: most writes then need no read.
          const r = informer.get(key);
          if (r) writer.observe(r);
          enqueue(key);
        },
        logger,
      });
      return informer;
    });
    // A CronJob change re-judges the Reservations that follow it.
    this.cronJobs = scopes.map(
      (scope) =>
        new Informer<CronJob>(rest, {
          path: `/apis/batch/v1${scope}/cronjobs`,
          onChange: (key) => {
            for (const r of this.allReservations()) {
              if (r.spec.jobRef?.kind === 'CronJob' && `${r.metadata.namespace}/${r.spec.jobRef.name}` === key) enqueue(`${r.metadata.namespace}/${r.metadata.name}`);
            }
          },
          logger,
        }),
    );
    // Acknowledged check-ins not yet in status: the judge must see them before it calls a run missed.
    const journalView = new JournalView(rest, { namespace: config.leaderElectionNamespace, logger });
    this.informers = [...this.reservations, ...this.cronJobs, ...journalView.informers] as Informer<KubeObject>[];
    const get = (key: string): Reservation | undefined => {
      for (const inf of this.reservations) {
        const r = inf.get(key);
        if (r) return r;
      }
      return undefined;
    };
    const cronJobLookup: CronJobLookup = {
      get: (key) => {
        for (const inf of this.cronJobs) {
          const c = inf.get(key);
          if (c) return c;
        }
        return undefined;
      },
    };
    this.wakeups = new Wakeups(enqueue);
    this.elector = new LeaderElector(rest, {
      namespace: config.leaderElectionNamespace,
      name: 'gotel-leader',
      identity: config.identity,
      leaseDurationMs: config.leaseDurationMs,
      logger,
      onStartedLeading: () => {
        metrics.leader.set(1);
        this.leaderSince = Date.now();
        this.reconciler.reset();
        // A new leader judges everything from durable status: timers are re-armed from there.
        for (const r of this.allReservations()) enqueue(`${r.metadata.namespace}/${r.metadata.name}`);
        // The last term's sender must have finished (and recorded) its send in flight before a
        // new one looks at the outbox, or both could send the same entry.
        const previous = this.outboxStopping;
        void previous.then(() => {
          if (!this.elector.isLeader || this.outbox) return;
          this.outbox = this.outboxFactory?.(this.parts);
          for (const r of this.allReservations()) enqueue(`${r.metadata.namespace}/${r.metadata.name}`);
        });
      },
      onStoppedLeading: () => {
        metrics.leader.set(0);
        this.wakeups.clear();
        this.reconciler.reset();
        // Only the leader sends: a former leader stops retrying at once.
        const outbox = this.outbox;
        this.outbox = undefined;
        if (outbox) this.outboxStopping = outbox.stop().catch(() => {});
      },
    });
    this.parts = {
      config,
      kc,
      rest,
      writer,
      metrics,
      logger,
      isLeader: () => this.elector.isLeader,
      reservations: { get, list: () => this.allReservations() },
      resolveSpec: (r) => resolveJobRefSchedule(r, cronJobLookup),
      shard: randomUUID().slice(0, 8),
      journalView,
      cachesSynced: () => this.notReadyReason() === null,
    };
    this.outboxFactory = plugins.outbox;
    this.services = plugins.services?.(this.parts) ?? [];
    this.routers = plugins.routers?.(this.parts) ?? [];
    this.reconciler = new Reconciler({
      get,
      writer,
      events: createEventRecorder(rest, config.identity, logger),
      wakeups: this.wakeups,
      metrics,
      logger,
      now: () => new Date(),
      isLeader: () => this.elector.isLeader,
      leaderSince: () => this.leaderSince,
      cronJobs: cronJobLookup,
      unfolded: (key, status) => journalView.unfolded(key, status),
      // A dead replica's journal is swept once its shard Lease (as long as the leader's) has been
      // stale for twice its duration, within a sweep interval (5 s): wait for that, and then some.
      foldWaitMs: Math.max(FOLD_WAIT_MS, 2 * config.leaseDurationMs + 5_000 + 30_000),
      outbox: {
        sync: (r) => this.outbox?.sync(r),
        forget: (namespace, name) => this.outbox?.forget?.(namespace, name),
      },
    });
    this.queue = new WorkQueue((key) => this.reconciler.reconcile(key), { logger });
  }

  allReservations(): Reservation[] {
    return this.reservations.flatMap((inf) => inf.list());
  }

  /** Why this replica is not ready (for /readyz), or null. */
  notReadyReason(): string | null {
    const unsynced = this.informers.filter((i) => !i.synced).length;
    return unsynced > 0 ? `${unsynced} cache(s) not synced with the apiserver yet` : null;
  }

  get url(): string | undefined {
    return this.http?.url;
  }

  get isLeader(): boolean {
    return this.elector.isLeader;
  }

  async start(): Promise<void> {
    const app = createApp({ metrics: this.parts.metrics, notReadyReason: () => this.notReadyReason(), routers: this.routers });
    this.http = await listen(app, this.config.listen.host, this.config.listen.port);
    this.parts.logger.info({ url: this.http.url, identity: this.config.identity, namespaces: this.config.namespaces }, 'operator listening');
    for (const inf of this.informers) inf.start();
    await Promise.all(this.informers.map((i) => i.waitForSync()));
    this.elector.start();
    for (const s of this.services) s.start();
    // Safety net only: deadlines fire from timers; this catches anything a lost event left behind.
    this.resyncTimer = setInterval(() => {
      for (const r of this.allReservations()) this.queue.add(`${r.metadata.namespace}/${r.metadata.name}`);
    }, this.config.resyncMs);
    this.resyncTimer.unref();
  }

  /** Graceful stop: release leadership, finish work in progress, stop serving. */
  async stop(): Promise<void> {
    clearInterval(this.resyncTimer);
    // While still holding the Lease: no new reconciles, and the sender finishes and records the
    // message in flight. Only then is the Lease released, so the standby never sees a half-sent
    // entry as pending.
    await this.elector.stop(true, async () => {
      this.wakeups.clear();
      await this.queue.drain();
      const outbox = this.outbox;
      this.outbox = undefined;
      await outbox?.stop();
    });
    await this.queue.drain();
    await this.outboxStopping;
    // No new check-ins, then the services fold what was accepted (the check-in journal empties).
    await this.http?.close();
    await Promise.all(this.services.map((s) => s.stop()));
    await Promise.all(this.informers.map((i) => i.stop()));
    this.parts.rest.close();
  }
}
