// A retried (runId, signal) counts once within a day, however many check-ins came between; the
// record of it stays bounded (status.runKeys: hashed keys per UTC hour, 1024 at most).
import { describe, expect, it } from 'vitest';
import type { Reservation } from '../../../src/api/reservation.ts';
import { applyCheckinDetailed } from '../../../src/core/index.ts';
import { remember, runKey, RUN_KEY_CHARS, RUN_KEYS_MAX, seen } from '../../../src/core/dedup.ts';
import { reservation } from './sim.ts';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-03-01T00:00:00Z');

/** Folds check-ins in place (as the check-in store does) and counts the ones not taken as duplicates. */
function folder(every = '1m'): { res: Reservation; send: (input: Parameters<typeof applyCheckinDetailed>[1], at: number) => boolean } {
  const res = reservation({ every });
  return {
    res,
    send(input, at) {
      const r = applyCheckinDetailed(res, input, new Date(at), { inPlace: true });
      if (!r.duplicate) res.status = r.status;
      return !r.duplicate;
    },
  };
}

describe('run keys', () => {
  it('are 8 base64url characters, one per (runId, start|end)', () => {
    expect(runKey('end', 'r-1')).toMatch(/^[-_A-Za-z0-9]{8}$/);
    expect(runKey('end', 'r-1')).toBe(runKey('end', 'r-1'));
    expect(runKey('end', 'r-1')).not.toBe(runKey('start', 'r-1'));
    expect(runKey('end', 'r-1')).not.toBe(runKey('end', 'r-2'));
    // No collisions among 100,000 run ids (48 bits: expected about 2e-5 of one).
    const keys = new Set(Array.from({ length: 100_000 }, (_, i) => runKey('end', `run-${i}`)));
    expect(keys.size).toBe(100_000);
  });

  it('count a retry once after a burst of 500 distinct runs (status.recent holds only 20)', () => {
    const f = folder();
    for (let i = 0; i < 500; i++) {
      expect(f.send({ signal: 'start', runId: `run-${i}` }, T0 + i * 100)).toBe(true);
      expect(f.send({ signal: 'success', runId: `run-${i}` }, T0 + i * 100 + 50)).toBe(true);
    }
    expect(f.res.status?.checkins).toBe(1000);
    // A client retries the end, then the start, of an early run: both duplicates.
    expect(f.send({ signal: 'success', runId: 'run-3' }, T0 + 60_000)).toBe(false);
    expect(f.send({ signal: 'start', runId: 'run-3' }, T0 + 60_000)).toBe(false);
    expect(f.send({ signal: 'fail', runId: 'run-3' }, T0 + 60_000)).toBe(false);
    expect(f.res.status?.checkins).toBe(1000);
    // A new run still counts; check-ins without a run id are never duplicates.
    expect(f.send({ signal: 'success', runId: 'run-500' }, T0 + 61_000)).toBe(true);
    expect(f.send({ signal: 'success' }, T0 + 62_000)).toBe(true);
    expect(f.send({ signal: 'success' }, T0 + 62_000)).toBe(true);
    // 1001 keys of 8 characters, under one hour.
    expect(Object.keys(f.res.status?.runKeys ?? {})).toEqual(['2026-03-01T00']);
    expect(f.res.status?.runKeys?.['2026-03-01T00']).toHaveLength(1001 * RUN_KEY_CHARS);
  });

  it('keep a key for a day (24 to 25 hours, by the hour), then forget it', () => {
    const f = folder('1h');
    const first = T0 + 30 * 60_000; // 00:30
    expect(f.send({ signal: 'success', runId: 'nightly' }, first)).toBe(true);
    for (let h = 1; h <= 23; h++) f.send({ signal: 'success', runId: `other-${h}` }, first + h * HOUR);
    expect(f.send({ signal: 'success', runId: 'nightly' }, first + 24 * HOUR)).toBe(false); // 00:30 next day: in the window
    expect(f.send({ signal: 'success', runId: 'nightly' }, first + 25 * HOUR)).toBe(true); // 01:30: its hour has gone
    const hours = Object.keys(f.res.status?.runKeys ?? {});
    expect(hours).toHaveLength(24); // 01..23 of the first day, 01 of the next
    expect(hours[0]).toBe('2026-03-01T01');
  });

  it('keep at most RUN_KEYS_MAX, dropping the oldest first', () => {
    let keys: Record<string, string> | undefined;
    for (let i = 0; i < RUN_KEYS_MAX + 100; i++) keys = remember(keys, runKey('end', `r${i}`), T0 + i * 1000);
    const total = Object.values(keys!).reduce((n, packed) => n + packed.length, 0);
    expect(total).toBe(RUN_KEYS_MAX * RUN_KEY_CHARS);
    const now = T0 + (RUN_KEYS_MAX + 100) * 1000;
    expect(seen(keys, runKey('end', 'r99'), now)).toBe(false);
    expect(seen(keys, runKey('end', 'r100'), now)).toBe(true);
    expect(seen(keys, runKey('end', `r${RUN_KEYS_MAX + 99}`), now)).toBe(true);
  });

  it('never keep more hours than the CRD allows, whatever the replicas\' clocks say', () => {
    const future = Object.fromEntries(Array.from({ length: 40 }, (_, h) => [new Date(T0 + h * HOUR).toISOString().slice(0, 13), runKey('end', `f${h}`)]));
    const keys = remember(future, runKey('end', 'now'), T0);
    expect(Object.keys(keys)).toHaveLength(26);
    expect(seen(keys, runKey('end', 'now'), T0)).toBe(true);
  });

  it('match whole keys only, never a key straddling two others', () => {
    const a = runKey('end', 'a');
    const b = runKey('end', 'b');
    const straddle = a.slice(4) + b.slice(0, 4);
    expect(seen({ '2026-03-01T00': a + b }, straddle, T0)).toBe(false);
    expect(seen({ '2026-03-01T00': a + b }, b, T0)).toBe(true);
  });
});
