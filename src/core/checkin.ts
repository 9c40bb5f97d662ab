// applyCheckin: folds one check-in into a Reservation's status. Pure; the check-in store
// calls it for each check-in it stores, in arrival order, with its own clock as `now` (the
// check-in's time is the server's, whatever the client said).
//
// It records the check-in (lastCheckin, bounded `recent`, `checkins`), pairs starts with ends by
// run id (overlapping runs allowed, `running` bounded), sets lastStartTime / lastSuccessTime /
// lastFailureTime, drops a duplicate (the same run id and signal twice within a day: dedup.ts),
// and judges: expected runs that fell due before it, the run's outcome (exit code 0 = success, any
// other = failure; faster than minRuntime = TooFast), the consecutive counters, and the alert
// (outbox entries).
import type { Checkin, OutboxEntry, Reservation, ReservationStatus, RunningRun, RunResult, Signal } from '../api/reservation.ts';
import { LIMITS, SIGNALS } from '../api/reservation.ts';
import { recordRun, seenRun } from './dedup.ts';
import { formatDuration } from './duration.ts';
import { ScheduleError } from './errors.ts';
import { answers, applyBad, countBad, countGood, evidence, judgeDue, slots, syncJudging, updateAlert, type Ctx } from './runs.ts';
import type { OutageWindow } from './outage.ts';
import { compileSpec, type Compiled } from './spec.ts';
import { iso, ms } from './time.ts';

/** A check-in as a client sends it: the stored shape, except that `time` is ignored (the server's `now` is stored). */
export type CheckinInput = Omit<Checkin, 'time'> & { time?: string };

export class CheckinError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'CheckinError';
    this.field = field;
  }
}

export interface CheckinResult {
  status: ReservationStatus;
  /** The same (runId, signal) was already recorded: status is unchanged. */
  duplicate: boolean;
  /** Outbox entries this check-in created (already in status.alert.outbox). */
  entries: OutboxEntry[];
  /** The check-in as stored. */
  checkin: Checkin;
}

const MAX_RUN_ID = 128;
/** How much of each message `status.recent` keeps. */
export const RECENT_MESSAGE_CHARS = 256;

/** The first `n` UTF-16 units, never splitting a surrogate pair. */
function cutChars(s: string, n: number): string {
  const code = s.charCodeAt(n - 1);
  return s.slice(0, code >= 0xd800 && code <= 0xdbff ? n - 1 : n);
}

function truncateBytes(s: string, max: number): string {
  const bytes = new TextEncoder().encode(s);
  if (bytes.length <= max) return s;
  // Cut on a character boundary.
  let cut = new TextDecoder().decode(bytes.slice(0, max));
  if (cut.endsWith('\uFFFD')) cut = cut.slice(0, -1);
  return cut;
}

/** Validates and normalizes a check-in; throws CheckinError naming the field. */
export function normalizeCheckin(input: CheckinInput, now: Date): Checkin {
  if (!input || !SIGNALS.includes(input.signal)) {
    throw new CheckinError('signal', `must be one of ${SIGNALS.join(', ')}`);
  }
  const out: Checkin = { time: iso(now.getTime()), signal: input.signal };
  if (input.runId !== undefined && input.runId !== null && input.runId !== '') {
    if (typeof input.runId !== 'string' || input.runId.length > MAX_RUN_ID) {
      throw new CheckinError('runId', `must be a string of at most ${MAX_RUN_ID} characters`);
    }
    out.runId = input.runId;
  }
  if (input.exitCode !== undefined && input.exitCode !== null) {
    if (!Number.isInteger(input.exitCode) || input.exitCode < -2147483648 || input.exitCode > 2147483647) {
      throw new CheckinError('exitCode', 'must be a whole number');
    }
    out.exitCode = input.exitCode;
  }
  if (input.durationSeconds !== undefined && input.durationSeconds !== null) {
    if (typeof input.durationSeconds !== 'number' || !Number.isFinite(input.durationSeconds) || input.durationSeconds < 0) {
      throw new CheckinError('durationSeconds', 'must be a number of seconds, zero or more');
    }
    out.durationSeconds = input.durationSeconds;
  }
  if (input.message !== undefined && input.message !== null && input.message !== '') {
    out.message = truncateBytes(String(input.message), LIMITS.messageBytes);
  }
  if (input.source) out.source = String(input.source).slice(0, 64);
  return out;
}

function isCompletion(signal: Signal): boolean {
  return signal === 'success' || signal === 'fail';
}

function isDuplicate(st: ReservationStatus, ck: Checkin, nowMs: number): boolean {
  if (ck.runId === undefined || ck.signal === 'log') return false;
  // The day's run keys first (dedup.ts); `recent` and `running` also hold runs recorded before them.
  if (seenRun(st, ck, nowMs)) return true;
  if (ck.signal === 'start') {
    if ((st.running ?? []).some((r) => r.runId === ck.runId)) return true;
    return (st.recent ?? []).some((r) => r.runId === ck.runId && (r.signal === 'start' || isCompletion(r.signal)));
  }
  // A run ends once.
  return (st.recent ?? []).some((r) => r.runId === ck.runId && isCompletion(r.signal));
}

/** GoTel's own outages and the catch-up after each (src/core/outage.ts), for judging runs due before a check-in. */
export interface JudgeOutages {
  outages?: readonly OutageWindow[];
  catchUpMs?: number;
}

/** Whether `t` falls in the window of an expected run not yet judged. */
function inOpenWindow(c: Compiled, st: ReservationStatus, t: number, ev: number | undefined): boolean {
  const from = Math.max(ms(st.judging?.judgedThrough) ?? -Infinity, ms(st.judging?.since) ?? -Infinity);
  for (const x of slots(c, st, from, ev)) return answers(c, t, x);
  return false;
}

/**
 * Full form: the new status, whether it was a duplicate, and the outbox entries made. With
 * `inPlace`, `res.status` is the caller's own copy and is changed instead of cloned (folding a
 * batch of check-ins clones once, not once per check-in: the clone was most of the cost).
 * Kept as one function: the check-in is judged against the runs due before it, then recorded, then
 * the alert moves, each step reading what the one before wrote.
 */
export function applyCheckinDetailed(res: Reservation, input: CheckinInput, now: Date, options: { inPlace?: boolean } & JudgeOutages = {}): CheckinResult {
  const nowMs = now.getTime();
  const ck = normalizeCheckin(input, now);
  const prev = res.status ?? {};
  if (isDuplicate(prev, ck, nowMs)) return { status: prev, duplicate: true, entries: [], checkin: ck };
  const st: ReservationStatus = options.inPlace && res.status ? res.status : structuredClone(prev);

  let c: Compiled | undefined;
  try {
    c = compileSpec(res);
  } catch (e) {
    if (!(e instanceof ScheduleError)) throw e;
  }
  const outages = options.outages ? { outages: options.outages, catchUpMs: options.catchUpMs ?? 0 } : {};
  const ctx: Ctx | undefined = c ? { res, c, st, entries: [], ...outages } : undefined;
  const judging = ctx !== undefined && !ctx.c.suspend;
  const isRun = ck.signal !== 'log';

  // 1. Expected runs and overruns due before this check-in.
  if (ctx && judging) {
    syncJudging(ctx, nowMs);
    const ev = evidence(st, nowMs);
    applyBad(ctx, judgeDue(ctx, nowMs, false, ev));
    // A run arriving after the deadline of the run it answers: Late, not Missed.
    const lr = st.lastResult;
    if (isRun && lr?.outcome === 'Missed' && lr.expectedTime !== undefined && st.judging?.judgedThrough === lr.expectedTime && !inOpenWindow(ctx.c, st, nowMs, ev)) {
      st.lastResult = { ...lr, outcome: 'Late', time: ck.time };
      if (ctx.crossing?.outcome === 'Missed') {
        ctx.crossing = { ...ctx.crossing, outcome: 'Late', message: `late: the run expected at ${lr.expectedTime} checked in at ${ck.time}, after its deadline ${lr.time}` };
      }
    }
    updateAlert(ctx, nowMs);
  }

  // 2. Record it.
  st.checkins = (st.checkins ?? 0) + 1;
  st.lastCheckin = ck;
  // History keeps an excerpt of each message; the whole one stays in lastCheckin. Every status
  // write costs the apiserver in proportion to the object (bench:status-patch: 171 writes/s
  // with 20 full-ish messages, 432/s without), and `gotel run` sends up to 4 kB of output.
  const excerpt = ck.message !== undefined && ck.message.length > RECENT_MESSAGE_CHARS ? { ...ck, message: `${cutChars(ck.message, RECENT_MESSAGE_CHARS)}…` } : ck;
  const recent = [...(st.recent ?? []), excerpt];
  st.recent = recent.slice(Math.max(0, recent.length - LIMITS.recentCheckins));
  recordRun(st, ck, nowMs);

  // 3. Runs.
  if (ck.signal === 'start') {
    st.lastStartTime = ck.time;
    let running = [...(st.running ?? [])];
    // Without run ids a new start supersedes the previous id-less run (they cannot be told apart).
    if (ck.runId === undefined) running = running.filter((r) => r.runId !== undefined);
    const run: RunningRun = { startTime: ck.time, ...(ck.runId !== undefined ? { runId: ck.runId } : {}) };
    running.push(run);
    st.running = running.slice(Math.max(0, running.length - LIMITS.runningRuns));
  } else if (isCompletion(ck.signal)) {
    const running = [...(st.running ?? [])];
    let idx = -1;
    if (ck.runId !== undefined) idx = running.findIndex((r) => r.runId === ck.runId);
    else {
      for (let i = running.length - 1; i >= 0; i--) {
        if (running[i]?.runId === undefined) {
          idx = i;
          break;
        }
      }
    }
    let durationSeconds = ck.durationSeconds;
    if (idx >= 0) {
      const run = running[idx] as RunningRun;
      running.splice(idx, 1);
      const start = ms(run.startTime);
      if (durationSeconds === undefined && start !== undefined) durationSeconds = Math.max(0, (nowMs - start) / 1000);
    }
    if (running.length) st.running = running;
    else delete st.running;

    const failed = ck.signal === 'fail' || (ck.exitCode !== undefined && ck.exitCode !== 0);
    const tooFast = !failed && c?.minRuntimeMs !== undefined && durationSeconds !== undefined && durationSeconds * 1000 < c.minRuntimeMs;
    if (failed) st.lastFailureTime = ck.time;
    else st.lastSuccessTime = ck.time;
    const result: RunResult = {
      outcome: failed ? 'Failed' : tooFast ? 'TooFast' : 'Success',
      time: ck.time,
      ...(ck.runId !== undefined ? { runId: ck.runId } : {}),
      ...(ck.exitCode !== undefined ? { exitCode: ck.exitCode } : {}),
      ...(durationSeconds !== undefined ? { durationSeconds: Math.round(durationSeconds * 1000) / 1000 } : {}),
    };
    if (ctx && judging) {
      const quiet = ctx.c.quiet.at(nowMs);
      if (result.outcome === 'Success') {
        st.lastResult = result;
        countGood(ctx);
      } else if (!quiet) {
        const why =
          result.outcome === 'Failed'
            ? `failed: run ${ck.runId ? `${ck.runId} ` : ''}${ck.exitCode !== undefined ? `exited with code ${ck.exitCode}` : 'reported failure'}${ck.message ? `: ${ck.message.slice(0, 200)}` : ''}`
            : `too fast: run ${ck.runId ? `${ck.runId} ` : ''}finished in ${formatDuration((durationSeconds ?? 0) * 1000)}, under minRuntime ${formatDuration(ctx.c.minRuntimeMs ?? 0)}`;
        countBad(ctx, { outcome: result.outcome, time: nowMs }, result, why);
      } else {
        st.lastResult = result; // shown, not counted: it happened inside a quiet period
      }
      updateAlert(ctx, nowMs);
    } else {
      st.lastResult = result;
    }
  }

  return { status: st, duplicate: false, entries: ctx?.entries ?? [], checkin: ck };
}

/** The status after one check-in (see applyCheckinDetailed for the details). */
export function applyCheckin(res: Reservation, input: CheckinInput, now: Date): ReservationStatus {
  return applyCheckinDetailed(res, input, now).status;
}
