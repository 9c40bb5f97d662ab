// The operator against a real apiserver: judging by timers, status and Events, invalid specs as
// conditions, jobRef to a CronJob, leader election, and its HTTP endpoints.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Reservation } from '../../src/api/reservation.ts';
import type { Lease } from '../../src/k8s/leader-election.ts';
import { leasePath } from '../../src/k8s/leader-election.ts';
import type { Operator } from '../../src/operator/operator.ts';
import { eventually, freshNamespace } from './helpers.ts';
import { checkIn, createReservation, events, getReservation, rest, startOperator } from './operator-harness.ts';

let namespace: string;
const running: Operator[] = [];

beforeAll(async () => {
  namespace = await freshNamespace('operator');
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((op) => op.stop()));
});

async function operator(ns = namespace, overrides = {}): Promise<Operator> {
  const op = await startOperator(ns, overrides);
  running.push(op);
  return op;
}

function condition(r: Reservation, type: string): { status: string; reason: string; message: string } | undefined {
  return r.status?.conditions?.find((c) => c.type === type);
}

describe('the operator', () => {
  it('judges a new Reservation Pending, then Missed at its deadline, woken by a timer, with an Event', async () => {
    const ns = await freshNamespace('missed');
    const op = await operator(ns);
    await eventually(() => Promise.resolve(op.isLeader), 10_000, 'leadership');
    await createReservation(ns, 'never-runs', { every: '3s', grace: '1s' });
    const pending = await eventually(async () => {
      const r = await getReservation(ns, 'never-runs');
      return r.status?.state === 'Pending' && r.status.deadline ? r : undefined;
    });
    expect(condition(pending, 'Ready')?.status).toBe('True');
    const deadline = Date.parse(pending.status!.deadline!);
    const missed = await eventually(async () => {
      const r = await getReservation(ns, 'never-runs');
      return r.status?.state === 'Missed' ? { r, seenAt: Date.now() } : undefined;
    }, 15_000);
    // A timer, not a resync, woke it: well within a couple of seconds of the deadline.
    expect(missed.seenAt - deadline).toBeLessThan(2_500);
    expect(missed.seenAt).toBeGreaterThanOrEqual(deadline);
    expect(condition(missed.r, 'Healthy')?.status).toBe('False');
    expect(missed.r.status?.alert?.firing).toBe(true);
    const recorded = await eventually(async () => (await events(ns, 'never-runs')).find((e) => e.reason === 'Missed'));
    expect(recorded.type).toBe('Warning');
  });

  it('keeps a job that checks in on time Healthy, with no alert', async () => {
    const ns = await freshNamespace('healthy');
    const op = await operator(ns);
    await eventually(() => Promise.resolve(op.isLeader), 10_000, 'leadership');
    await createReservation(ns, 'punctual', { every: '4s', grace: '2s' });
    const states: string[] = [];
    let r: Reservation | undefined;
    for (let i = 0; i < 4; i++) {
      const stored = await checkIn(ns, 'punctual', { signal: 'success', runId: `run-${i}` });
      // The operator judges each check-in; its verdict must be Healthy every time.
      r = await eventually(async () => {
        const current = await getReservation(ns, 'punctual');
        return current.status?.state && current.status.observedGeneration === 1 && current.metadata.resourceVersion !== stored.metadata.resourceVersion
          ? current
          : undefined;
      });
      states.push(r.status!.state!);
      // The job's own period: it runs again a second later (the stimulus, not a wait for a result).
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    expect(states).toEqual(['Healthy', 'Healthy', 'Healthy', 'Healthy']);
    r = r!;
    expect(r.status?.alert?.firing ?? false).toBe(false);
    expect(r.status?.alert?.outbox ?? []).toHaveLength(0);
    expect(r.status?.checkins).toBe(4);
    expect((await events(ns, 'punctual')).filter((e) => e.type === 'Warning')).toEqual([]);
  });

  it('marks an unknown time zone Invalid with a condition naming it, and goes on judging the others', async () => {
    const ns = await freshNamespace('invalid');
    const op = await operator(ns);
    await eventually(() => Promise.resolve(op.isLeader), 10_000, 'leadership');
    await createReservation(ns, 'on-mars', { schedule: '0 2 * * *', timeZone: 'Mars/Phobos' });
    await createReservation(ns, 'on-earth', { schedule: '0 2 * * *', timeZone: 'Europe/Berlin' });
    const invalid = await eventually(async () => {
      const r = await getReservation(ns, 'on-mars');
      return r.status?.state === 'Invalid' ? r : undefined;
    });
    const ready = condition(invalid, 'Ready');
    expect(ready?.status).toBe('False');
    expect(ready?.message).toContain('Mars/Phobos');
    const fine = await eventually(async () => {
      const r = await getReservation(ns, 'on-earth');
      return r.status?.state === 'Pending' ? r : undefined;
    });
    expect(fine.status?.nextExpectedTime).toMatch(/T0[01]:00:00Z$/); // 02:00 Berlin is 00:00 or 01:00 UTC
    const event = await eventually(async () => (await events(ns, 'on-mars')).find((e) => e.reason === 'InvalidSpec'));
    expect(event.message).toContain('Mars/Phobos');
  });

  it('follows the schedule of the CronJob its jobRef names, and says so when it is missing', async () => {
    const ns = await freshNamespace('jobref');
    const op = await operator(ns);
    await eventually(() => Promise.resolve(op.isLeader), 10_000, 'leadership');
    await createReservation(ns, 'report', { jobRef: { kind: 'CronJob', name: 'weekly-report' } });
    const missing = await eventually(async () => {
      const r = await getReservation(ns, 'report');
      return condition(r, 'Ready')?.reason === 'CronJobNotFound' ? r : undefined;
    });
    expect(condition(missing, 'Ready')?.message).toContain(`CronJob ${ns}/weekly-report not found`);
    await rest.request({
      method: 'POST',
      path: `/apis/batch/v1/namespaces/${ns}/cronjobs`,
      body: {
        apiVersion: 'batch/v1',
        kind: 'CronJob',
        metadata: { name: 'weekly-report' },
        spec: {
          schedule: '0 6 * * 1',
          timeZone: 'America/New_York',
          jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'r', image: 'busybox' }] } } } },
        },
      },
    });
    const following = await eventually(async () => {
      const r = await getReservation(ns, 'report');
      return r.status?.state === 'Pending' && r.status.nextExpectedTime ? r : undefined;
    });
    // Monday 06:00 in New York is 10:00 or 11:00 UTC.
    const next = new Date(following.status!.nextExpectedTime!);
    expect(next.getUTCDay()).toBe(1);
    expect([10, 11]).toContain(next.getUTCHours());
    expect(condition(following, 'Ready')?.status).toBe('True');
    // kubectl get's Schedule column shows the CronJob's schedule (status.schedule).
    expect(following.status?.schedule).toBe('0 6 * * 1 (America/New_York)');
  });

  it('elects one leader; when it stops, the standby takes the Lease over', async () => {
    const ns = await freshNamespace('leader');
    const a = await operator(ns, { identity: 'replica-a' });
    await eventually(() => Promise.resolve(a.isLeader), 10_000, 'a to lead');
    const b = await operator(ns, { identity: 'replica-b' });
    const lease = await rest.request<Lease>({ method: 'GET', path: leasePath(ns, 'gotel-leader') });
    expect(lease.spec.holderIdentity).toBe('replica-a');
    expect(lease.spec.renewTime).toMatch(/\.\d{6}Z$/);
    expect(b.isLeader).toBe(false);

    await a.stop();
    running.splice(running.indexOf(a), 1);
    await eventually(() => Promise.resolve(b.isLeader), 5_000, 'b to take over');
    const after = await rest.request<Lease>({ method: 'GET', path: leasePath(ns, 'gotel-leader') });
    expect(after.spec.holderIdentity).toBe('replica-b');
    expect(after.spec.leaseTransitions).toBeGreaterThanOrEqual(1);
  });

  it('serves /healthz and /readyz on --listen, /metrics on --metrics-listen only', async () => {
    const op = await operator();
    await eventually(() => Promise.resolve(op.isLeader), 10_000, 'leadership');
    const health = await fetch(`${op.url}/healthz`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${op.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(op.metricsUrl).toBeDefined();
    expect(op.metricsUrl).not.toBe(op.url);
    const onCheckinPort = await fetch(`${op.url}/metrics`);
    expect(onCheckinPort.status).toBe(404);
    const metrics = await (await fetch(`${op.metricsUrl}/metrics`)).text();
    expect(metrics).toMatch(/^gotel_leader 1$/m);
    for (const name of ['gotel_checkins_total', 'gotel_alerts_total', 'gotel_reservations', 'gotel_reconcile_seconds', 'gotel_alert_latency_seconds']) {
      expect(metrics).toContain(`# TYPE ${name}`);
    }
    const missing = await fetch(`${op.url}/no-such-path`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { reason: 'NotFound' } });
  });
});
