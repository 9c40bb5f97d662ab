import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../../src/api/reservation.ts';
import { applyCheckin, applyCheckinDetailed, CheckinError } from '../../../src/core/index.ts';
import { RECENT_MESSAGE_CHARS } from '../../../src/core/checkin.ts';
import { reservation, Sim } from './sim.ts';

const spec = { schedule: '*/5 * * * *', grace: '1m' };

describe('applyCheckin', () => {
  it('records the check-in with the server time, whatever the client said', () => {
    const res = reservation(spec);
    const st = applyCheckin(res, { signal: 'success', time: '1999-01-01T00:00:00Z', source: 'http', message: 'ok' }, new Date('2026-03-01T00:05:07.250Z'));
    expect(st.lastCheckin).toEqual({ time: '2026-03-01T00:05:07.250Z', signal: 'success', source: 'http', message: 'ok' });
    expect(st.lastSuccessTime).toBe('2026-03-01T00:05:07.250Z');
    expect(st.checkins).toBe(1);
    expect(st.recent).toHaveLength(1);
    expect(st.consecutiveSuccesses).toBe(1);
    expect(res.status).toBeUndefined(); // pure: the input is not changed
  });

  it('keeps the whole message in lastCheckin and an excerpt in the history', () => {
    const output = `${'line of output\n'.repeat(255)}😀 the end`;
    const st = applyCheckin(reservation(spec), { signal: 'fail', exitCode: 1, message: output }, new Date('2026-03-01T00:05:00Z'));
    expect(st.lastCheckin?.message).toBe(output);
    const kept = st.recent![0]!.message!;
    expect(kept.endsWith('…')).toBe(true);
    expect(kept.length).toBeLessThanOrEqual(RECENT_MESSAGE_CHARS + 1);
    expect(output.startsWith(kept.slice(0, -1))).toBe(true);
    // A surrogate pair at the cut is not split.
    const emoji = `${'x'.repeat(RECENT_MESSAGE_CHARS - 1)}😀 tail`;
    const cut = applyCheckin(reservation(spec), { signal: 'log', message: emoji }, new Date('2026-03-01T00:05:00Z')).recent![0]!.message!;
    expect(cut).toBe(`${'x'.repeat(RECENT_MESSAGE_CHARS - 1)}…`);
  });

  it('drops the same (runId, signal) sent twice', () => {
    const s = new Sim(spec);
    s.checkin('2026-03-01T00:05:00Z', { signal: 'start', runId: 'r' });
    const dup = s.checkin('2026-03-01T00:05:01Z', { signal: 'start', runId: 'r' });
    expect(dup.duplicate).toBe(true);
    s.checkin('2026-03-01T00:05:30Z', { signal: 'success', runId: 'r' });
    const dup2 = s.checkin('2026-03-01T00:05:31Z', { signal: 'success', runId: 'r' });
    expect(dup2.duplicate).toBe(true);
    const dup3 = s.checkin('2026-03-01T00:05:32Z', { signal: 'fail', runId: 'r' });
    expect(dup3.duplicate).toBe(true); // a run ends once
    expect(s.status.checkins).toBe(2);
    expect(s.status.consecutiveSuccesses).toBe(1);
    // Without a run id nothing can be told apart, so nothing is dropped.
    s.checkin('2026-03-01T00:10:00Z', { signal: 'success' });
    s.checkin('2026-03-01T00:10:01Z', { signal: 'success' });
    expect(s.status.consecutiveSuccesses).toBe(3);
  });

  it('pairs an end without run id with the newest start without one; a new id-less start supersedes the old', () => {
    const s = new Sim(spec);
    s.checkin('2026-03-01T00:05:00Z', { signal: 'start' });
    s.checkin('2026-03-01T00:10:00Z', { signal: 'start' });
    expect(s.status.running).toEqual([{ startTime: '2026-03-01T00:10:00Z' }]);
    s.checkin('2026-03-01T00:10:30Z', { signal: 'success' });
    expect(s.status.lastResult?.durationSeconds).toBe(30);
    expect(s.status.running).toBeUndefined();
  });

  it('keeps recent and running bounded', () => {
    const s = new Sim({ every: '1h' });
    for (let i = 0; i < 30; i++) s.checkin(new Date(Date.parse('2026-03-01T00:00:00Z') + i * 1000).toISOString(), { signal: 'start', runId: `r${i}` });
    expect(s.status.recent).toHaveLength(LIMITS.recentCheckins);
    expect(s.status.recent?.[LIMITS.recentCheckins - 1]?.runId).toBe('r29');
    expect(s.status.running).toHaveLength(LIMITS.runningRuns);
    expect(s.status.running?.[0]?.runId).toBe('r20');
    expect(s.status.checkins).toBe(30);
  });

  it('truncates long messages to the byte limit on a character boundary', () => {
    const st = applyCheckin(reservation(spec), { signal: 'log', message: 'é'.repeat(LIMITS.messageBytes) }, new Date('2026-03-01T00:00:00Z'));
    expect(new TextEncoder().encode(st.lastCheckin?.message).length).toBeLessThanOrEqual(LIMITS.messageBytes);
    expect(st.lastCheckin?.message?.endsWith('é')).toBe(true);
  });

  it.each([
    [{ signal: 'ping' }, 'signal'],
    [{ signal: 'success', exitCode: 1.5 }, 'exitCode'],
    [{ signal: 'success', durationSeconds: -1 }, 'durationSeconds'],
    [{ signal: 'start', runId: 'x'.repeat(200) }, 'runId'],
  ])('refuses %j naming %s', (input, field) => {
    expect(() => applyCheckin(reservation(spec), input as never, new Date('2026-03-01T00:00:00Z'))).toThrow(CheckinError);
    try {
      applyCheckin(reservation(spec), input as never, new Date('2026-03-01T00:00:00Z'));
    } catch (e) {
      expect((e as CheckinError).field).toBe(field);
    }
  });

  it('still records check-ins while the spec is invalid or suspended, without judging', () => {
    const bad = applyCheckinDetailed(reservation({ schedule: 'nope' }), { signal: 'fail' }, new Date('2026-03-01T00:00:00Z'));
    expect(bad.status.lastFailureTime).toBe('2026-03-01T00:00:00Z');
    expect(bad.status.consecutiveFailures).toBeUndefined();
    expect(bad.entries).toEqual([]);
    const sus = applyCheckinDetailed(reservation({ ...spec, suspend: true }), { signal: 'fail' }, new Date('2026-03-01T00:00:00Z'));
    expect(sus.status.checkins).toBe(1);
    expect(sus.entries).toEqual([]);
  });

  it('a good run inside a quiet period counts (and recovers once the period ends); a bad one does not', () => {
    const s = new Sim({ ...spec, snoozeUntil: '2026-03-01T01:00:00Z' });
    s.checkin('2026-03-01T00:05:00Z', { signal: 'fail' });
    expect(s.status.consecutiveFailures ?? 0).toBe(0);
    expect(s.eval('2026-03-01T00:05:00Z').state).toBe('Snoozed');
    s.checkin('2026-03-01T00:10:00Z', { signal: 'success' });
    expect(s.status.consecutiveSuccesses).toBe(1);
  });
});
