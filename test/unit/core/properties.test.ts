// Property tests over random schedules, zones, check-in streams and clocks. Bounded runs with a
// fixed seed: fast and repeatable; change the seed locally to explore.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Reservation, ReservationSpec, Signal } from '../../../src/api/reservation.ts';
import { applyCheckinDetailed, canonical, compileSpec, EARLY_MS, evaluate, parseDuration, type Evaluation } from '../../../src/core/index.ts';
import { reservation } from './sim.ts';

const ZONES = ['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kathmandu', 'Australia/Lord_Howe', 'Pacific/Chatham', 'America/Sao_Paulo', 'Asia/Kolkata'];
// Starting points next to DST changes in those zones (and plain days).
const STARTS = ['2026-03-07T18:00:00Z', '2026-03-28T12:00:00Z', '2026-10-24T12:00:00Z', '2026-10-31T18:00:00Z', '2026-10-03T00:00:00Z', '2026-09-26T00:00:00Z', '2026-06-15T09:17:00Z'];
const HOUR = 3_600_000;
const WINDOW = 30 * HOUR;

const cronExpr = fc
  .tuple(
    fc.constantFrom('*/5', '0', '15,45', '*/17', '7', '30', '*/10', '0-10/5'),
    fc.constantFrom('*', '*', '*/3', '2', '0-6', '1,13', '*/2'),
    fc.constantFrom('*', '*', '*/2', '1-15', '13'),
    fc.constantFrom('*', '*', '3,10', '*/2'),
    fc.constantFrom('*', '*', '1-5', '0,6', 'MON', '*/2'),
  )
  .map((f) => f.join(' '));

const specArb: fc.Arbitrary<ReservationSpec> = fc
  .record({
    kind: fc.constantFrom('cron', 'cron', 'every'),
    schedule: cronExpr,
    every: fc.constantFrom('5m', '17m', '1h', '90m', '6h'),
    timeZone: fc.constantFrom(...ZONES),
    grace: fc.constantFrom('0s', '30s', '1m', '5m', '10m', '1h'),
    maxRuntime: fc.constantFrom(undefined, '2m', '30m', '3h'),
    minRuntime: fc.constantFrom(undefined, undefined, '10s'),
    failureThreshold: fc.integer({ min: 1, max: 3 }),
    recoveryThreshold: fc.integer({ min: 1, max: 3 }),
    renotifyInterval: fc.constantFrom(undefined, '1h', '6h'),
    quiet: fc.constantFrom('none', 'none', 'none', 'snooze', 'window'),
  })
  .map((r) => {
    const spec: ReservationSpec = r.kind === 'cron' ? { schedule: r.schedule, timeZone: r.timeZone } : { every: r.every };
    spec.grace = r.grace;
    if (r.maxRuntime) spec.maxRuntime = r.maxRuntime;
    if (r.minRuntime) spec.minRuntime = r.minRuntime;
    spec.failureThreshold = r.failureThreshold;
    spec.recoveryThreshold = r.recoveryThreshold;
    if (r.renotifyInterval) spec.renotifyInterval = r.renotifyInterval;
    if (r.quiet === 'window') spec.maintenanceWindows = [{ schedule: '0 4 * * *', duration: '2h', timeZone: r.timeZone }];
    return { spec, quiet: r.quiet };
  })
  .map(({ spec, quiet }) => ({ ...spec, ...(quiet === 'snooze' ? { snoozeUntil: 'SNOOZE' } : {}) }));

type Step = { dt: number; kind: 'checkin'; signal: Signal; runId?: string; exitCode?: number } | { dt: number; kind: 'eval' } | { dt: number; kind: 'probe'; frac: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    dt: fc.integer({ min: 0, max: WINDOW }),
    kind: fc.constant('checkin' as const),
    signal: fc.constantFrom<Signal>('start', 'success', 'success', 'fail', 'log'),
    runId: fc.option(fc.constantFrom('a', 'b', 'c', 'd'), { nil: undefined }),
    exitCode: fc.option(fc.constantFrom(0, 0, 1, 137), { nil: undefined }),
  }),
  fc.record({ dt: fc.integer({ min: 0, max: WINDOW }), kind: fc.constant('eval' as const) }),
  fc.record({ dt: fc.integer({ min: 0, max: WINDOW }), kind: fc.constant('probe' as const), frac: fc.double({ min: 0.01, max: 0.99, noNaN: true }) }),
);

const scenario = fc.record({
  spec: specArb,
  start: fc.constantFrom(...STARTS),
  snoozeFor: fc.integer({ min: 1, max: 20 * HOUR }),
  steps: fc.array(stepArb, { minLength: 1, maxLength: 40 }),
  followWakeups: fc.boolean(),
});

interface Run {
  at: number;
  signal: Signal;
}

/** Checks every invariant on one evaluation. */
function check(res: Reservation, e: Evaluation, now: number, runs: Run[], quietSpec: boolean): void {
  const tag = `${JSON.stringify(res.spec)} at ${new Date(now).toISOString()}`;
  // The next wake-up is never in the past and never after the next deadline.
  if (e.nextWakeup) expect(e.nextWakeup.getTime(), tag).toBeGreaterThan(now);
  if (e.deadline) {
    expect(e.nextWakeup, tag).not.toBeNull();
    expect(e.nextWakeup!.getTime(), tag).toBeLessThanOrEqual(e.deadline.getTime());
    expect(e.deadline.getTime(), tag).toBeGreaterThan(now);
  }
  // Idempotent.
  const again = evaluate({ ...res, status: e.status }, new Date(now));
  expect(again.transitions, tag).toEqual([]);
  expect(canonical(again.status), tag).toBe(canonical(e.status));
  expect(again.changed, tag).toBe(false);

  const c = compileSpec(res);
  const st = e.status;
  // Never silent: enough bad runs outside a quiet period means the alert fires.
  if (!c.quiet.at(now) && (st.consecutiveFailures ?? 0) >= c.failureThreshold) expect(st.alert?.firing, tag).toBe(true);

  // Never Healthy after a deadline passed without a check-in (outside quiet periods).
  if (!quietSpec) {
    const created = Date.parse(res.metadata.creationTimestamp as string);
    const evidence = runs.filter((r) => r.signal !== 'log' && r.at <= now).reduce((m, r) => Math.max(m, r.at), -Infinity);
    let missed: boolean;
    if (c.schedule.kind === 'every') {
      const base = Math.max(evidence, created);
      missed = base + c.schedule.periodMs + c.graceMs <= now;
    } else {
      const t = c.schedule.previousMs(now - c.graceMs + 1);
      missed = t !== null && t > created && t - EARLY_MS >= evidence;
    }
    if (missed) expect(['Healthy', 'Pending'], `${tag}: ${e.state}`).not.toContain(e.state);
  }
}

function simulate(spec: ReservationSpec, start: string, snoozeFor: number, steps: Step[], followWakeups: boolean) {
  const created = Date.parse(start);
  const quietSpec = spec.snoozeUntil !== undefined || spec.maintenanceWindows !== undefined;
  if (spec.snoozeUntil) spec = { ...spec, snoozeUntil: new Date(created + snoozeFor).toISOString() };
  let res = reservation(spec, start);
  const runs: Run[] = [];
  const kinds: string[] = [];
  let last: Evaluation | undefined;
  let lastAt = created;
  const evalAt = (t: number) => {
    const e = evaluate(res, new Date(t));
    check(res, e, t, runs, quietSpec);
    for (const tr of e.transitions) kinds.push(tr.kind);
    if (e.transitions.some((tr) => tr.kind === 'alert')) expect(e.status.consecutiveFailures ?? 0).toBeGreaterThanOrEqual(spec.failureThreshold ?? 1);
    res = { ...res, status: e.status };
    last = e;
    lastAt = t;
  };
  evalAt(created);
  for (const step of [...steps].sort((a, b) => a.dt - b.dt)) {
    const t = created + step.dt;
    if (followWakeups) {
      for (let i = 0; i < 30 && last?.nextWakeup && last.nextWakeup.getTime() <= t; i++) evalAt(last.nextWakeup.getTime());
    }
    if (step.kind === 'probe') {
      // Nothing changes by time alone before the next wake-up.
      const w = last?.nextWakeup?.getTime();
      if (last && w !== undefined && w > lastAt + 2) {
        const p = lastAt + 1 + Math.floor((w - lastAt - 2) * step.frac);
        const e = evaluate(res, new Date(p));
        expect(e.transitions, `probe at ${new Date(p).toISOString()} before wake-up ${new Date(w).toISOString()}`).toEqual([]);
        expect(e.state).toBe(last.state);
      }
      continue;
    }
    if (step.kind === 'checkin') {
      const r = applyCheckinDetailed(res, { signal: step.signal, ...(step.runId ? { runId: step.runId } : {}), ...(step.exitCode !== undefined ? { exitCode: step.exitCode } : {}) }, new Date(t));
      if (!r.duplicate) runs.push({ at: t, signal: step.signal });
      for (const en of r.entries) kinds.push(en.kind);
      const hasAlert = r.entries.findIndex((x) => x.kind === 'alert');
      const hasRecovery = r.entries.findIndex((x) => x.kind === 'recovery');
      // (A good run in the same call may already have reset the count after the alert.)
      const good = step.signal === 'success' && (step.exitCode ?? 0) === 0;
      if (hasAlert >= 0 && hasRecovery < 0 && !good) expect(r.status.consecutiveFailures ?? 0).toBeGreaterThanOrEqual(spec.failureThreshold ?? 1);
      if (hasRecovery >= 0) expect(r.status.consecutiveSuccesses ?? 0).toBeGreaterThanOrEqual(spec.recoveryThreshold ?? 1);
      res = { ...res, status: r.status };
    }
    evalAt(t);
  }
  // Alerts and recoveries alternate, starting with an alert; reminders only while firing.
  let firing = false;
  for (const k of kinds) {
    if (k === 'alert') expect(firing).toBe(false);
    if (k === 'recovery' || k === 'renotify') expect(firing).toBe(true);
    if (k === 'alert') firing = true;
    if (k === 'recovery') firing = false;
  }
  expect(res.status?.alert?.firing ?? false).toBe(firing);
}

describe('properties of evaluate() and applyCheckin()', () => {
  it('hold over random schedules, zones, check-in streams and clocks', () => {
    fc.assert(
      fc.property(scenario, ({ spec, start, snoozeFor, steps, followWakeups }) => simulate(spec, start, snoozeFor, steps, followWakeups)),
      { numRuns: Number(process.env.GOTEL_PROPERTY_RUNS ?? 150), seed: Number(process.env.GOTEL_PROPERTY_SEED ?? 20260328) },
    );
  }, 30_000);

  it('an operator that evaluates only at wake-ups misses nothing: every unanswered deadline is alerted (threshold 1)', () => {
    fc.assert(
      fc.property(cronExpr, fc.constantFrom(...ZONES), fc.constantFrom(...STARTS), fc.constantFrom('1m', '10m'), (schedule, timeZone, start, grace) => {
        let res = reservation({ schedule, timeZone, grace }, start);
        const created = Date.parse(start);
        let e = evaluate(res, new Date(created));
        res = { ...res, status: e.status };
        const deadlines: string[] = [];
        for (let i = 0; i < 6 && e.nextWakeup; i++) {
          const d = e.deadline?.toISOString();
          e = evaluate(res, e.nextWakeup);
          res = { ...res, status: e.status };
          if (d) deadlines.push(d);
          expect(e.state).toBe('Missed');
        }
        // Each wake-up was the deadline of the next expected run, one after another.
        const c = compileSpec(res);
        const expected: string[] = [];
        let t: number | null = created;
        while (expected.length < deadlines.length && (t = c.schedule.nextMs(t)) !== null) expected.push(new Date(t + parseDuration(grace)).toISOString());
        expect(deadlines).toEqual(expected);
        expect(res.status?.consecutiveFailures).toBe(deadlines.length);
      }),
      { numRuns: 60, seed: 7 },
    );
  });
});
