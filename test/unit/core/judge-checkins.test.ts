// judge() with check-ins arriving: a batch for one Reservation, applied in order and judged once,
// with a per-shard mark so a replayed check-in counts once.
import { describe, expect, it } from 'vitest';
import { LIMITS, type Reservation } from '../../../src/api/reservation.ts';
import { judge, lastArrival, markOf, raiseMark, type CheckinInput, type FollowedCronJob, type FoldItem } from '../../../src/core/index.ts';

/** The check-in path's call: the batch judged at its last arrival. */
const foldCheckins = (r: Reservation, items: FoldItem[], cronJob?: FollowedCronJob) => judge(r, lastArrival(items), { checkins: items, ...(cronJob ? { cronJob } : {}) });

const res = (spec: Reservation['spec']): Reservation => ({
  apiVersion: 'gotel.io/v1alpha1',
  kind: 'Reservation',
  metadata: { name: 'r', namespace: 'n', generation: 1, creationTimestamp: '2026-01-01T00:00:00Z' },
  spec,
});
const at = (s: string) => new Date(`2026-01-01T00:${s}Z`);
let seq = 0;
const item = (input: CheckinInput, now: Date, shard = 'a1', n = ++seq): FoldItem => ({ shard, seq: n, now, input });

describe('judge with check-ins arriving', () => {
  it('records each in order, drops a repeated (runId, signal) within the batch, and judges the result', () => {
    const items = [
      item({ signal: 'start', runId: 'a' }, at('00:10')),
      item({ signal: 'success', runId: 'a' }, at('00:20')),
      item({ signal: 'success', runId: 'a' }, at('00:21')),
      item({ signal: 'log', message: 'hi' }, at('00:22')),
    ];
    const { status, outcomes } = foldCheckins(res({ every: '5m' }), items);
    expect(status!.checkins).toBe(3);
    expect(status!.recent?.map((c) => c.signal)).toEqual(['start', 'success', 'log']);
    expect(outcomes.map((o) => o.duplicate)).toEqual([false, false, true, false]);
    expect(status!.state).toBe('Healthy');
    expect(status!.deadline).toBeDefined();
    expect(markOf(status!, 'a1')).toBe(items[3]!.seq);
  });

  it('changes nothing when every check-in is a repeat', () => {
    const first = res({ every: '5m' });
    first.status = foldCheckins(first, [item({ signal: 'success', runId: 'x' }, at('01:00'))]).status!;
    expect(foldCheckins(first, [item({ signal: 'success', runId: 'x' }, at('02:00'))]).status).toBeNull();
  });

  it('counts a replayed check-in once: at or below its shard mark it is already folded', () => {
    const r = res({ every: '5m' });
    const batch = [item({ signal: 'success' }, at('01:00'), 's1', 7), item({ signal: 'success' }, at('01:01'), 's1', 9)];
    r.status = foldCheckins(r, batch).status!;
    expect(r.status.checkins).toBe(2);
    const replay = foldCheckins(r, [...batch, item({ signal: 'success' }, at('01:02'), 's1', 10)]);
    expect(replay.outcomes.map((o) => o.alreadyFolded)).toEqual([true, true, false]);
    expect(replay.status!.checkins).toBe(3);
    // Another shard's numbers are its own.
    expect(foldCheckins(r, [item({ signal: 'success' }, at('01:03'), 's2', 1)]).status!.checkins).toBe(3);
  });

  it('keeps the marks that moved last, within the CRD bound', () => {
    let marks = raiseMark(undefined, 's0', 5, at('00:00'));
    for (let i = 1; i <= LIMITS.journalMarks + 3; i++) marks = raiseMark(marks, `s${i}`, i, at(`${String(i).padStart(2, '0')}:00`));
    expect(marks).toHaveLength(LIMITS.journalMarks);
    expect(marks.some((m) => m.shard === 's0')).toBe(false);
    expect(raiseMark(marks, `s${LIMITS.journalMarks + 3}`, 1, at('59:00')).find((m) => m.shard === `s${LIMITS.journalMarks + 3}`)!.seq).toBe(LIMITS.journalMarks + 3);
  });

  it('records but does not judge a Reservation that follows a CronJob, unless given that CronJob', () => {
    const follows = res({ jobRef: { kind: 'CronJob', name: 'c' } });
    const plain = foldCheckins(follows, [item({ signal: 'success' }, at('01:00'))]).status!;
    expect(plain.checkins).toBe(1);
    expect(plain.state).toBeUndefined();
    const judged = foldCheckins(follows, [item({ signal: 'success' }, at('01:00'))], { schedule: '*/5 * * * *' }).status!;
    expect(judged.state).toBe('Healthy');
    expect(judged.journal).toHaveLength(1);
  });
});

describe('a cron schedule every minute', () => {
  it('alerts a skipped run: a check-in just after the run before belongs to that run, not to the next', () => {
    const T0 = Date.parse('2026-01-01T00:00:30Z');
    let r: Reservation = { ...res({ schedule: '* * * * *', grace: '20s' }), metadata: { name: 'r', namespace: 'n', creationTimestamp: new Date(T0).toISOString() } };
    let seq = 0;
    // Checks in 2 s after every whole minute, except the one at 00:03.
    for (let t = T0; t <= T0 + 330_000; t += 1_000) {
      const at = new Date(t);
      const checkin = at.getUTCSeconds() === 2 && at.getUTCMinutes() !== 3;
      const items: FoldItem[] | undefined = checkin ? [{ shard: 'a', seq: ++seq, now: at, input: { signal: 'success' } }] : undefined;
      const j = judge(r, at, items ? { checkins: items } : {});
      if (j.status) r = { ...r, status: j.status };
    }
    expect(r.status?.alert?.outbox?.map((e) => [e.kind, e.reason, e.dueTime])).toEqual([
      ['alert', 'Missed', '2026-01-01T00:03:20Z'],
      ['recovery', 'Missed', '2026-01-01T00:04:02Z'],
    ]);
  });
});
