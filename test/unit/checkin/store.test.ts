// applyCheckins: a batch of check-ins for one Reservation, applied in order and judged once.
import { describe, expect, it } from 'vitest';
import type { Reservation } from '../../../src/api/reservation.ts';
import { applyCheckins } from '../../../src/checkin/store.ts';

const res = (spec: Reservation['spec']): Reservation => ({
  apiVersion: 'gotel.io/v1alpha1',
  kind: 'Reservation',
  metadata: { name: 'r', namespace: 'n', generation: 1, creationTimestamp: '2026-01-01T00:00:00Z' },
  spec,
});
const at = (s: string) => new Date(`2026-01-01T00:${s}Z`);

describe('applyCheckins', () => {
  it('records each in order, drops a repeated (runId, signal) within the batch, and judges the result', () => {
    const items = [
      { input: { signal: 'start' as const, runId: 'a' }, now: at('00:10') },
      { input: { signal: 'success' as const, runId: 'a' }, now: at('00:20') },
      { input: { signal: 'success' as const, runId: 'a' }, now: at('00:21') },
      { input: { signal: 'log' as const, message: 'hi' }, now: at('00:22') },
    ];
    const st = applyCheckins(res({ every: '5m' }), items)!;
    expect(st.checkins).toBe(3);
    expect(st.recent?.map((c) => c.signal)).toEqual(['start', 'success', 'log']);
    expect(items.map((i) => (i as { duplicate?: boolean }).duplicate)).toEqual([false, false, true, false]);
    expect(st.state).toBe('Healthy');
    expect(st.deadline).toBeDefined();
  });

  it('changes nothing when every check-in is a repeat', () => {
    const first = res({ every: '5m' });
    first.status = applyCheckins(first, [{ input: { signal: 'success', runId: 'x' }, now: at('01:00') }])!;
    expect(applyCheckins(first, [{ input: { signal: 'success', runId: 'x' }, now: at('02:00') }])).toBeNull();
  });

  it('records but does not judge a Reservation that follows a CronJob, unless given the effective spec', () => {
    const follows = res({ jobRef: { kind: 'CronJob', name: 'c' } });
    const plain = applyCheckins(follows, [{ input: { signal: 'success' }, now: at('01:00') }])!;
    expect(plain.checkins).toBe(1);
    expect(plain.state).toBeUndefined();
    const judged = applyCheckins(follows, [{ input: { signal: 'success' }, now: at('01:00') }], (r) => ({ ...r, spec: { ...r.spec, schedule: '*/5 * * * *' } }))!;
    expect(judged.state).toBe('Healthy');
  });
});
