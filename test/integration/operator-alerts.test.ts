// The operator end to end with alerts: real apiserver, the operator in-process with its alert
// outbox and check-in API, and a loopback Slack-compatible receiver driven through @slack/webhook.
import { afterEach, describe, expect, it } from 'vitest';
import type { Reservation, ReservationSpec } from '../../src/api/reservation.ts';
import { startSlackReceiver, type ReceiverAction, type SlackReceiver } from '../../src/dev/slack-receiver.ts';
import type { Operator } from '../../src/operator/operator.ts';
import { eventually, freshNamespace } from './helpers.ts';
import { createReservation, events, getReservation, startOperator } from './operator-harness.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Setup {
  ns: string;
  op: Operator;
  slack: SlackReceiver;
  checkin: (name: string, suffix?: string) => Promise<Response>;
}

async function setup(script: ReceiverAction[] = []): Promise<Setup> {
  const ns = await freshNamespace('alerts');
  const slack = await startSlackReceiver({ script });
  cleanups.push(() => slack.close());
  const op = await startOperator(ns, { slackWebhookUrl: slack.url });
  cleanups.push(() => op.stop());
  await eventually(() => Promise.resolve(op.isLeader), 10_000, 'leadership');
  const checkin = (name: string, suffix = ''): Promise<Response> => fetch(`${op.url}/checkin/${ns}/${name}${suffix}`, { method: 'POST' });
  return { ns, op, slack, checkin };
}

const text = (body: unknown): string => JSON.stringify(body);

async function state(ns: string, name: string, wanted: string): Promise<Reservation> {
  return eventually(async () => {
    const r = await getReservation(ns, name);
    return r.status?.state === wanted ? r : undefined;
  }, 20_000, `${ns}/${name} to be ${wanted}`);
}

async function reservation(s: Setup, name: string, spec: ReservationSpec): Promise<void> {
  await createReservation(s.ns, name, { anonymous: true, ...spec });
}

describe('the operator alerts', () => {
  it('sends exactly one message for a missed deadline, on time, and one recovery on the next check-in, each with an Event', async () => {
    const s = await setup();
    await reservation(s, 'nightly', { every: '3s', grace: '1s', owner: 'data-team' });
    const pending = await state(s.ns, 'nightly', 'Pending');
    const deadline = Date.parse(pending.status!.deadline!);
    const [alert] = await s.slack.waitFor(1, { timeoutMs: 15_000 });
    expect(alert!.time.getTime() - deadline).toBeLessThan(1_500);
    expect(text(alert!.body)).toMatch(/Missed/);
    expect(text(alert!.body)).toContain(`${s.ns}/nightly`);
    expect(text(alert!.body)).toContain('data-team');

    expect((await s.checkin('nightly')).status).toBe(200);
    const [, recovery] = await s.slack.waitFor(2, { timeoutMs: 10_000 });
    expect(text(recovery!.body)).toMatch(/Recovered/);
    await state(s.ns, 'nightly', 'Healthy');
    // Both entries get marked delivered: a restart would send neither again.
    await eventually(async () => {
      const outbox = (await getReservation(s.ns, 'nightly')).status?.alert?.outbox ?? [];
      return outbox.length === 2 && outbox.every((e) => e.deliveredTime);
    }, 10_000, 'both outbox entries marked delivered');
    expect(s.slack.received).toHaveLength(2);
    const reasons = (await events(s.ns, 'nightly')).map((e) => e.reason);
    expect(reasons).toContain('Missed');
    expect(reasons).toContain('Recovered');
  });

  it('names the exit code of a failed run', async () => {
    const s = await setup();
    await reservation(s, 'backup', { every: '1h', grace: '1h' });
    expect((await s.checkin('backup', '/3')).status).toBe(200);
    const [message] = await s.slack.waitFor(1);
    expect(text(message!.body)).toMatch(/failed with exit code 3/);
    const failed = await state(s.ns, 'backup', 'Failed');
    expect(failed.status?.lastResult?.exitCode).toBe(3);
  });

  it('alerts only on the third bad run with failureThreshold 3', async () => {
    const s = await setup();
    await reservation(s, 'flaky', { every: '1h', grace: '1h', failureThreshold: 3 });
    for (const run of [1, 2]) {
      expect((await s.checkin('flaky', `/fail?rid=run-${run}`)).status).toBe(200);
      const r = await eventually(async () => {
        const current = await getReservation(s.ns, 'flaky');
        return current.status?.consecutiveFailures === run ? current : undefined;
      });
      expect(r.status?.alert?.firing ?? false).toBe(false);
      expect(r.status?.alert?.outbox ?? []).toHaveLength(0);
    }
    expect(s.slack.received).toHaveLength(0);
    expect((await s.checkin('flaky', '/fail?rid=run-3')).status).toBe(200);
    await s.slack.waitFor(1);
    const r = await getReservation(s.ns, 'flaky');
    expect(r.status?.consecutiveFailures).toBe(3);
    expect(r.status?.alert?.firing).toBe(true);
  });

  it('alerts Overrun when a started run outlives maxRuntime', async () => {
    const s = await setup();
    await reservation(s, 'cleanup', { every: '1h', grace: '1h', maxRuntime: '2s' });
    expect((await s.checkin('cleanup', '/start?rid=r1')).status).toBe(200);
    await state(s.ns, 'cleanup', 'Running');
    const [message] = await s.slack.waitFor(1, { timeoutMs: 10_000 });
    expect(text(message!.body)).toMatch(/Overrun|overran|ran past/i);
    await state(s.ns, 'cleanup', 'Overrun');
  });

  it('sends nothing for a snoozed or a suspended Reservation whose deadline passed', async () => {
    const s = await setup();
    const snoozeUntil = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z');
    await reservation(s, 'snoozed', { every: '1s', grace: '1s', snoozeUntil });
    await reservation(s, 'suspended', { every: '1s', grace: '1s', suspend: true });
    // A canary that misses like the others: once its alert arrived, the others' deadlines passed too.
    await reservation(s, 'canary', { every: '1s', grace: '1s' });
    await s.slack.waitFor(1, { timeoutMs: 10_000 });
    const canary = await getReservation(s.ns, 'canary');
    const snoozed = await state(s.ns, 'snoozed', 'Snoozed');
    const suspended = await state(s.ns, 'suspended', 'Suspended');
    expect(Date.parse(canary.metadata.creationTimestamp as string) + 2_000).toBeLessThan(Date.now());
    expect(snoozed.status?.alert?.outbox ?? []).toHaveLength(0);
    expect(suspended.status?.alert?.outbox ?? []).toHaveLength(0);
    expect(s.slack.received.map((r) => text(r.body)).every((t) => t.includes('canary'))).toBe(true);
  });

  it('retries 429 (Retry-After: 1) and 500, then delivers once', async () => {
    const s = await setup([{ retryAfter: 1 }, 'server_error', 'ok']);
    await reservation(s, 'retried', { every: '1s', grace: '1s' });
    await s.slack.waitFor(1, { delivered: true, timeoutMs: 20_000 });
    expect(s.slack.received.map((r) => r.status)).toEqual([429, 500, 200]);
    // The second try waited for Retry-After.
    expect(s.slack.received[1]!.time.getTime() - s.slack.received[0]!.time.getTime()).toBeGreaterThanOrEqual(900);
    const r = await eventually(async () => {
      const current = await getReservation(s.ns, 'retried');
      return current.status?.alert?.outbox?.[0]?.deliveredTime ? current : undefined;
    });
    expect(r.status?.alert?.outbox).toHaveLength(1);
    expect(s.slack.delivered).toHaveLength(1);
  });

  it('stops retrying on 404 no_service and shows why on the Reservation', async () => {
    const s = await setup(['no_service']);
    await reservation(s, 'orphaned', { every: '1s', grace: '1s' });
    const r = await eventually(async () => {
      const current = await getReservation(s.ns, 'orphaned');
      const c = current.status?.conditions?.find((x) => x.type === 'AlertDelivery');
      return c?.reason === 'ReceiverRejected' ? { current, c } : undefined;
    });
    expect(r.c.status).toBe('False');
    expect(r.c.message).toContain('no_service');
    expect(r.current.status?.alert?.outbox?.[0]?.failedPermanently).toBe(true);
    expect(s.slack.received).toHaveLength(1);
  });
});
