// reconcile(key): cache -> evaluate -> status -> events -> alerts -> timer. Level-triggered: it
// looks only at the object as it is now (and the clock), never at which event woke it, so a missed
// event or a restart changes nothing. The status is written only when the judgement changed, and
// the judgement is recomputed inside the write against the freshest object, so a check-in that
// raced with this reconcile is never overwritten.
import type { Logger } from 'pino';
import type { Reservation, State } from '../api/reservation.ts';
import { ALERT_DELIVERY, alertDeliveryCondition } from '../alerts/outbox.ts';
import { foldCheckins, type FoldItem } from '../checkin/fold.ts';
import type { ReservationStatus } from '../api/reservation.ts';
import { canonical, evaluate, type Evaluation } from '../core/index.ts';
import type { EventRecorder } from '../k8s/events.ts';
import type { StatusWriter } from '../k8s/status-writer.ts';
import type { Metrics } from '../metrics.ts';
import { jobRefProblem, resolveJobRefSchedule, withJobRefProblem, type CronJobLookup } from './job-ref.ts';
import type { Wakeups } from './wakeups.ts';

/** The part of the alert dispatcher the reconciler needs: hand it the stored object. */
export interface OutboxSender {
  sync(reservation: Reservation): void;
  /** The Reservation is gone: drop what is pending for it. */
  forget?(namespace: string, name: string): void;
}

export interface ReconcilerDeps {
  get: (key: string) => Reservation | undefined;
  writer: StatusWriter;
  events: EventRecorder;
  wakeups: Wakeups;
  metrics: Metrics;
  logger: Logger;
  now: () => Date;
  isLeader: () => boolean;
  /** When this replica's current leadership term began (epoch ms). */
  leaderSince: () => number;
  cronJobs: CronJobLookup;
  outbox?: OutboxSender;
  /** Check-ins acknowledged (in a replica's journal) but not yet folded into this status. */
  unfolded?: (key: string, status: ReservationStatus | undefined) => FoldItem[];
  /** How long a verdict may wait for unfolded check-ins (default FOLD_WAIT_MS). */
  foldWaitMs?: number;
}

/**
 * How long the judge waits, by default, for acknowledged check-ins that would change its verdict
 * to be folded: a live replica folds within 20 s; a dead one's are folded by the leader's sweep
 * once its shard Lease has been stale for twice its duration (the operator passes a wait derived
 * from --lease-duration). Past it something is wrong, and judging without them (they still count
 * once folded) beats staying silent.
 */
export const FOLD_WAIT_MS = 60_000;
/** How soon a verdict put off for unfolded check-ins is looked at again. */
const DEFER_RETRY_MS = 1_000;

/** The parts of a verdict that unfolded check-ins must not contradict: state and alert. */
function verdictKey(e: Evaluation): string {
  return canonical({ state: e.state, firing: e.status.alert?.firing ?? false, outbox: e.status.alert?.outbox?.length ?? 0 });
}

const ALERTING: ReadonlySet<State> = new Set(['Late', 'Missed', 'Overrun', 'Failed', 'TooFast', 'Invalid']);

/** Adds the AlertDelivery condition the outbox implies (once there has been something to send). */
function withDeliveryCondition(evaluation: Evaluation, r: Reservation, now: Date): Evaluation {
  const status = evaluation.status;
  const hasOutbox = (status.alert?.outbox?.length ?? 0) > 0 || status.conditions?.some((c) => c.type === ALERT_DELIVERY);
  if (!hasOutbox) return evaluation;
  const delivery = alertDeliveryCondition(status, now.getTime(), r.metadata.generation);
  const conditions = [...(status.conditions ?? []).filter((c) => c.type !== ALERT_DELIVERY), delivery];
  const next = { ...status, conditions };
  return { ...evaluation, status: next, conditions, changed: canonical(next) !== canonical(r.status ?? {}) };
}

export class Reconciler {
  private readonly d: ReconcilerDeps;
  /** Last known state per key, for the gotel_reservations{state} gauge. */
  private readonly states = new Map<string, State>();
  /** Outbox entry ids already announced with an Event, per key, in this leadership term. */
  private readonly announced = new Map<string, Set<string>>();

  constructor(deps: ReconcilerDeps) {
    this.d = deps;
  }

  async reconcile(key: string): Promise<void> {
    const started = process.hrtime.bigint();
    let result = 'ok';
    try {
      await this.reconcileOnce(key);
    } catch (err) {
      result = 'error';
      throw err;
    } finally {
      this.d.metrics.reconcileSeconds.observe({ result }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  /** A leadership term began or ended: nothing remembered from another term applies. */
  reset(): void {
    this.announced.clear();
    this.states.clear();
    this.d.metrics.reservations.reset();
  }

  /** Forgets a key's timer and gauge entry (leadership lost, or the object is gone). */
  forget(key: string): void {
    this.d.wakeups.arm(key, null);
    this.announced.delete(key);
    this.setState(key, undefined);
  }

  private async reconcileOnce(key: string): Promise<void> {
    const cached = this.d.get(key);
    if (!cached || !this.d.isLeader()) {
      this.forget(key);
      const [namespace, name] = key.split('/') as [string, string];
      if (!cached) this.d.outbox?.forget?.(namespace, name);
      return;
    }
    const [namespace, name] = [cached.metadata.namespace!, cached.metadata.name];
    const now = this.d.now();
    // A Reservation that follows a CronJob judges by that CronJob's schedule and zone.
    const judge = (r: Reservation): Evaluation => {
      const evaluation = evaluate(resolveJobRefSchedule(r, this.d.cronJobs), now);
      const problem = jobRefProblem(r, this.d.cronJobs);
      return withDeliveryCondition(problem ? withJobRefProblem(evaluation, problem, r.status) : evaluation, r, now);
    };

    // A verdict that acknowledged check-ins not yet folded into status would contradict (a run
    // "missed" that checked in through another replica's journal) is put off until they are.
    const contradicted = (current: Reservation, evaluation: Evaluation): boolean => {
      const items = this.d.unfolded?.(key, current.status).filter((i) => i.now <= now && now.getTime() - i.now.getTime() < (this.d.foldWaitMs ?? FOLD_WAIT_MS)) ?? [];
      if (items.length === 0) return false;
      const folded = foldCheckins(current, items, (r) => resolveJobRefSchedule(r, this.d.cronJobs)).status;
      return folded !== null && verdictKey(judge({ ...current, status: folded })) !== verdictKey(evaluation);
    };

    let evaluation = judge(cached);
    let stored = cached;
    let stateBefore = cached.status?.state;
    let wrote = false;
    let deferred = false;
    if (evaluation.changed) {
      stored = await this.d.writer.update(namespace, name, (current) => {
        stateBefore = current.status?.state;
        evaluation = judge(current);
        deferred = evaluation.changed && contradicted(current, evaluation);
        wrote = evaluation.changed && !deferred;
        return wrote ? evaluation.status : null;
      });
    }
    if (deferred) {
      this.d.wakeups.arm(key, new Date(now.getTime() + DEFER_RETRY_MS));
      this.d.logger.debug({ key, state: evaluation.state }, 'verdict put off: acknowledged check-ins are not folded yet');
      return;
    }
    this.setState(key, evaluation.state);
    // Alerts and timers first: Events are for people reading kubectl, not on the alert's path.
    this.d.outbox?.sync(stored);
    this.d.wakeups.arm(key, evaluation.nextWakeup);
    await this.recordEvents(key, stored, wrote ? stateBefore : evaluation.state, evaluation);
    this.d.logger.debug({ key, state: evaluation.state, nextWakeup: evaluation.nextWakeup?.toISOString() }, 'reconciled');
  }

  /**
   * One Event per outbox entry (alert, renotify, recovery), whoever created it: the reconciler or a
   * check-in. Entries created before this leadership term began were the previous leader's to
   * announce; a state change without an entry gets a plain Event.
   */
  private async recordEvents(key: string, stored: Reservation, stateBefore: State | undefined, evaluation: Evaluation): Promise<void> {
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
    const to = evaluation.state;
    if (stateBefore !== to && recorded === 0) {
      const ready = evaluation.status.conditions?.find((c) => c.type === 'Ready');
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
