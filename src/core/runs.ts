// The judging engine shared by evaluate() and applyCheckin(): which expected runs fell due,
// which were missed, which runs overran, how the consecutive counters move, and when the alert
// fires, repeats and resolves. Works on a draft of the status, in place.
//
// Counting rules (each bad or good run is counted exactly once):
// - a completion check-in (success/fail/exit code) is a run: good, or bad (Failed, TooFast);
// - an expected run whose deadline (expected + grace) passed with no start/success/fail check-in
//   from `EARLY_MS` before it on is a bad run (Missed; Late when it checks in after the deadline);
// - a run still running at start + maxRuntime is a bad run (Overrun), once;
// - inside quiet periods (snooze, maintenance) expected runs are not judged and bad runs are not
//   counted; good runs are. Nothing is alerted inside them.
// Durable markers: status.judging.judgedThrough (expected runs), running[].overrun (overruns),
// status.alert.firing (the alert; its outbox and lastNotifiedTime change in delivery.ts).
import type { AlertStatus, Outcome, OutboxEntry, OutageRun, Reservation, ReservationStatus, RunResult } from '../api/reservation.ts';
import { LIMITS } from '../api/reservation.ts';
import { addEntry } from './delivery.ts';
import { formatDuration } from './duration.ts';
import { catchUpEnd, outageFor, OUTAGE_RETRY_MS, type OutageWindow } from './outage.ts';
import { FUTURE_TOLERANCE_MS, MAX_JUDGED_PER_CALL, type Compiled } from './spec.ts';
import { iso, ms } from './time.ts';

export const BAD: ReadonlySet<Outcome> = new Set(['Failed', 'TooFast', 'Missed', 'Late', 'Overrun']);

export interface BadEvent {
  outcome: Outcome;
  /** When it became bad: deadline, start + maxRuntime. */
  time: number;
  expectedTime?: number;
  runId?: string;
  startTime?: number;
  /** Outcome Unknown: the outage its deadline fell in. */
  outage?: string;
}

/** Where the failure threshold was crossed in this call (alert reason and due time). */
export interface Crossing {
  outcome: Outcome;
  dueTime: number;
  message: string;
}

export interface Ctx {
  res: Reservation;
  c: Compiled;
  st: ReservationStatus;
  /** New outbox entries made in this call. */
  entries: OutboxEntry[];
  crossing?: Crossing;
  /** GoTel's own outages (src/core/outage.ts): runs due in one are not Missed. */
  outages?: readonly OutageWindow[];
  catchUpMs?: number;
  /** When a run waiting for an outage's catch-up is looked at again (for the wakeup). */
  outageWake?: number;
  /** When that catch-up ends; null while the outage lasts. */
  catchUpEnd?: number | null;
}

export function since(st: ReservationStatus): number {
  return ms(st.judging?.since) ?? 0;
}

/** Brings status.judging in line with the spec: a changed schedule starts expectations anew. */
export function syncJudging(ctx: Ctx, now: number): void {
  const { st, c, res } = ctx;
  if (st.judging && st.judging.scheduleKey === c.key) return;
  const created = ms(res.metadata?.creationTimestamp);
  const start = st.judging ? now : (created ?? now);
  st.judging = { scheduleKey: c.key, since: iso(start) };
}

/**
 * The latest start/success/fail check-in time (the run evidence), as judged at `now`: stamps
 * more than FUTURE_TOLERANCE_MS ahead are clock errors and ignored, smaller ones count as now.
 */
export function evidence(st: ReservationStatus, now: number): number | undefined {
  let best: number | undefined;
  for (const v of [st.lastStartTime, st.lastSuccessTime, st.lastFailureTime]) {
    let t = ms(v);
    if (t === undefined || t > now + FUTURE_TOLERANCE_MS) continue;
    t = Math.min(t, now);
    if (best === undefined || t > best) best = t;
  }
  return best;
}

/**
 * Whether evidence at `ev` answers the expected run at `t`: at or after it, or up to `earlyMs`
 * before it (clock skew), but not within the run before's grace: a check-in there is that run's.
 * Without this a cron schedule every minute counted one check-in for two runs, so a skipped run
 * was never missed (the soak, docs/soak.md).
 */
export function answers(c: Compiled, ev: number | undefined, t: number): boolean {
  if (ev === undefined) return false;
  if (ev > t) return true;
  if (ev <= t - c.earlyMs) return false;
  const before = c.schedule.kind === 'cron' ? c.schedule.previousMs(t) : null;
  return before === null || ev > Math.min(t, before + c.graceMs);
}

/** Iterates expected runs strictly after `after` (and after `since`). */
export function* slots(c: Compiled, st: ReservationStatus, after: number, ev: number | undefined): Generator<number> {
  const s = since(st);
  let t = Math.max(after, s);
  if (c.schedule.kind === 'every') {
    const base = Math.max(ev ?? -Infinity, s);
    let x = c.schedule.slotAfter(base, Math.max(t, base));
    for (;;) {
      yield x;
      x += c.schedule.periodMs;
    }
  }
  for (;;) {
    const x = c.schedule.nextMs(t);
    if (x === null) return;
    yield x;
    t = x;
  }
}

/** The latest expected run T with T + grace <= limit (after since), for skipping ahead. */
function lastDueSlot(c: Compiled, st: ReservationStatus, limit: number, ev: number | undefined): number | null {
  const x = limit - c.graceMs;
  const s = since(st);
  if (c.schedule.kind === 'every') {
    const base = Math.max(ev ?? -Infinity, s);
    if (x < base + c.schedule.periodMs) return null;
    return base + Math.floor((x - base) / c.schedule.periodMs) * c.schedule.periodMs;
  }
  const t = c.schedule.previousMs(x + 1);
  return t !== null && t > s ? t : null;
}

function marker(st: ReservationStatus): number {
  return Math.max(ms(st.judging?.judgedThrough) ?? -Infinity, since(st));
}

function setMarker(st: ReservationStatus, t: number): void {
  if (!st.judging) return;
  const cur = ms(st.judging.judgedThrough);
  if (cur === undefined || t > cur) st.judging.judgedThrough = iso(t);
}

/**
 * Judges expected runs whose deadline is before `upTo` (at or before, when inclusive), and runs
 * that overran by then. Returns the bad runs found, oldest first; counts nothing.
 */
export function judgeDue(ctx: Ctx, upTo: number, inclusive: boolean, ev: number | undefined): BadEvent[] {
  const { c, st } = ctx;
  const events: BadEvent[] = [];
  if (c.suspend) return events;
  const due = (d: number) => (inclusive ? d <= upTo : d < upTo);

  let count = 0;
  let from = marker(st);
  outer: for (;;) {
    for (const t of slots(c, st, from, ev)) {
      const d = t + c.graceMs;
      if (!due(d)) break outer;
      if (++count > MAX_JUDGED_PER_CALL) {
        // A long outage: skip to the last expected run that is due; the ones between are not
        // counted one by one (the threshold was reached long ago).
        const last = lastDueSlot(c, st, inclusive ? upTo : upTo - 1, ev);
        if (last !== null && last > t) {
          setMarker(st, last - 1);
          from = last - 1;
          count = -Infinity;
          continue outer;
        }
      }
      const q = c.quiet.at(t);
      if (q) {
        // Every expected run before the quiet period ends falls due inside it.
        const end = c.quiet.endFrom(t);
        const through = Math.min(end - 1, upTo - c.graceMs);
        setMarker(st, Math.max(t, through));
        from = Math.max(t, through);
        continue outer;
      }
      const answered = answers(c, ev, t); // a check-in answered it
      // The run's window opens a period before it (every) or EARLY_MS before it (cron), not before `since`.
      const opensAt = Math.max(since(st), c.schedule.kind === 'every' ? t - c.schedule.periodMs : t - c.earlyMs);
      const outage = answered || c.quiet.overlaps(t, d) ? undefined : outageFor(ctx.outages, d, ctx.catchUpMs ?? 0, opensAt);
      if (outage) {
        // GoTel could not take this run's check-in: wait for the catch-up (the marker stays, so
        // this and every later run are judged then), after it the run is Unknown, not Missed.
        const judgeable = catchUpEnd(outage, ctx.catchUpMs ?? 0);
        noteOutageRun(st, { outage: outage.id, expectedTime: iso(t), deadline: iso(d) });
        if (judgeable === null || !due(judgeable)) {
          ctx.outageWake = judgeable ?? upTo + OUTAGE_RETRY_MS;
          ctx.catchUpEnd = judgeable;
          break outer;
        }
        setMarker(st, t);
        events.push({ outcome: 'Unknown', time: d, expectedTime: t, outage: outage.id });
        continue;
      }
      setMarker(st, t);
      if (c.quiet.overlaps(t, d)) continue;
      if (answered) continue;
      events.push({ outcome: 'Missed', time: d, expectedTime: t });
    }
    break;
  }

  if (c.maxRuntimeMs !== undefined) {
    for (const r of st.running ?? []) {
      if (r.overrun) continue;
      const start = ms(r.startTime);
      if (start === undefined) continue;
      const at = c.quiet.endFrom(start + c.maxRuntimeMs);
      if (!due(at)) continue;
      // Past maxRuntime while GoTel could not take check-ins: its end may have been refused. It
      // waits for the catch-up like a run due then; still running after it, it is an Overrun.
      const outage = outageFor(ctx.outages, at, ctx.catchUpMs ?? 0, start);
      const judgeable = outage ? catchUpEnd(outage, ctx.catchUpMs ?? 0) : undefined;
      if (outage && (judgeable === null || !due(judgeable!))) {
        const wake = judgeable ?? upTo + OUTAGE_RETRY_MS;
        ctx.outageWake = ctx.outageWake === undefined ? wake : Math.min(ctx.outageWake, wake);
        continue;
      }
      r.overrun = true;
      events.push({ outcome: 'Overrun', time: at, startTime: start, ...(r.runId !== undefined ? { runId: r.runId } : {}) });
    }
  }
  return events.sort((a, b) => a.time - b.time);
}

function name(res: Reservation): string {
  return `${res.metadata?.namespace ?? 'default'}/${res.metadata?.name ?? '?'}`;
}

export function describeBad(c: Compiled, e: BadEvent): string {
  switch (e.outcome) {
    case 'Missed':
      return `missed: no check-in for the run expected at ${iso(e.expectedTime ?? e.time)} (deadline ${iso(e.time)})`;
    case 'Overrun':
      return `overrun: run ${e.runId ? `${e.runId} ` : ''}started at ${iso(e.startTime ?? 0)} is still running after maxRuntime ${formatDuration(c.maxRuntimeMs ?? 0)}`;
    default:
      return e.outcome;
  }
}

/** Counts one bad run. */
export function countBad(ctx: Ctx, ev: BadEvent, result: RunResult, message: string): void {
  const { st, c } = ctx;
  const before = st.consecutiveFailures ?? 0;
  st.consecutiveFailures = before + 1;
  st.consecutiveSuccesses = 0;
  st.lastResult = result;
  if (before < c.failureThreshold && before + 1 >= c.failureThreshold) {
    ctx.crossing = { outcome: result.outcome, dueTime: ev.time, message };
  }
}

/** Counts one good run. */
export function countGood(ctx: Ctx): void {
  const { st } = ctx;
  st.consecutiveSuccesses = (st.consecutiveSuccesses ?? 0) + 1;
  st.consecutiveFailures = 0;
}

/**
 * Applies judged events (all outside quiet periods by construction). An Unknown run (due in a
 * GoTel outage, no check-in after the catch-up) is shown, not counted: no alert of its own; the
 * outage notice lists it (src/operator/outage-notifier.ts).
 */
export function applyBad(ctx: Ctx, events: BadEvent[]): void {
  for (const e of events) {
    const result: RunResult = {
      outcome: e.outcome,
      time: iso(e.time),
      ...(e.expectedTime !== undefined ? { expectedTime: iso(e.expectedTime) } : {}),
      ...(e.runId !== undefined ? { runId: e.runId } : {}),
      ...(e.outage !== undefined ? { outage: e.outage } : {}),
    };
    if (e.outcome === 'Unknown') {
      ctx.st.lastResult = result;
      noteOutageRun(ctx.st, { outage: e.outage ?? '', expectedTime: result.expectedTime ?? result.time, deadline: result.time, outcome: 'Unknown' });
    } else countBad(ctx, e, result, describeBad(ctx.c, e));
  }
}

/** Records (or updates, by expected time) a run due in an outage in status.outageRuns. */
function noteOutageRun(st: ReservationStatus, run: OutageRun): void {
  const runs = st.outageRuns ?? [];
  const i = runs.findIndex((r) => r.expectedTime === run.expectedTime);
  if (i >= 0) {
    const had = runs[i]!;
    if (had.outage === run.outage && had.deadline === run.deadline && (run.outcome === undefined || had.outcome === run.outcome)) return;
    runs[i] = { ...had, ...run };
  } else runs.push(run);
  st.outageRuns = runs.slice(Math.max(0, runs.length - LIMITS.outageRuns));
}

/**
 * Runs waiting for an outage's catch-up that a check-in has answered since: CheckedIn. Evidence
 * after the run's window opened answers it (a period before it for `every`, EARLY_MS for cron).
 */
export function settleOutageRuns(ctx: Ctx, ev: number | undefined): void {
  const runs = ctx.st.outageRuns;
  if (!runs || ev === undefined) return;
  const open = ctx.c.schedule.kind === 'every' ? ctx.c.schedule.periodMs : ctx.c.earlyMs;
  for (let i = 0; i < runs.length; i++) {
    const r = runs[i]!;
    const t = ms(r.expectedTime);
    if (r.outcome === undefined && t !== undefined && ev > t - open) runs[i] = { ...r, outcome: 'CheckedIn' };
  }
}

function pushEntry(ctx: Ctx, entry: OutboxEntry): void {
  // The outbox's own rule (delivery.ts): bounded by the CRD, lastNotifiedTime with it.
  ctx.st.alert = addEntry(ctx.st, entry).alert;
  ctx.entries.push(entry);
}

function entryId(kind: string, now: number, reason: string): string {
  return `${now.toString(36)}-${kind}-${reason}`;
}

/**
 * Moves the alert: fires when the failure threshold is reached, resolves when the recovery
 * threshold is, repeats when renotifyInterval has passed. Nothing moves inside quiet periods.
 */
export function updateAlert(ctx: Ctx, now: number): void {
  const { st, c, res } = ctx;
  if (c.suspend || c.quiet.at(now)) return;
  const alert: AlertStatus = st.alert ?? { firing: false };
  const cf = st.consecutiveFailures ?? 0;
  const cs = st.consecutiveSuccesses ?? 0;
  const lr = st.lastResult;
  if (!alert.firing && cf >= c.failureThreshold) {
    const cross = ctx.crossing;
    const reason = cross?.outcome ?? (lr && BAD.has(lr.outcome) ? lr.outcome : 'Missed');
    const dueTime = cross?.dueTime ?? ms(lr?.time) ?? now;
    const detail = cross?.message ?? (lr ? `${lr.outcome} at ${lr.time}` : reason);
    const entry: OutboxEntry = {
      id: entryId('alert', now, reason),
      kind: 'alert',
      reason,
      dueTime: iso(dueTime),
      createdTime: iso(now),
      message: `${name(res)} ${detail}${cf > 1 ? ` (${cf} bad runs in a row)` : ''}`,
    };
    st.alert = {
      ...alert,
      firing: true,
      reason,
      since: iso(dueTime),
      notifications: 1,
    };
    delete st.alert.resolvedTime;
    pushEntry(ctx, entry);
    ctx.crossing = undefined;
    return;
  }
  if (alert.firing && cs >= c.recoveryThreshold) {
    const reason = alert.reason ?? 'Missed';
    const entry: OutboxEntry = {
      id: entryId('recovery', now, reason),
      kind: 'recovery',
      reason,
      dueTime: lr?.time ?? iso(now),
      createdTime: iso(now),
      message: `${name(res)} recovered: ${cs} good run${cs > 1 ? 's' : ''} in a row (was ${reason} since ${alert.since ?? '?'})`,
    };
    st.alert = { ...alert, firing: false, resolvedTime: iso(now) };
    pushEntry(ctx, entry);
    return;
  }
  if (alert.firing && c.renotifyMs !== undefined) {
    const last = ms(alert.lastNotifiedTime) ?? ms(alert.since) ?? now;
    const due = c.quiet.endFrom(last + c.renotifyMs);
    if (due <= now) {
      const reason = lr && BAD.has(lr.outcome) ? lr.outcome : (alert.reason ?? 'Missed');
      const n = (alert.notifications ?? 1) + 1;
      const entry: OutboxEntry = {
        id: entryId('renotify', now, reason),
        kind: 'renotify',
        reason,
        dueTime: alert.since ?? iso(now),
        createdTime: iso(now),
        message: `${name(res)} still failing: ${reason} since ${alert.since ?? '?'} (${cf} bad run${cf === 1 ? '' : 's'} in a row; reminder ${n - 1})`,
      };
      st.alert = { ...alert, reason, notifications: n };
      pushEntry(ctx, entry);
    }
  }
}

/** When the alert next repeats, if it is firing and renotifyInterval is set. */
export function renotifyDue(c: Compiled, st: ReservationStatus, now: number): number | undefined {
  const alert = st.alert;
  if (!alert?.firing || c.renotifyMs === undefined || c.suspend) return undefined;
  const last = ms(alert.lastNotifiedTime) ?? ms(alert.since) ?? now;
  return c.quiet.endFrom(last + c.renotifyMs);
}
