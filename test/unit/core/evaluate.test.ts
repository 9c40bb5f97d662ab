import { describe, expect, it } from 'vitest';
import { canonical, evaluate, type CheckinInput } from '../../../src/core/index.ts';
import { iso, reservation, Sim } from './sim.ts';

const daily = { schedule: '0 2 * * *', grace: '10m' };
const cond = (e: { conditions: Array<{ type: string; status: string; reason: string }> }, type: string) => {
  const c = e.conditions.find((x) => x.type === type);
  return c ? `${c.status}/${c.reason}` : undefined;
};

describe('a new reservation that never checked in', () => {
  it('is Pending until its first expected run plus grace, then Missed (and alerts)', () => {
    const s = new Sim(daily, '2026-03-01T00:00:00Z');
    const e1 = s.eval('2026-03-01T01:00:00Z');
    expect(e1.state).toBe('Pending');
    expect(iso(e1.nextExpectedTime)).toBe('2026-03-01T02:00:00Z');
    expect(iso(e1.deadline)).toBe('2026-03-01T02:10:00Z');
    expect(iso(e1.nextWakeup)).toBe('2026-03-01T02:10:00Z');
    expect(e1.transition).toBeUndefined();
    expect([cond(e1, 'Ready'), cond(e1, 'Healthy'), cond(e1, 'Alerting')]).toEqual(['True/SpecValid', 'Unknown/AwaitingFirstCheckin', 'False/NotAlerting']);

    expect(s.eval('2026-03-01T02:09:59Z').state).toBe('Pending');
    const e2 = s.eval('2026-03-01T02:10:00Z');
    expect(e2.state).toBe('Missed');
    expect(e2.transition).toMatchObject({ kind: 'alert', reason: 'Missed', from: 'Pending', to: 'Missed' });
    expect(e2.transition?.entry).toMatchObject({ dueTime: '2026-03-01T02:10:00Z', createdTime: '2026-03-01T02:10:00Z' });
    expect(e2.transition?.entry.message).toContain('ns/job missed: no check-in for the run expected at 2026-03-01T02:00:00Z');
    expect(e2.status.consecutiveFailures).toBe(1);
    expect(e2.status.alert).toMatchObject({ firing: true, reason: 'Missed', since: '2026-03-01T02:10:00Z', notifications: 1 });
    expect(iso(e2.deadline)).toBe('2026-03-02T02:10:00Z');
    expect(iso(e2.nextWakeup)).toBe('2026-03-02T02:10:00Z');
    expect([cond(e2, 'Healthy'), cond(e2, 'Alerting')]).toEqual(['False/Missed', 'True/Missed']);
  });

  it('counts from creation: a run expected before it was created is not expected', () => {
    const s = new Sim(daily, '2026-03-01T02:05:00Z');
    const e = s.eval('2026-03-01T02:20:00Z');
    expect(e.state).toBe('Pending');
    expect(iso(e.deadline)).toBe('2026-03-02T02:10:00Z');
  });

  it('judges a late first evaluation the same (operator was down): every missed run counts once', () => {
    const s = new Sim(daily, '2026-03-01T00:00:00Z');
    const e = s.eval('2026-03-04T03:00:00Z');
    expect(e.state).toBe('Missed');
    expect(e.status.consecutiveFailures).toBe(4);
    expect(e.transitions).toHaveLength(1);
    expect(e.transition?.entry.dueTime).toBe('2026-03-01T02:10:00Z');
    expect(s.eval('2026-03-04T03:00:00Z').transitions).toHaveLength(0);
    expect(s.status.consecutiveFailures).toBe(4);
  });
});

describe('runs', () => {
  it('Healthy after an on-time success; no alert at the deadline', () => {
    const s = new Sim(daily);
    s.eval('2026-03-01T01:00:00Z');
    const e = s.ping('2026-03-01T02:03:00Z', { signal: 'success' });
    expect(e.state).toBe('Healthy');
    expect(iso(e.nextExpectedTime)).toBe('2026-03-02T02:00:00Z');
    expect(iso(e.nextWakeup)).toBe('2026-03-02T02:10:00Z');
    expect(cond(e, 'Healthy')).toBe('True/Healthy');
    s.runUntil('2026-03-02T01:00:00Z');
    expect(s.outbox()).toEqual([]);
  });

  it('a check-in up to a minute early counts for the run (clock skew)', () => {
    const s = new Sim(daily);
    s.ping('2026-03-01T01:59:30Z', { signal: 'success' });
    expect(s.eval('2026-03-01T02:10:00Z').state).toBe('Healthy');
    const t = new Sim(daily);
    t.ping('2026-03-01T01:58:00Z', { signal: 'success' });
    expect(t.eval('2026-03-01T02:10:00Z').state).toBe('Missed');
  });

  it('Running between start and end, then Healthy; the end is paired by run id', () => {
    const s = new Sim({ ...daily, maxRuntime: '30m' });
    const e1 = s.ping('2026-03-01T02:01:00Z', { signal: 'start', runId: 'r1' });
    expect(e1.state).toBe('Running');
    expect(iso(e1.nextWakeup)).toBe('2026-03-01T02:31:00Z');
    expect(cond(e1, 'Healthy')).toBe('True/Running');
    expect(s.eval('2026-03-01T02:10:00Z').state).toBe('Running');
    const e2 = s.ping('2026-03-01T02:21:00Z', { signal: 'success', runId: 'r1' });
    expect(e2.state).toBe('Healthy');
    expect(e2.status.lastResult).toMatchObject({ outcome: 'Success', durationSeconds: 1200, runId: 'r1' });
    expect(e2.status.running).toBeUndefined();
  });

  it('Overrun at start + maxRuntime, counted once; its end recovers', () => {
    const s = new Sim({ ...daily, maxRuntime: '30m' });
    s.ping('2026-03-01T02:01:00Z', { signal: 'start', runId: 'r1' });
    const [e] = s.runUntil('2026-03-01T02:31:00Z');
    expect(iso(e?.nextWakeup)).toBe('2026-03-02T02:10:00Z');
    expect(e?.state).toBe('Overrun');
    expect(e?.transition).toMatchObject({ kind: 'alert', reason: 'Overrun' });
    expect(e?.transition?.entry.dueTime).toBe('2026-03-01T02:31:00Z');
    expect(e?.transition?.entry.message).toContain('run r1 started at 2026-03-01T02:01:00Z is still running after maxRuntime 30m');
    expect(s.eval('2026-03-01T02:35:00Z').status.consecutiveFailures).toBe(1);
    const done = s.ping('2026-03-01T02:40:00Z', { signal: 'success', runId: 'r1' });
    expect(done.state).toBe('Healthy');
    expect(s.outbox()).toEqual([
      { kind: 'alert', reason: 'Overrun', dueTime: '2026-03-01T02:31:00Z', createdTime: '2026-03-01T02:31:00Z' },
      { kind: 'recovery', reason: 'Overrun', dueTime: '2026-03-01T02:40:00Z', createdTime: '2026-03-01T02:40:00Z' },
    ]);
  });

  it.each<[CheckinInput, string]>([
    [{ signal: 'fail' }, 'reported failure'],
    [{ signal: 'success', exitCode: 3 }, 'exited with code 3'],
    [{ signal: 'fail', exitCode: 137, message: 'OOMKilled' }, 'exited with code 137: OOMKilled'],
  ])('Failed on %j, alerting with the exit code', (checkin, text) => {
    const s = new Sim(daily);
    const r = s.checkin('2026-03-01T02:05:00Z', checkin);
    const e = s.eval('2026-03-01T02:05:00Z');
    expect(e.state).toBe('Failed');
    // The check-in itself made the alert (in the outbox); evaluate adds none.
    expect(e.transitions).toEqual([]);
    expect(r.entries).toHaveLength(1);
    expect(r.entries[0]).toMatchObject({ kind: 'alert', reason: 'Failed', dueTime: '2026-03-01T02:05:00Z' });
    expect(r.entries[0]?.message).toContain(text);
    expect(s.status.alert?.outbox).toEqual(r.entries);
    if (checkin.exitCode !== undefined) expect(e.status.lastResult?.exitCode).toBe(checkin.exitCode);
    // It did check in: no Missed at the deadline on top.
    expect(s.eval('2026-03-01T02:10:00Z').status.consecutiveFailures).toBe(1);
  });

  it('exit code 0 is a success', () => {
    const s = new Sim(daily);
    expect(s.ping('2026-03-01T02:05:00Z', { signal: 'success', exitCode: 0 }).state).toBe('Healthy');
  });

  it('TooFast when a run finishes under minRuntime (from its start, or its reported duration)', () => {
    const s = new Sim({ ...daily, minRuntime: '1m' });
    s.ping('2026-03-01T02:00:10Z', { signal: 'start' });
    const r = s.checkin('2026-03-01T02:00:20Z', { signal: 'success' });
    expect(s.eval('2026-03-01T02:00:20Z').state).toBe('TooFast');
    expect(r.entries[0]).toMatchObject({ kind: 'alert', reason: 'TooFast' });
    expect(r.entries[0]?.message).toContain('finished in 10s, under minRuntime 1m');
    const r2 = s.checkin('2026-03-02T02:05:00Z', { signal: 'success', durationSeconds: 300 });
    expect(s.eval('2026-03-02T02:05:00Z').state).toBe('Healthy');
    expect(r2.entries.map((x) => x.kind)).toEqual(['recovery']);
  });

  it('overlapping runs: a second start while one runs, each end paired by run id', () => {
    const s = new Sim({ schedule: '*/10 * * * *', grace: '2m', maxRuntime: '25m' });
    s.ping('2026-03-01T00:10:00Z', { signal: 'start', runId: 'a' });
    s.ping('2026-03-01T00:20:00Z', { signal: 'start', runId: 'b' });
    expect(s.status.running?.map((r) => r.runId)).toEqual(['a', 'b']);
    const e = s.ping('2026-03-01T00:24:00Z', { signal: 'success', runId: 'a' });
    expect(e.state).toBe('Running');
    expect(e.status.lastResult?.durationSeconds).toBe(840);
    const e2 = s.ping('2026-03-01T00:29:00Z', { signal: 'success', runId: 'b' });
    expect(e2.status.lastResult?.durationSeconds).toBe(540);
    expect(s.eval('2026-03-01T00:29:30Z').state).toBe('Healthy');
  });
});

describe('late and missed', () => {
  it('a run that starts after its deadline: Missed at the deadline, Late when it arrives, recovered when it succeeds', () => {
    const s = new Sim(daily);
    expect(s.eval('2026-03-01T02:10:00Z').state).toBe('Missed');
    const e = s.ping('2026-03-01T02:30:00Z', { signal: 'start' });
    expect(e.state).toBe('Late');
    expect(e.status.lastResult).toMatchObject({ outcome: 'Late', expectedTime: '2026-03-01T02:00:00Z', time: '2026-03-01T02:30:00Z' });
    expect(e.status.consecutiveFailures).toBe(1); // still one bad run
    const e2 = s.ping('2026-03-01T02:35:00Z', { signal: 'success' });
    expect(e2.state).toBe('Healthy');
    expect(s.outbox().map((o) => `${o.kind}/${o.reason}`)).toEqual(['alert/Missed', 'recovery/Missed']);
  });

  it('a late check-in the operator sees before it judged the deadline is alerted as Late, then recovered: never silent', () => {
    const s = new Sim(daily);
    s.eval('2026-03-01T01:00:00Z');
    const r = s.checkin('2026-03-01T02:30:00Z', { signal: 'success' });
    expect(r.entries.map((x) => `${x.kind}/${x.reason}/${x.dueTime}`)).toEqual(['alert/Late/2026-03-01T02:10:00Z', 'recovery/Late/2026-03-01T02:30:00Z']);
    expect(r.entries[0]?.message).toContain('late: the run expected at 2026-03-01T02:00:00Z checked in at 2026-03-01T02:30:00Z');
    const e = s.eval('2026-03-01T02:30:00Z');
    expect(e.state).toBe('Healthy');
    expect(e.transitions).toHaveLength(0);
  });

  it('a log check-in is not a run', () => {
    const s = new Sim(daily);
    s.ping('2026-03-01T02:01:00Z', { signal: 'log', message: 'hello' });
    expect(s.eval('2026-03-01T02:10:00Z').state).toBe('Missed');
    expect(s.status.lastCheckin).toMatchObject({ signal: 'log', message: 'hello' });
  });
});

describe('thresholds', () => {
  it('failureThreshold: alerts on the Nth consecutive bad run (a missed run counts)', () => {
    const s = new Sim({ ...daily, failureThreshold: 3 });
    const e1 = s.eval('2026-03-01T02:10:00Z');
    expect(e1.state).toBe('Missed');
    expect(e1.transition).toBeUndefined();
    expect(cond(e1, 'Alerting')).toBe('False/BelowFailureThreshold');
    expect(cond(e1, 'Healthy')).toBe('False/Missed');
    s.ping('2026-03-02T02:05:00Z', { signal: 'fail' });
    expect(s.status.consecutiveFailures).toBe(2);
    expect(s.outbox()).toEqual([]);
    const e3 = s.eval('2026-03-03T02:10:00Z');
    expect(e3.transition).toMatchObject({ kind: 'alert', reason: 'Missed' });
    expect(e3.transition?.entry.message).toContain('(3 bad runs in a row)');
  });

  it('a success resets the count', () => {
    const s = new Sim({ ...daily, failureThreshold: 2 });
    s.eval('2026-03-01T02:10:00Z');
    s.ping('2026-03-02T02:05:00Z', { signal: 'success' });
    s.eval('2026-03-03T02:10:00Z');
    expect(s.status.consecutiveFailures).toBe(1);
    expect(s.outbox()).toEqual([]);
  });

  it('recoveryThreshold: resolves on the Nth consecutive good run; the state stays the alert reason until then', () => {
    const s = new Sim({ ...daily, recoveryThreshold: 2 });
    s.eval('2026-03-01T02:10:00Z');
    const e1 = s.ping('2026-03-02T02:05:00Z', { signal: 'success' });
    expect(e1.state).toBe('Missed');
    expect(e1.status.alert?.firing).toBe(true);
    expect(e1.conditions.find((c) => c.type === 'Healthy')?.message).toContain('recovering: 1 of 2 good runs');
    const e2 = s.ping('2026-03-03T02:05:00Z', { signal: 'success' });
    expect(e2.state).toBe('Healthy');
    expect(e2.status.alert).toMatchObject({ firing: false, resolvedTime: '2026-03-03T02:05:00Z' });
    expect(s.outbox().map((o) => o.kind)).toEqual(['alert', 'recovery']);
  });
});

describe('renotify', () => {
  it('repeats every renotifyInterval while still failing, and stops on recovery', () => {
    const s = new Sim({ ...daily, renotifyInterval: '6h' });
    s.eval('2026-03-01T02:10:00Z');
    expect(iso(s.last?.nextWakeup)).toBe('2026-03-01T08:10:00Z');
    s.runUntil('2026-03-01T20:10:00Z');
    expect(s.outbox().map((o) => `${o.kind}@${o.createdTime}`)).toEqual([
      'alert@2026-03-01T02:10:00Z',
      'renotify@2026-03-01T08:10:00Z',
      'renotify@2026-03-01T14:10:00Z',
      'renotify@2026-03-01T20:10:00Z',
    ]);
    expect(s.status.alert?.notifications).toBe(4);
    s.ping('2026-03-01T21:00:00Z', { signal: 'success' });
    s.runUntil('2026-03-02T01:00:00Z');
    expect(s.outbox().map((o) => o.kind)).toEqual(['alert', 'renotify', 'renotify', 'renotify', 'recovery']);
    expect(iso(s.last?.nextWakeup)).toBe('2026-03-02T02:10:00Z');
  });

  it('after an outage, one reminder, not one per missed interval', () => {
    const s = new Sim({ ...daily, renotifyInterval: '1h' });
    s.eval('2026-03-01T02:10:00Z');
    const e = s.eval('2026-03-01T09:30:00Z');
    expect(e.transitions.map((t) => t.kind)).toEqual(['renotify']);
    expect(iso(e.nextWakeup)).toBe('2026-03-01T10:30:00Z');
  });
});

describe('quiet periods', () => {
  it('snoozeUntil: nothing judged or alerted inside; the first expectation after it is judged', () => {
    const s = new Sim({ ...daily, snoozeUntil: '2026-03-02T06:00:00Z' });
    const e = s.eval('2026-03-01T03:00:00Z');
    expect(e.state).toBe('Snoozed');
    expect(cond(e, 'Alerting')).toBe('False/Snoozed');
    expect(iso(e.nextWakeup)).toBe('2026-03-02T06:00:00Z');
    expect(iso(e.nextExpectedTime)).toBe('2026-03-03T02:00:00Z');
    const after = s.runUntil('2026-03-03T02:10:00Z');
    expect(after.map((x) => `${x.state}:${iso(x.nextWakeup)}`)).toEqual(['Pending:2026-03-03T02:10:00Z', 'Missed:2026-03-04T02:10:00Z']);
    expect(s.outbox()).toEqual([{ kind: 'alert', reason: 'Missed', dueTime: '2026-03-03T02:10:00Z', createdTime: '2026-03-03T02:10:00Z' }]);
  });

  it('a maintenance window: the run due inside is not judged, no alert, wake at its end', () => {
    const s = new Sim({ ...daily, maintenanceWindows: [{ schedule: '0 1 * * *', duration: '2h' }] });
    const e = s.eval('2026-03-01T02:10:00Z');
    expect(e.state).toBe('Snoozed');
    expect(cond(e, 'Alerting')).toBe('False/InMaintenanceWindow');
    expect(iso(e.nextWakeup)).toBe('2026-03-01T03:00:00Z');
    expect(s.eval('2026-03-01T03:00:00Z').state).toBe('Pending');
    expect(s.outbox()).toEqual([]);
  });

  it('a window opening within the grace period also covers the run', () => {
    const s = new Sim({ ...daily, maintenanceWindows: [{ schedule: '5 2 * * *', duration: '30m' }] });
    s.runUntil('2026-03-01T04:00:00Z');
    expect(s.eval('2026-03-01T04:00:00Z').state).toBe('Pending');
    expect(s.outbox()).toEqual([]);
  });

  it('a failure inside a window is not counted; an overrun still running after it is', () => {
    const s = new Sim({ ...daily, maxRuntime: '10m', maintenanceWindows: [{ schedule: '0 2 * * *', duration: '1h' }] });
    s.ping('2026-03-01T02:00:00Z', { signal: 'start', runId: 'x' });
    const e = s.eval('2026-03-01T02:30:00Z');
    expect(e.state).toBe('Snoozed');
    expect(iso(e.nextWakeup)).toBe('2026-03-01T03:00:00Z');
    const e2 = s.eval('2026-03-01T03:00:00Z');
    expect(e2.state).toBe('Overrun');
    expect(e2.transition?.entry.dueTime).toBe('2026-03-01T03:00:00Z');
  });

  it('suspend: Suspended, nothing judged, no wake-up; resuming expects runs from then on', () => {
    const s = new Sim({ ...daily, suspend: true });
    const e = s.eval('2026-03-03T03:00:00Z');
    expect(e.state).toBe('Suspended');
    expect(e.nextWakeup).toBeNull();
    expect(e.deadline).toBeNull();
    expect([cond(e, 'Healthy'), cond(e, 'Alerting')]).toEqual(['Unknown/Suspended', 'False/Suspended']);
    s.setSpec(daily);
    const r = s.eval('2026-03-05T12:00:00Z');
    expect(r.state).toBe('Pending');
    expect(iso(r.deadline)).toBe('2026-03-06T02:10:00Z');
    expect(r.status.judging?.since).toBe('2026-03-05T12:00:00Z');
    expect(s.outbox()).toEqual([]);
  });
});

describe('every (fixed period)', () => {
  it('due every period after the last check-in (after creation when none)', () => {
    const s = new Sim({ every: '5m', grace: '1m' }, '2026-03-01T00:00:00Z');
    const e0 = s.eval('2026-03-01T00:00:00Z');
    expect([e0.state, iso(e0.nextExpectedTime), iso(e0.deadline)]).toEqual(['Pending', '2026-03-01T00:05:00Z', '2026-03-01T00:06:00Z']);
    const e1 = s.ping('2026-03-01T00:04:00Z', { signal: 'success' });
    expect([e1.state, iso(e1.deadline)]).toEqual(['Healthy', '2026-03-01T00:10:00Z']);
    const [e2] = s.runUntil('2026-03-01T00:10:00Z');
    expect(e2?.state).toBe('Missed');
    expect(e2?.transition?.entry.dueTime).toBe('2026-03-01T00:10:00Z');
    const e3 = s.ping('2026-03-01T00:12:00Z', { signal: 'success' });
    expect(e3.status.lastResult?.outcome).toBe('Success');
    expect(iso(e3.deadline)).toBe('2026-03-01T00:18:00Z');
    expect(s.outbox().map((o) => o.kind)).toEqual(['alert', 'recovery']);
  });

  it('keeps counting missed periods', () => {
    const s = new Sim({ every: '1h', grace: '5m', failureThreshold: 3 }, '2026-03-01T00:00:00Z');
    s.eval('2026-03-01T03:10:00Z');
    expect(s.status.consecutiveFailures).toBe(3);
    expect(s.outbox().map((o) => `${o.kind}/${o.dueTime}`)).toEqual(['alert/2026-03-01T03:05:00Z']);
  });
});

describe('DST while judging', () => {
  it('30 2 * * * in Berlin: no run expected on the spring-forward day, so none missed', () => {
    const s = new Sim({ schedule: '30 2 * * *', timeZone: 'Europe/Berlin', grace: '10m' }, '2026-03-27T12:00:00Z');
    s.eval('2026-03-27T12:00:00Z');
    s.ping('2026-03-28T01:31:00Z', { signal: 'success' });
    const e = s.eval('2026-03-29T12:00:00Z');
    expect(e.state).toBe('Healthy');
    expect(iso(e.nextExpectedTime)).toBe('2026-03-30T00:30:00Z');
    expect(iso(e.deadline)).toBe('2026-03-30T00:40:00Z');
  });

  it('30 2 * * * in Berlin: on the fall-back day only the first 02:30 is expected', () => {
    const s = new Sim({ schedule: '30 2 * * *', timeZone: 'Europe/Berlin', grace: '10m' }, '2026-10-24T12:00:00Z');
    s.eval('2026-10-24T12:00:00Z');
    const e = s.ping('2026-10-25T00:31:00Z', { signal: 'success' }); // 02:31 CEST
    expect(iso(e.nextExpectedTime)).toBe('2026-10-26T01:30:00Z');
    s.runUntil('2026-10-26T00:00:00Z');
    expect(s.eval('2026-10-26T00:00:00Z').state).toBe('Healthy');
    expect(s.outbox()).toEqual([]);
  });

  it('0 * * * * across New York fall-back: 05:00Z then 07:00Z, the repeated 01:00 not expected', () => {
    const s = new Sim({ schedule: '0 * * * *', timeZone: 'America/New_York', grace: '5m' }, '2026-11-01T03:30:00Z');
    s.eval('2026-11-01T03:30:00Z');
    const deadlines: string[] = [];
    for (const at of ['2026-11-01T04:00:30Z', '2026-11-01T05:00:30Z', '2026-11-01T07:00:30Z']) {
      const e = s.ping(at, { signal: 'success' });
      deadlines.push(iso(e.deadline) ?? '');
    }
    expect(deadlines).toEqual(['2026-11-01T05:05:00Z', '2026-11-01T07:05:00Z', '2026-11-01T08:05:00Z']);
    expect(s.outbox()).toEqual([]);
  });

  it('0 * * * * across New York fall-back: a job silent in the repeated hour is missed at 07:05Z, not 06:05Z', () => {
    const s = new Sim({ schedule: '0 * * * *', timeZone: 'America/New_York', grace: '5m' }, '2026-11-01T04:30:00Z');
    s.ping('2026-11-01T05:00:30Z', { signal: 'success' });
    const [e] = s.runUntil('2026-11-01T08:00:00Z');
    expect(e?.state).toBe('Missed');
    expect(e?.transition?.entry.dueTime).toBe('2026-11-01T07:05:00Z');
  });

  it('*/5 * * * * in Asia/Kathmandu (+05:45): deadlines on the local five minutes', () => {
    const s = new Sim({ schedule: '*/5 * * * *', timeZone: 'Asia/Kathmandu', grace: '1m' }, '2026-03-01T00:01:00Z');
    const e = s.eval('2026-03-01T00:01:00Z');
    expect([iso(e.nextExpectedTime), iso(e.deadline)]).toEqual(['2026-03-01T00:05:00Z', '2026-03-01T00:06:00Z']);
    const [m] = s.runUntil('2026-03-01T00:06:00Z');
    expect(m?.state).toBe('Missed');
  });

  it('Lord Howe: the run at 00:00 on the 4th (after the 30-minute shift) is expected at 13:00Z', () => {
    const s = new Sim({ schedule: '0 0 * * *', timeZone: 'Australia/Lord_Howe', grace: '10m' }, '2026-10-03T14:00:00Z');
    expect(iso(s.eval('2026-10-03T14:00:00Z').deadline)).toBe('2026-10-04T13:10:00Z');
  });
});

describe('clock oddities', () => {
  it('a check-in stamped a little in the future (another replica\'s clock) counts as now', () => {
    const res = reservation(daily, '2026-03-01T00:00:00Z', { lastSuccessTime: '2026-03-01T02:12:00Z', lastCheckin: { time: '2026-03-01T02:12:00Z', signal: 'success' } });
    const e = evaluate(res, new Date('2026-03-01T02:10:00Z'));
    expect(e.state).not.toBe('Missed');
    expect(e.status.consecutiveFailures ?? 0).toBe(0);
    expect(e.nextWakeup!.getTime()).toBeGreaterThan(Date.parse('2026-03-01T02:10:00Z'));
  });

  it('a check-in stamped far in the future is a clock error: it does not silence a miss', () => {
    const res = reservation(daily, '2026-03-01T00:00:00Z', { lastSuccessTime: '2026-03-05T00:00:00Z' });
    const e = evaluate(res, new Date('2026-03-01T02:10:00Z'));
    expect(e.state).toBe('Missed');
    expect(e.transition?.reason).toBe('Missed');
  });

  it('a changed schedule is judged by the new spec from the change on (generation)', () => {
    const s = new Sim(daily);
    s.ping('2026-03-01T02:01:00Z', { signal: 'success' });
    s.setSpec({ schedule: '0 3 * * *', grace: '10m' });
    const e = s.eval('2026-03-01T03:05:00Z'); // the new 03:00 run came before the change was seen
    expect(e.status.observedGeneration).toBe(2);
    expect(e.status.judging?.since).toBe('2026-03-01T03:05:00Z');
    expect(iso(e.deadline)).toBe('2026-03-02T03:10:00Z');
    expect(s.eval('2026-03-01T03:10:00Z').state).toBe('Healthy');
    expect(e.conditions.every((c) => c.observedGeneration === 2)).toBe(true);
  });

  it('an edit that keeps the schedule (e.g. the owner) keeps the expectations', () => {
    const s = new Sim(daily);
    s.eval('2026-03-01T01:00:00Z');
    s.setSpec({ ...daily, owner: 'someone@example.com' });
    expect(s.eval('2026-03-01T02:10:00Z').state).toBe('Missed');
  });
});

describe('invalid specs', () => {
  it.each([
    [{ schedule: '0 0 * * *', timeZone: 'Mars/Phobos' }, 'UnknownTimeZone', 'spec.timeZone: unknown time zone "Mars/Phobos"'],
    [{ schedule: '0 0 * * 7' }, 'InvalidSchedule', 'spec.schedule: day-of-week field "7": 7 is out of range 0-6'],
    [{ schedule: '0 0 * * *', grace: '10 minutes' }, 'InvalidDuration', 'spec.grace: invalid duration'],
    [{ every: '5m', failureThreshold: 0 }, 'InvalidSpec', 'spec.failureThreshold: must be a whole number from 1 to 1000'],
    [{ every: '5m', minRuntime: '10m', maxRuntime: '5m' }, 'InvalidSpec', 'spec.minRuntime: must be less than spec.maxRuntime'],
    [{ every: '5m', maintenanceWindows: [{ schedule: 'nope', duration: '1h' }] }, 'InvalidSchedule', 'spec.maintenanceWindows[0].schedule'],
    [{ every: '5m', snoozeUntil: 'tomorrow' }, 'InvalidSpec', 'spec.snoozeUntil'],
    [{}, 'InvalidSpec', 'set spec.schedule'],
  ])('%j is Invalid with Ready=False/%s', (spec, reason, message) => {
    const e = evaluate(reservation(spec), new Date('2026-03-01T00:00:00Z'));
    expect(e.state).toBe('Invalid');
    expect(e.nextWakeup).toBeNull();
    const ready = e.conditions.find((c) => c.type === 'Ready');
    expect(ready).toMatchObject({ status: 'False', reason });
    expect(ready?.message).toContain(message);
    expect(e.error?.reason).toBe(reason);
  });
});

describe('conditions and idempotence', () => {
  it('lastTransitionTime moves only when a status flips', () => {
    const s = new Sim(daily);
    const a = s.eval('2026-03-01T01:00:00Z');
    const ready0 = a.conditions.find((c) => c.type === 'Ready')?.lastTransitionTime;
    s.ping('2026-03-01T02:01:00Z', { signal: 'success' });
    const b = s.eval('2026-03-01T05:00:00Z');
    expect(b.conditions.find((c) => c.type === 'Ready')?.lastTransitionTime).toBe(ready0);
    expect(b.conditions.find((c) => c.type === 'Healthy')).toMatchObject({ status: 'True', lastTransitionTime: '2026-03-01T02:01:00Z' });
    const c = s.eval('2026-03-02T02:10:00Z');
    expect(c.conditions.find((x) => x.type === 'Healthy')).toMatchObject({ status: 'False', reason: 'Missed', lastTransitionTime: '2026-03-02T02:10:00Z' });
    const d = s.eval('2026-03-02T04:00:00Z');
    expect(d.conditions.find((x) => x.type === 'Healthy')?.lastTransitionTime).toBe('2026-03-02T02:10:00Z');
  });

  it('evaluating its own output at the same instant changes nothing', () => {
    const s = new Sim({ ...daily, renotifyInterval: '1h', maxRuntime: '30m' });
    s.ping('2026-03-01T02:01:00Z', { signal: 'start' });
    const first = s.eval('2026-03-01T04:00:00Z');
    expect(first.changed).toBe(true);
    const again = evaluate(s.res, new Date('2026-03-01T04:00:00Z'));
    expect(again.changed).toBe(false);
    expect(again.transitions).toEqual([]);
    expect(canonical(again.status)).toBe(canonical(first.status));
  });

  it('keeps condition types it does not own', () => {
    const res = reservation(daily, '2026-03-01T00:00:00Z', {
      conditions: [{ type: 'Delivered', status: 'True', reason: 'Sent', message: '', lastTransitionTime: '2026-02-01T00:00:00Z' }],
    });
    const e = evaluate(res, new Date('2026-03-01T01:00:00Z'));
    expect(e.conditions.map((c) => c.type)).toEqual(['Ready', 'Healthy', 'Alerting', 'Delivered']);
  });
});
