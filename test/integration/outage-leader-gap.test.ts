// A GoTel that died during an outage takes its memory of it along; the replica that starts next
// reads the gap in the leader Lease's renewals (no replica led, none took check-ins) and records
// it as an outage: runs due in it are Unknown, not Missed, and listed in one notice; the first
// run due after the catch-up is alerted Missed as usual.
import { afterAll, describe, expect, it } from 'vitest';
import type { Reservation, ReservationStatus } from '../../src/api/reservation.ts';
import { compileSpec } from '../../src/core/index.ts';
import { startSlackReceiver, type ReceivedRequest, type SlackReceiver } from '../../src/dev/slack-receiver.ts';
import { leasePath, microTime } from '../../src/k8s/leader-election.ts';
import { StatusWriter } from '../../src/k8s/status-writer.ts';
import type { Operator } from '../../src/operator/operator.ts';
import { eventually, freshNamespace } from './helpers.ts';
import { createReservation, getReservation, rest, startOperator } from './operator-harness.ts';

const running: Operator[] = [];
const receivers: SlackReceiver[] = [];
afterAll(async () => {
  await Promise.all(running.map((op) => op.stop()));
  await Promise.all(receivers.map((r) => r.close()));
});

const text = (r: ReceivedRequest): string => {
  const t = (r.body as { text?: unknown } | undefined)?.text;
  return typeof t === 'string' ? t : JSON.stringify(r.body);
};
const isNotice = (r: ReceivedRequest): boolean => text(r).includes('GoTel could not accept check-ins');

describe('a leaderless gap found at start-up', () => {
  it('is recorded as an outage: its runs are Unknown and noticed once, later ones Missed as usual', async () => {
    const ns = await freshNamespace('gap');
    const slack = await startSlackReceiver();
    receivers.push(slack);
    const spec = { every: '5s', grace: '1s', anonymous: true };
    const created = await createReservation(ns, 'quiet', spec);
    const now = Date.now();
    // The job last checked in 32 s ago, while the leader still renewed; then everything stopped.
    const status: ReservationStatus = {
      state: 'Healthy',
      judging: { scheduleKey: compileSpec(created).key, since: new Date(now - 60_000).toISOString() },
      lastSuccessTime: new Date(now - 32_000).toISOString(),
      lastResult: { outcome: 'Success', time: new Date(now - 32_000).toISOString() },
      checkins: 1,
    };
    await new StatusWriter(rest).update(ns, 'quiet', () => status);
    const renewed = now - 30_000;
    await rest.request({
      method: 'POST',
      path: leasePath(ns),
      body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'gotel-leader' }, spec: { holderIdentity: 'died-in-the-outage', leaseDurationSeconds: 2, renewTime: microTime(renewed), acquireTime: microTime(renewed - 60_000) } },
    });

    running.push(await startOperator(ns, { slackWebhookUrl: slack.url, outageCatchUpMs: 2000 }));

    const [notice] = await eventually(() => Promise.resolve(slack.received.filter(isNotice)[0] ? slack.received.filter(isNotice) : undefined), 30_000, 'the outage notice');
    expect(text(notice!)).toContain(`${ns}/quiet`);
    expect(text(notice!).slice(text(notice!).indexOf('still have no check-in'))).toContain(`${ns}/quiet`);

    const cm = await rest.request<{ data: Record<string, string> }>({ method: 'GET', path: `/api/v1/namespaces/${ns}/configmaps/gotel-outages` });
    const [record] = JSON.parse(cm.data['outages.json']!) as { start: string; end: string; causes: string[] }[];
    expect(record!.causes).toEqual(['no-leader']);
    expect(Date.parse(record!.start)).toBe(Date.parse(microTime(renewed)));
    const judgeable = Date.parse(record!.end) + 2000;

    // The first run due after the catch-up is Missed and alerted; none due in the gap is.
    const missed = await eventually(() => Promise.resolve(slack.received.find((r) => !isNotice(r))), 20_000, 'a Missed alert after the catch-up');
    const deadline = /\(deadline ([^)]+)\)/.exec(text(missed))?.[1];
    expect(Date.parse(deadline!)).toBeGreaterThan(judgeable);
    const r: Reservation = await getReservation(ns, 'quiet');
    expect(r.status?.outageRuns?.length).toBeGreaterThan(0);
    expect(r.status?.outageRuns?.every((x) => x.outcome === 'Unknown')).toBe(true);
    expect(slack.received.filter(isNotice)).toHaveLength(1);
  }, 60_000);
});
