// reconcile(key), the kubebuilder shape: read the cache, judge inside the status write, return when
// to look again (`requeueAfterMs`, which the work queue schedules). Level-triggered: it looks only
// at the object as it is now (and the clock), never at which event woke it, so a missed event or a
// restart changes nothing. The judgement is made again inside the write against the freshest
// object, so a check-in that raced with this reconcile is never overwritten; the status is written
// only when the judgement changed it (docs/architecture.md, "The reconcile loop").
import type { Logger } from 'pino';
import type { Reservation, ReservationStatus, State } from '../api/reservation.ts';
import { FOLD_WAIT_MS, judge, type CronJobOf, type FoldItem, type JudgeInputs, type Judgement } from '../core/index.ts';
import type { EventRecorder } from '../k8s/events.ts';
import type { StatusWriter } from '../k8s/status-writer.ts';
import type { HandlerResult } from '../k8s/work-queue.ts';
import type { Metrics } from '../metrics.ts';
import type { Clock } from '../util/clock.ts';

/** The part of the alert dispatcher the reconciler needs: hand it the stored object. */
export interface OutboxSender {
  sync(reservation: Reservation): void;
  /** The Reservation is gone: drop what is pending for it. */
  forget?(namespace: string, name: string): void;
  /** A verdict judged from the cache, before its status write: its alerts may join their group now. */
  anticipate?(reservation: Reservation): void;
}

export interface ReconcilerDeps {
  get: (key: string) => Reservation | undefined;
  writer: StatusWriter;
  events: EventRecorder;
  metrics: Metrics;
  logger: Logger;
  clock: Clock;
  isLeader: () => boolean;
  /** When this replica's current leadership term began (epoch ms). */
  leaderSince: () => number;
  cronJobOf: CronJobOf;
  outbox?: OutboxSender;
  /** Check-ins acknowledged (in a replica's journal) but not yet folded into this status. */
  unfolded?: (key: string, status: ReservationStatus | undefined) => FoldItem[];
  /** How long a verdict may wait for unfolded check-ins (default FOLD_WAIT_MS). */
  foldWaitMs?: number;
  /** GoTel's own outages and the catch-up after them (src/core/outage.ts). */
  outages?: () => Pick<JudgeInputs, 'outages' | 'catchUpMs'>;
}

const ALERTING: ReadonlySet<State> = new Set(['Late', 'Missed', 'Overrun', 'Failed', 'TooFast', 'Invalid']);

export class Reconciler {
  private readonly d: ReconcilerDeps;
  /** Last known state per key, for the gotel_reservations{state} gauge. */
  private readonly states = new Map<string, State>();
  /** Outbox entry ids already announced with an Event, per key, in this leadership term. */
  private readonly announced = new Map<string, Set<string>>();

  constructor(deps: ReconcilerDeps) {
    this.d = deps;
  }

  async reconcile(key: string): Promise<HandlerResult> {
    const started = process.hrtime.bigint();
    let result = 'ok';
    try {
      return await this.reconcileOnce(key);
    } catch (err) {
      result = 'error';
      throw err;
    } finally {
      this.d.metrics.reconcileSeconds.observe({ result }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  /**
   * A deadline fired for `key`: judge it from the cache at once and offer new alerts to the sender
   * (OutboxSender.anticipate), before the reconcile's status write, which in a storm waits behind
   * thousands of others. Stores nothing; the reconcile that follows judges again and writes.
   */
  anticipate(key: string): void {
    const cached = this.d.get(key);
    if (!cached || !this.d.outbox?.anticipate || !this.d.isLeader()) return;
    try {
      const judgement = judge(cached, this.d.clock(), this.inputs(key, cached));
      if (judgement.status && !judgement.waiting && judgement.transitions.length > 0) this.d.outbox.anticipate({ ...cached, status: judgement.status });
    } catch (err) {
      this.d.logger.warn({ key, err }, 'could not anticipate a verdict');
    }
  }

  /** A leadership term began or ended: nothing remembered from another term applies. */
  reset(): void {
    this.announced.clear();
    this.states.clear();
    this.d.metrics.reservations.reset();
  }

  /** Forgets a key's gauge entry and announced Events (leadership lost, or the object is gone). */
  private forget(key: string): void {
    this.announced.delete(key);
    this.setState(key, undefined);
  }

  /** What the judge is told about `r` besides the clock: its CronJob, check-ins waiting in journals. */
  private inputs(key: string, r: Reservation): JudgeInputs {
    return { cronJob: this.d.cronJobOf(r), unfolded: this.d.unfolded?.(key, r.status) ?? [], foldWaitMs: this.d.foldWaitMs ?? FOLD_WAIT_MS, ...this.d.outages?.() };
  }

  private async reconcileOnce(key: string): Promise<HandlerResult> {
    const cached = this.d.get(key);
    if (!cached || !this.d.isLeader()) {
      this.forget(key);
      const [namespace, name] = key.split('/') as [string, string];
      if (!cached) this.d.outbox?.forget?.(namespace, name);
      return { requeueAfterMs: null };
    }
    const [namespace, name] = [cached.metadata.namespace!, cached.metadata.name];
    const now = this.d.clock();
    let judgement = judge(cached, now, this.inputs(key, cached));
    let stored = cached;
    let stateBefore = cached.status?.state;
    let wrote = false;
    if (judgement.status) {
      stored = await this.d.writer.update(namespace, name, (current) => {
        stateBefore = current.status?.state;
        judgement = judge(current, now, this.inputs(key, current));
        wrote = judgement.status !== null;
        return judgement.status;
      });
    }
    if (judgement.waiting) {
      this.d.logger.debug({ key, state: judgement.state }, 'verdict put off: acknowledged check-ins are not folded yet');
      return { requeueAfterMs: this.delayFrom(now, judgement) };
    }
    this.setState(key, judgement.state);
    // Alerts first: Events are for people reading kubectl, not on the alert's path.
    this.d.outbox?.sync(stored);
    await this.recordEvents(key, stored, wrote ? stateBefore : judgement.state, judgement);
    const requeueAfterMs = this.delayFrom(now, judgement);
    this.d.logger.debug({ key, state: judgement.state, requeueAfterMs }, 'reconciled');
    return { requeueAfterMs };
  }

  /** The judgement's wait, counted from `now` (the write and the Events took some of it already). */
  private delayFrom(now: Date, judgement: Judgement): number | null {
    if (judgement.requeueAfterMs === null) return null;
    return Math.max(0, now.getTime() + judgement.requeueAfterMs - this.d.clock().getTime());
  }

  /**
   * One Event per outbox entry (alert, renotify, recovery), whoever created it: the reconciler or a
   * check-in. Entries created before this leadership term began were the previous leader's to
   * announce; a state change without an entry gets a plain Event.
   */
  private async recordEvents(key: string, stored: Reservation, stateBefore: State | undefined, judgement: Judgement): Promise<void> {
    const entries = stored.status?.alert?.outbox ?? [];
    let seen = this.announced.get(key);
    if (!seen) {
      const termStart = this.d.leaderSince();
      seen = new Set(entries.filter((e) => Date.parse(e.createdTime) < termStart).map((e) => e.id));
      this.announced.set(key, seen);
    }
    let recorded = 0;
    for (const e of entries) {
      if (seen.has(e.id)) continue;
      seen.add(e.id);
      recorded++;
      const type = e.kind === 'recovery' ? 'Normal' : 'Warning';
      const reason = e.kind === 'recovery' ? 'Recovered' : e.kind === 'renotify' ? `Still${e.reason}` : e.reason;
      await this.d.events.record(stored, type, reason, e.message ?? `${e.kind} ${e.reason}`);
    }
    for (const id of seen) if (!entries.some((e) => e.id === id)) seen.delete(id);
    const to = judgement.state;
    if (stateBefore !== to && recorded === 0) {
      const ready = judgement.evaluation?.status.conditions?.find((c) => c.type === 'Ready');
      const message = to === 'Invalid' ? (ready?.message ?? 'invalid spec') : `state ${stateBefore ?? 'new'} -> ${to}`;
      await this.d.events.record(stored, ALERTING.has(to) ? 'Warning' : 'Normal', to === 'Invalid' ? 'InvalidSpec' : to, message);
    }
  }

  private setState(key: string, state: State | undefined): void {
    const previous = this.states.get(key);
    if (previous === state) return;
    if (previous) this.d.metrics.reservations.dec({ state: previous });
    if (state) {
      this.states.set(key, state);
      this.d.metrics.reservations.inc({ state });
    } else this.states.delete(key);
  }
}
