// evaluate(reservation, now): the judgement. Pure: spec + status + now in, the new status, the
// state, the conditions, the next instant anything can change by time alone, and the alert
// transitions out. Idempotent: evaluating its own output status at the same `now` changes
// nothing and makes no new transition.
import type { Condition, OutboxEntry, Reservation, ReservationStatus, State } from '../api/reservation.ts';
import { STATES } from '../api/reservation.ts';
import { mergeConditions, type ConditionInput } from './conditions.ts';
import { formatDuration } from './duration.ts';
import { ScheduleError } from './errors.ts';
import type { OutageWindow } from './outage.ts';
import { answers, applyBad, BAD, evidence, judgeDue, renotifyDue, settleOutageRuns, since, slots, syncJudging, updateAlert, type Ctx } from './runs.ts';
import { compileSpec, MAX_JUDGED_PER_CALL, type Compiled } from './spec.ts';
import { iso, ms } from './time.ts';

export interface EvaluateOptions {
  /**
   * `res.status` is the caller's own copy: change it instead of cloning, and skip the comparison
   * with the status before (`changed` is then always true). Folding check-ins judges its own
   * fresh copy many times a second; the clone and the comparison were most of that cost.
   */
  readonly inPlace?: boolean;
  /**
   * A problem the shell found that keeps the Reservation from being judged (its jobRef CronJob is
   * missing): the Reservation is Invalid with this error, as for an invalid spec.
   */
  readonly specError?: ScheduleError;
  /** GoTel's own outages: runs due in one (or in the catch-up after) are not Missed (core/outage.ts). */
  readonly outages?: readonly OutageWindow[];
  /** How long after an outage retried check-ins are waited for. */
  readonly catchUpMs?: number;
}

export interface Transition {
  kind: OutboxEntry['kind'];
  reason: string;
  from: State | undefined;
  to: State;
  /** Already appended to status.alert.outbox: write the status, do not append it again. */
  entry: OutboxEntry;
}

export interface Evaluation {
  state: State;
  conditions: Condition[];
  /** The next instant to evaluate again: never before `now`, never after `deadline`; null when time alone changes nothing. */
  nextWakeup: Date | null;
  nextExpectedTime: Date | null;
  deadline: Date | null;
  /** The first alert transition made by this evaluation, if any (see `transitions`). */
  transition?: Transition;
  transitions: Transition[];
  /** The complete new status (evaluate's fields updated, the rest as given). */
  status: ReservationStatus;
  /** Whether status differs from the reservation's current status. */
  changed: boolean;
  /** Set when the spec is invalid (state Invalid). */
  error?: ScheduleError;
}

/** Stable JSON (sorted keys) for comparing statuses. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      return Object.fromEntries(Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));
    }
    return v;
  });
}

/**
 * Whether `a` and `b` have the same canonical JSON, without building it: the judge compares every
 * status it computes with the stored one, and on a restart that is every Reservation at once
 * (docs/capacity.md). Keys holding undefined count as absent, as in JSON; anything but plain
 * objects, arrays and primitives is compared through canonical().
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((v, i) => sameJson(v, b[i]));
  }
  const plain = (o: object): boolean => Object.getPrototypeOf(o) === Object.prototype || Object.getPrototypeOf(o) === null;
  if (!plain(a) || !plain(b)) return canonical(a) === canonical(b);
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

function setOrDelete<K extends keyof ReservationStatus>(st: ReservationStatus, key: K, value: ReservationStatus[K] | undefined): void {
  if (value === undefined) delete st[key];
  else st[key] = value;
}

interface Expectation {
  expected: number;
  deadline: number;
}

/** The first expected run not yet answered and not inside a quiet period. */
function nextExpectation(c: Compiled, st: ReservationStatus, ev: number | undefined): Expectation | undefined {
  if (c.suspend) return undefined;
  let from = Math.max(ms(st.judging?.judgedThrough) ?? -Infinity, since(st));
  for (let guard = 0; guard < 100; guard++) {
    let jumped = false;
    let n = 0;
    for (const t of slots(c, st, from, ev)) {
      if (++n > MAX_JUDGED_PER_CALL) return undefined;
      const d = t + c.graceMs;
      if (answers(c, ev, t)) continue;
      if (c.quiet.at(t)) {
        from = Math.max(t, c.quiet.endFrom(t) - 1);
        jumped = true;
        break;
      }
      if (c.quiet.overlaps(t, d)) continue;
      return { expected: t, deadline: d };
    }
    if (!jumped) return undefined;
  }
  return undefined;
}

function underlyingState(st: ReservationStatus): State {
  const running = st.running ?? [];
  if (running.some((r) => r.overrun)) return 'Overrun';
  const lr = st.lastResult;
  const lrTime = ms(lr?.time) ?? -Infinity;
  let latestStart = -Infinity;
  for (const r of running) latestStart = Math.max(latestStart, ms(r.startTime) ?? -Infinity);
  // A run in progress shows as Running unless something bad was judged after it started.
  if (running.length > 0 && (latestStart >= lrTime || !lr || !BAD.has(lr.outcome))) {
    return lr?.outcome === 'Late' && lrTime === latestStart ? 'Late' : 'Running';
  }
  if (lr) {
    if (lr.outcome === 'Success' || lr.outcome === 'Unknown') {
      const shown = lr.outcome === 'Success' ? 'Healthy' : 'Unknown';
      const reason = st.alert?.firing ? st.alert.reason : undefined;
      return reason && (STATES as readonly string[]).includes(reason) ? (reason as State) : shown;
    }
    return lr.outcome;
  }
  return 'Pending';
}

function describe(c: Compiled): string {
  const s = c.schedule;
  return s.kind === 'cron'
    ? `schedule "${s.expression}" in ${s.timeZone}, grace ${formatDuration(c.graceMs)}`
    : `every ${formatDuration(s.periodMs)}, grace ${formatDuration(c.graceMs)}`;
}

/** While a run due in a GoTel outage waits for the catch-up: the condition names the outage. */
function catchUpCondition(st: ReservationStatus, catchUpEnd: number | null): ConditionInput | undefined {
  const run = st.outageRuns?.findLast((r) => r.outcome === undefined);
  if (!run || st.alert?.firing) return undefined;
  return {
    type: 'Healthy',
    status: 'Unknown',
    reason: 'GoTelOutage',
    message: `the run expected at ${run.expectedTime} has its deadline ${run.deadline} in a time GoTel could not accept check-ins (outage ${run.outage}): ${catchUpEnd === null ? 'waiting until GoTel accepts check-ins again and for the retried ones after' : `waiting for retried check-ins until ${iso(catchUpEnd)}`}, then unknown if none came, not missed`,
  };
}

function healthyCondition(c: Compiled, st: ReservationStatus, under: State, exp: Expectation | undefined): ConditionInput {
  const alert = st.alert;
  const cf = st.consecutiveFailures ?? 0;
  const cs = st.consecutiveSuccesses ?? 0;
  if (c.suspend) return { type: 'Healthy', status: 'Unknown', reason: 'Suspended', message: 'judging is suspended (spec.suspend)' };
  if (alert?.firing) {
    const recovering = cs > 0 ? `; recovering: ${cs} of ${c.recoveryThreshold} good runs` : '';
    return { type: 'Healthy', status: 'False', reason: alert.reason ?? 'Missed', message: `${alert.reason ?? 'Missed'} since ${alert.since ?? '?'}${recovering}` };
  }
  if (under === 'Pending') {
    return {
      type: 'Healthy',
      status: 'Unknown',
      reason: 'AwaitingFirstCheckin',
      message: exp ? `no check-in yet; the first run is expected at ${iso(exp.expected)}, deadline ${iso(exp.deadline)}` : 'no check-in yet',
    };
  }
  if (under === 'Unknown') {
    const lr = st.lastResult;
    return {
      type: 'Healthy',
      status: 'Unknown',
      reason: 'GoTelOutage',
      message: `the run expected at ${lr?.expectedTime ?? '?'} had its deadline ${lr?.time ?? '?'} while GoTel could not accept check-ins (outage ${lr?.outage ?? '?'}) and no check-in came in the catch-up after it: unknown, not missed`,
    };
  }
  if ((BAD as ReadonlySet<string>).has(under)) {
    const lr = st.lastResult;
    return {
      type: 'Healthy',
      status: 'False',
      reason: under,
      message: `${under}${lr ? ` at ${lr.time}` : ''}; ${cf} of ${c.failureThreshold} consecutive bad runs before alerting`,
    };
  }
  if (under === 'Running') {
    const n = st.running?.length ?? 0;
    return { type: 'Healthy', status: 'True', reason: 'Running', message: `${n} run${n === 1 ? '' : 's'} in progress` };
  }
  return {
    type: 'Healthy',
    status: 'True',
    reason: 'Healthy',
    message: `last run ${st.lastResult?.outcome === 'Success' ? `succeeded at ${st.lastResult.time}` : 'ok'}${exp ? `; next expected at ${iso(exp.expected)}, deadline ${iso(exp.deadline)}` : ''}`,
  };
}

function alertingCondition(c: Compiled | undefined, st: ReservationStatus, quiet: { kind: string; until: number } | undefined): ConditionInput {
  const alert = st.alert;
  if (alert?.firing) {
    const hush = c?.suspend ? ' (suspended: no reminders)' : quiet ? ` (${quiet.kind === 'Snoozed' ? 'snoozed' : 'in a maintenance window'} until ${iso(quiet.until)}: no reminders)` : '';
    return {
      type: 'Alerting',
      status: 'True',
      reason: alert.reason ?? 'Missed',
      message: `alerting since ${alert.since ?? '?'}; ${alert.notifications ?? 1} notification${(alert.notifications ?? 1) === 1 ? '' : 's'}${hush}`,
    };
  }
  if (!c) return { type: 'Alerting', status: 'False', reason: 'InvalidSpec', message: 'not judging: the spec is invalid' };
  if (c.suspend) return { type: 'Alerting', status: 'False', reason: 'Suspended', message: 'judging is suspended (spec.suspend)' };
  if (quiet) {
    return {
      type: 'Alerting',
      status: 'False',
      reason: quiet.kind,
      message: `${quiet.kind === 'Snoozed' ? 'snoozed' : 'in a maintenance window'} until ${iso(quiet.until)}`,
    };
  }
  const cf = st.consecutiveFailures ?? 0;
  if (cf > 0) {
    return { type: 'Alerting', status: 'False', reason: 'BelowFailureThreshold', message: `${cf} of ${c.failureThreshold} consecutive bad runs before alerting` };
  }
  return { type: 'Alerting', status: 'False', reason: 'NotAlerting', message: 'no alert' };
}

/**
 * Judges a Reservation at `now`. Kept as one function: its steps (compile the spec, expected runs,
 * check-ins against them, outages, thresholds, alert transitions, conditions) run in an order each
 * later step depends on, and each is a call to a function of its own in this file or runs.ts.
 */
export function evaluate(res: Reservation, now: Date, opts: EvaluateOptions = {}): Evaluation {
  const nowMs = now.getTime();
  const prev: ReservationStatus = res.status ?? {};
  const inPlace = opts.inPlace === true && res.status !== undefined;
  const st: ReservationStatus = inPlace ? prev : structuredClone(prev);
  const prevConditions = prev.conditions;
  const generation = res.metadata?.generation;
  const prevState = prev.state;
  if (generation !== undefined) st.observedGeneration = generation;

  let c: Compiled;
  try {
    if (opts.specError) throw opts.specError;
    c = compileSpec(res);
  } catch (e) {
    if (!(e instanceof ScheduleError)) throw e;
    st.state = 'Invalid';
    delete st.nextExpectedTime;
    delete st.deadline;
    st.conditions = mergeConditions(
      prevConditions,
      [
        { type: 'Ready', status: 'False', reason: e.reason, message: e.message },
        { type: 'Healthy', status: 'Unknown', reason: 'InvalidSpec', message: 'not judging: the spec is invalid' },
        alertingCondition(undefined, st, undefined),
      ],
      generation,
      nowMs,
    );
    return {
      state: 'Invalid',
      conditions: st.conditions,
      nextWakeup: null,
      nextExpectedTime: null,
      deadline: null,
      transitions: [],
      status: st,
      changed: inPlace || !sameJson(st, prev),
      error: e,
    };
  }

  const ctx: Ctx = { res, c, st, entries: [], ...(opts.outages ? { outages: opts.outages, catchUpMs: opts.catchUpMs ?? 0 } : {}) };
  syncJudging(ctx, nowMs);
  const ev = evidence(st, nowMs);
  if (!c.suspend) {
    applyBad(ctx, judgeDue(ctx, nowMs, true, ev));
    settleOutageRuns(ctx, ev);
    updateAlert(ctx, nowMs);
  }

  const exp = nextExpectation(c, st, ev);
  setOrDelete(st, 'nextExpectedTime', exp ? iso(exp.expected) : undefined);
  setOrDelete(st, 'deadline', exp ? iso(exp.deadline) : undefined);

  const quiet = c.suspend ? undefined : c.quiet.at(nowMs);
  const under = underlyingState(st);
  const state: State = c.suspend ? 'Suspended' : quiet ? 'Snoozed' : under;
  st.state = state;
  st.conditions = mergeConditions(
    prevConditions,
    [
      { type: 'Ready', status: 'True', reason: 'SpecValid', message: `judging ${describe(c)}` },
      (ctx.catchUpEnd !== undefined ? catchUpCondition(st, ctx.catchUpEnd) : undefined) ?? healthyCondition(c, st, under, exp),
      alertingCondition(c, st, quiet),
    ],
    generation,
    nowMs,
  );

  // The next instant at which time alone changes something.
  let wake: number | null = null;
  const consider = (t: number | null | undefined) => {
    if (t !== null && t !== undefined && Number.isFinite(t) && t > nowMs && (wake === null || t < wake)) wake = t;
  };
  if (!c.suspend) {
    consider(exp?.deadline);
    if (c.maxRuntimeMs !== undefined) {
      for (const r of st.running ?? []) {
        const start = ms(r.startTime);
        if (!r.overrun && start !== undefined) consider(c.quiet.endFrom(start + c.maxRuntimeMs));
      }
    }
    consider(renotifyDue(c, st, nowMs));
    consider(ctx.outageWake);
    if (!c.quiet.empty) consider(c.quiet.nextBoundary(nowMs));
    // A clamped future check-in: look again when its stamp is reached.
    for (const v of [st.lastStartTime, st.lastSuccessTime, st.lastFailureTime]) {
      const t = ms(v);
      if (t !== undefined && t > nowMs) consider(t);
    }
  }

  const transitions: Transition[] = ctx.entries.map((entry) => ({ kind: entry.kind, reason: entry.reason, from: prevState, to: state, entry }));
  const out: Evaluation = {
    state,
    conditions: st.conditions,
    nextWakeup: wake === null ? null : new Date(wake),
    nextExpectedTime: exp ? new Date(exp.expected) : null,
    deadline: exp ? new Date(exp.deadline) : null,
    transitions,
    status: st,
    changed: inPlace || !sameJson(st, prev),
  };
  if (transitions[0]) out.transition = transitions[0];
  return out;
}
