// Outage-aware judging: a run whose deadline falls while GoTel could not accept check-ins (or in
// the catch-up after) waits, is CheckedIn when a retried check-in answers it, and is Unknown (not
// Missed, no alert) when none comes; runs after the catch-up are judged as ever; jobRef
// Reservations ignore outages. Plus the pure bookkeeping of outage records.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Reservation, ReservationStatus } from '../../../src/api/reservation.ts';
import { iso, judge, leaderGap, mergeOutage, outageFor, windowsOf, type FoldItem, type OutageRecord, type OutageWindow } from '../../../src/core/index.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const s = (sec: number) => new Date(T0 + sec * 1000);
const res = (spec: Reservation['spec'], status?: ReservationStatus): Reservation => ({
  apiVersion: 'gotel.io/v1alpha1',
  kind: 'Reservation',
  metadata: { name: 'r', namespace: 'n', generation: 1, creationTimestamp: s(0).toISOString() },
  spec,
  ...(status ? { status } : {}),
});
let seq = 0;
const success = (at: number): FoldItem => ({ shard: 'a', seq: ++seq, now: s(at), input: { signal: 'success' } });

/** every 10s, grace 3s: with a check-in at 1s, runs are expected at 11s, 21s, ... (deadlines 14s, 24s, ...). */
const spec = { every: '10s', grace: '3s' };
const outage: OutageWindow = { id: 'o-1', start: T0 + 12_000, end: T0 + 30_000 };
const CATCH_UP = 10_000;
const inputs = { outages: [outage], catchUpMs: CATCH_UP };

/** Judges repeatedly as the reconciler would (storing each status) up to `until` seconds. */
function run(r: Reservation, until: number, opts: { outages?: OutageWindow[]; checkins?: number[] } = {}): Reservation {
  const checkins = [...(opts.checkins ?? [])];
  for (let t = 1; t <= until; t++) {
    const now = s(t);
    const items = checkins.includes(t) ? [success(t)] : undefined;
    const j = judge(r, now, { outages: opts.outages ?? [outage], catchUpMs: CATCH_UP, ...(items ? { checkins: items } : {}) });
    if (j.status) r = { ...r, status: j.status };
  }
  return r;
}

describe('outage-aware judging', () => {
  it('a run due in the outage waits for the catch-up, then is Unknown, not Missed, and nothing is alerted', () => {
    const r0 = res(spec);
    r0.status = judge(r0, s(1), { checkins: [success(1)] }).status!;
    const during = run(r0, 35);
    expect(during.status?.state).toBe('Healthy');
    expect(during.status?.outageRuns?.[0]).toMatchObject({ outage: 'o-1', expectedTime: iso(T0 + 11_000) });
    expect(during.status?.outageRuns?.[0]?.outcome).toBeUndefined();
    expect(during.status?.conditions?.find((c) => c.type === 'Healthy')).toMatchObject({ status: 'Unknown', reason: 'GoTelOutage' });
    expect(during.status?.conditions?.find((c) => c.type === 'Healthy')?.message).toContain('outage o-1');
    const after = run(during, 41);
    expect(after.status?.state).toBe('Unknown');
    expect(after.status?.lastResult).toMatchObject({ outcome: 'Unknown', outage: 'o-1' });
    expect(after.status?.outageRuns?.map((x) => x.outcome)).toEqual(['Unknown', 'Unknown', 'Unknown']);
    expect(after.status?.alert?.outbox ?? []).toEqual([]);
    expect(after.status?.consecutiveFailures ?? 0).toBe(0);
    expect(after.status?.conditions?.find((c) => c.type === 'Healthy')).toMatchObject({ status: 'Unknown', reason: 'GoTelOutage' });
  });

  it('wakes up when the catch-up ends, and retries while the outage still lasts', () => {
    const r0 = res(spec);
    r0.status = judge(r0, s(1), { checkins: [success(1)] }).status!;
    const j = judge(r0, s(20), inputs);
    expect(j.requeueAfterMs).toBe(20_000); // 30s + 10s catch-up - 20s
    const open = judge(r0, s(20), { outages: [{ ...outage, end: null }], catchUpMs: CATCH_UP });
    expect(open.requeueAfterMs).toBe(5_000);
  });

  it('a check-in retried in the catch-up answers the run: CheckedIn, Healthy, no Late', () => {
    const r0 = res(spec);
    r0.status = judge(r0, s(1), { checkins: [success(1)] }).status!;
    const r = run(r0, 45, { checkins: [33] });
    expect(r.status?.outageRuns?.[0]).toMatchObject({ outage: 'o-1', outcome: 'CheckedIn' });
    expect(r.status?.lastResult?.outcome).toBe('Success');
    expect(r.status?.alert?.outbox ?? []).toEqual([]);
    expect(r.status?.state).toBe('Healthy');
  });

  it('a run whose window opened after the outage is Missed and alerted as ever, even with its deadline in the catch-up', () => {
    const r0 = res(spec);
    r0.status = judge(r0, s(1), { checkins: [success(1)] }).status!;
    const r = run(r0, 50);
    expect(r.status?.state).toBe('Missed');
    // Expected at 41s (its window opened at 31s, after the outage's end at 30s), deadline 44s.
    expect(r.status?.lastResult?.expectedTime).toBe(iso(T0 + 41_000));
    expect(r.status?.alert?.outbox?.map((e) => e.reason)).toEqual(['Missed']);
  });

  it('without the outage the same runs are Missed (the control)', () => {
    const r0 = res(spec);
    r0.status = judge(r0, s(1), { checkins: [success(1)] }).status!;
    const r = run(r0, 20, { outages: [] });
    expect(r.status?.state).toBe('Missed');
  });

  it('judges a Reservation created after the outage as ever', () => {
    const r0 = res(spec);
    r0.metadata.creationTimestamp = s(31).toISOString();
    const r = run(r0, 45, { outages: [{ id: 'o-1', start: T0, end: T0 + 30_000 }] }); // first run 41s, deadline 44s: in the catch-up
    expect(r.status?.state).toBe('Missed');
    expect(r.status?.outageRuns).toBeUndefined();
  });

  it('ignores outages for a jobRef Reservation (its evidence is Job status, in the apiserver)', () => {
    const r0 = res({ ...spec, jobRef: { kind: 'Job', name: 'j' } });
    r0.status = judge(r0, s(1), { checkins: [success(1)] }).status!;
    expect(run(r0, 20).status?.state).toBe('Missed');
  });

  it('a run past maxRuntime in the outage waits for the catch-up: its end retried then is no Overrun; still running after it, Overrun', () => {
    const long = { every: '1h', grace: '3s', maxRuntime: '2s' };
    const signal = (at: number, sig: 'start' | 'success'): FoldItem => ({ shard: 'a', seq: ++seq, now: s(at), input: { signal: sig, runId: 'r1' } });
    // Started at 11s, before the outage (12s-30s); maxRuntime passes at 13s, inside it.
    const judgeAt = (r: Reservation, until: number, outages: OutageWindow[], endAt?: number): Reservation => {
      for (let t = 11; t <= until; t++) {
        const items = t === 11 ? [signal(11, 'start')] : t === endAt ? [signal(t, 'success')] : undefined;
        const j = judge(r, s(t), { outages, catchUpMs: CATCH_UP, ...(items ? { checkins: items } : {}) });
        if (j.status) r = { ...r, status: j.status };
      }
      return r;
    };
    const ended = judgeAt(res(long), 45, [outage], 35);
    expect(ended.status?.alert?.outbox ?? []).toEqual([]);
    expect(ended.status?.lastResult?.outcome).toBe('Success');
    const during = judgeAt(res(long), 39, [outage]);
    expect(during.status?.running?.[0]?.overrun).toBeFalsy();
    expect(judge(during, s(39), inputs).requeueAfterMs).toBeLessThanOrEqual(1_000);
    const stillRunning = judgeAt(res(long), 45, [outage]);
    expect(stillRunning.status?.alert?.outbox?.map((e) => e.reason)).toEqual(['Overrun']);
    // The control: without the outage it is an Overrun at 13s.
    expect(judgeAt(res(long), 14, []).status?.alert?.outbox?.map((e) => e.reason)).toEqual(['Overrun']);
  });

  it('property: with an outage covering every deadline, no run is ever Missed and nothing alerted', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 5 }), fc.array(fc.integer({ min: 2, max: 80 }), { maxLength: 4 }), (period, grace, checkins) => {
        const r0 = res({ every: `${period}s`, grace: `${grace}s` });
        r0.status = judge(r0, s(1), { checkins: [success(1)] }).status!;
        const all: OutageWindow = { id: 'o-all', start: T0, end: T0 + 200_000 };
        const r = run(r0, 80, { outages: [all], checkins });
        expect(r.status?.alert?.outbox ?? []).toEqual([]);
        expect(r.status?.state === 'Missed' || r.status?.lastResult?.outcome === 'Missed').toBe(false);
      }),
      { numRuns: 40 },
    );
  });
});

describe('outage records', () => {
  const rec = (start: number, end: number, id = `x${start}`): OutageRecord => ({ id, start, end, causes: ['apiserver'] });

  it('merges overlapping and nearly touching intervals, keeping the earliest id, and is idempotent', () => {
    const one = mergeOutage([], { start: 100_000, end: 120_000, cause: 'apiserver' });
    expect(one).toHaveLength(1);
    const two = mergeOutage(one, { start: 90_000, end: 101_000, cause: 'no-leader' });
    expect(two).toEqual([{ id: one[0]!.id, start: 90_000, end: 120_000, causes: ['apiserver', 'no-leader'] }]);
    expect(mergeOutage(two, { start: 90_000, end: 101_000, cause: 'no-leader' })).toEqual(two);
    expect(mergeOutage(two, { start: 200_000, end: 210_000, cause: 'apiserver' })).toHaveLength(2);
  });

  it('joins a record into which two others merge', () => {
    const merged = mergeOutage([rec(0, 10_000, 'a'), rec(30_000, 40_000, 'b')], { start: 12_000, end: 28_000, cause: 'apiserver' });
    expect(merged).toEqual([{ id: 'a', start: 0, end: 40_000, causes: ['apiserver'] }]);
  });

  it('a leader Lease not renewed for more than its duration is a gap; a fresh one is not', () => {
    expect(leaderGap(1000, 15_000, 10_000)).toBeNull();
    expect(leaderGap(1000, 15_000, 40_000)).toEqual({ start: 1000, end: 40_000, cause: 'no-leader' });
    expect(leaderGap(undefined, 15_000, 40_000)).toBeNull();
  });

  it('the open outage extends the record it touches; a deadline is in the window up to end + catch-up', () => {
    const w = windowsOf([rec(0, 10_000, 'a')], { start: 12_000 });
    expect(w).toEqual([{ id: 'a', start: 0, end: null }]);
    expect(windowsOf([], { start: 5 })[0]?.end).toBeNull();
    expect(outageFor([{ id: 'a', start: 0, end: 10 }], 15, 5)?.id).toBe('a');
    expect(outageFor([{ id: 'a', start: 0, end: 10 }], 16, 5)).toBeUndefined();
  });
});
