// PagerDuty: the event GoTel renders (trigger/resolve, dedup_key, severity, details) and how the
// sender classifies the answers of a loopback Events API v2 endpoint.
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutboxEntry, Reservation } from '../../../src/api/reservation.ts';
import { describePagerDutyAnswer, sendPagerDuty } from '../../../src/alerts/pagerduty.ts';
import { pagerDutyDedupKey, pagerDutySeverity, renderPagerDutyEvent } from '../../../src/alerts/render.ts';
import { eventErrors, startPagerDutyReceiver, type PagerDutyReceiver } from '../../fixtures/pagerduty-receiver.ts';

const KEY = 'R0UT1NGKEY0123456789abcdefABCDEF';

function reservation(name = 'billing-export'): Reservation {
  return {
    apiVersion: 'gotel.io/v1alpha1',
    kind: 'Reservation',
    metadata: { name, namespace: 'data', uid: 'u-1' },
    spec: { schedule: '0 2 * * *', timeZone: 'Europe/Berlin', grace: '10m', owner: 'data-team@example.com', alertMessage: '{namespace}/{name} is {state}' },
    status: { state: 'Missed', checkins: 7, lastCheckin: { time: '2026-03-09T01:05:00Z', signal: 'success', message: 'exported 12 rows' }, deadline: '2026-03-11T01:10:00Z' },
  };
}

const entry = (kind: OutboxEntry['kind'], reason = 'Missed'): OutboxEntry => ({
  id: `e1-${kind}-${reason}`,
  kind,
  reason,
  dueTime: '2026-03-10T01:10:00Z',
  createdTime: '2026-03-10T01:10:01Z',
  message: 'data/billing-export missed its check-in',
});

describe('renderPagerDutyEvent', () => {
  it('triggers an alert with the stable dedup_key, the mapped severity and the facts in custom_details', () => {
    const event = renderPagerDutyEvent(reservation(), entry('alert'), { clusterName: 'prod-eu' }, KEY);
    expect(event).toMatchObject({
      routing_key: KEY,
      event_action: 'trigger',
      dedup_key: 'gotel/prod-eu/data/billing-export',
      client: 'GoTel',
      payload: {
        summary: '[GoTel] Missed: data/billing-export missed its check-in',
        source: 'prod-eu',
        severity: 'critical',
        timestamp: '2026-03-10T01:10:00Z',
        component: 'data/billing-export',
        group: 'data',
        class: 'Missed',
      },
    });
    expect(event.payload!.custom_details).toMatchObject({
      Reservation: 'data/billing-export',
      Expected: 'cron 0 2 * * * in Europe/Berlin, grace 10m',
      Deadline: '2026-03-10 02:10:00 GMT+1',
      Owner: 'data-team@example.com',
      'Last message': 'exported 12 rows',
      'Alert message': 'data/billing-export is Missed',
      Notification: 'alert e1-alert-Missed',
    });
    expect(eventErrors(event)).toEqual([]);
  });

  it('renotifies with the same dedup_key, and resolves a recovery with it and no payload', () => {
    const ctx = { clusterName: 'prod-eu' };
    const again = renderPagerDutyEvent(reservation(), entry('renotify'), ctx, KEY);
    const resolved = renderPagerDutyEvent(reservation(), entry('recovery'), ctx, KEY);
    expect(again.event_action).toBe('trigger');
    expect(again.payload!.summary).toContain('Still failing');
    expect(resolved).toEqual({ routing_key: KEY, event_action: 'resolve', dedup_key: 'gotel/prod-eu/data/billing-export', client: 'GoTel' });
    expect(again.dedup_key).toBe(resolved.dedup_key);
  });

  it.each([
    ['Missed', 'critical'],
    ['Failed', 'error'],
    ['Overrun', 'error'],
    ['Late', 'warning'],
    ['TooFast', 'warning'],
    ['PeerDown', 'error'],
  ])('maps %s to severity %s', (reason, severity) => {
    expect(pagerDutySeverity(reason)).toBe(severity);
    expect(renderPagerDutyEvent(reservation(), entry('alert', reason), {}, KEY).payload!.severity).toBe(severity);
  });

  it('keeps dedup keys within 255 characters and distinct', () => {
    const a = pagerDutyDedupKey(reservation('x'.repeat(250) + 'a'), { clusterName: 'c' });
    const b = pagerDutyDedupKey(reservation('x'.repeat(250) + 'b'), { clusterName: 'c' });
    expect(a.length).toBe(255);
    expect(b.length).toBe(255);
    expect(a).not.toBe(b);
    expect(pagerDutyDedupKey(reservation(), {})).toBe('gotel/default/data/billing-export');
  });
});

describe('describePagerDutyAnswer', () => {
  it("turns PagerDuty's JSON into one line, and keeps other bodies", () => {
    expect(describePagerDutyAnswer('{"status":"invalid event","message":"Event object is invalid","errors":["\'routing_key\' is invalid"]}')).toBe(
      "invalid event: Event object is invalid ('routing_key' is invalid)",
    );
    expect(describePagerDutyAnswer('<html>bad gateway</html>')).toBe('<html>bad gateway</html>');
  });
});

describe('sendPagerDuty against a loopback Events API', () => {
  let pd: PagerDutyReceiver;
  beforeAll(async () => {
    pd = await startPagerDutyReceiver({ routingKeys: [KEY] });
  });
  afterAll(async () => {
    await pd.close();
  });
  const event = (): ReturnType<typeof renderPagerDutyEvent> => renderPagerDutyEvent(reservation(), entry('alert'), { clusterName: 'unit' }, KEY);

  it('is delivered on 202 and opens one alert per dedup_key', async () => {
    expect(await sendPagerDuty(pd.url, event())).toEqual({ kind: 'delivered', status: 202 });
    expect(pd.alerts.get('gotel/unit/data/billing-export')).toMatchObject({ status: 'triggered', severity: 'critical' });
  });

  it('is transient on 429 (with its Retry-After) and 500', async () => {
    pd.script([{ status: 429, retryAfter: 7 }, { status: 429 }, 'server_error']);
    expect(await sendPagerDuty(pd.url, event())).toMatchObject({ kind: 'transient', status: 429, retryAfterMs: 7000 });
    const plain = await sendPagerDuty(pd.url, event());
    expect(plain).toMatchObject({ kind: 'transient', status: 429 });
    expect(plain).not.toHaveProperty('retryAfterMs');
    expect(await sendPagerDuty(pd.url, event())).toMatchObject({ kind: 'transient', status: 500 });
  });

  it('is permanent on 400 invalid event, naming what PagerDuty said', async () => {
    const outcome = await sendPagerDuty(pd.url, renderPagerDutyEvent(reservation(), entry('alert'), {}, 'not-a-key'));
    expect(outcome).toMatchObject({ kind: 'permanent', status: 400 });
    expect(outcome.kind === 'permanent' && outcome.error).toBe("HTTP 400 invalid event: Event object is invalid ('routing_key' is invalid)");
  });

  it('is transient when nothing answers', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    expect(await sendPagerDuty(`http://127.0.0.1:${port}/v2/enqueue`, event(), { timeoutMs: 2000 })).toMatchObject({ kind: 'transient', error: 'no answer: ECONNREFUSED' });
  });
});
