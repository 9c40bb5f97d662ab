import { describe, expect, it } from 'vitest';
import type { OutboxEntry, Reservation } from '../../../src/api/reservation.ts';
import {
  appAndComponent,
  formatInstant,
  renderAlertMessage,
  renderSlackMessage,
  renderTemplate,
  renderWebhookPayload,
  templateVars,
} from '../../../src/alerts/render.ts';

function reservation(over: Partial<Reservation> = {}): Reservation {
  return {
    apiVersion: 'gotel.io/v1alpha1',
    kind: 'Reservation',
    metadata: { name: 'billing-export', namespace: 'data', uid: 'u-123', ...over.metadata },
    spec: { schedule: '0 2 * * *', timeZone: 'Europe/Berlin', grace: '10m', owner: 'data-team@example.com', ...over.spec },
    status: {
      state: 'Failed',
      checkins: 42,
      lastCheckin: { time: '2026-03-10T01:05:00Z', signal: 'fail', exitCode: 3, message: 'disk full <!channel>' },
      lastResult: { outcome: 'Failed', time: '2026-03-10T01:05:00Z', exitCode: 3 },
      deadline: '2026-03-11T01:10:00Z',
      alert: { firing: true, reason: 'Failed', since: '2026-03-10T01:05:00Z' },
      ...over.status,
    },
  };
}

const failed: OutboxEntry = {
  id: 'abc-alert-Failed',
  kind: 'alert',
  reason: 'Failed',
  dueTime: '2026-03-10T01:05:00Z',
  createdTime: '2026-03-10T01:05:01Z',
  message: 'data/billing-export Failed',
};

describe('renderTemplate', () => {
  it('fills known placeholders and leaves unknown ones as written', () => {
    expect(renderTemplate('{namespace}/{name} by {owner}: {nope} {}', { namespace: 'data', name: 'x', owner: 'me' })).toBe('data/x by me: {nope} {}');
  });

  it('does not treat prototype names as placeholders', () => {
    expect(renderTemplate('{constructor} {toString}', {})).toBe('{constructor} {toString}');
  });
});

describe('templateVars', () => {
  it('maps every documented placeholder', () => {
    const vars = templateVars(reservation(), failed, { clusterName: 'prod-eu', receivers: ['slack', 'pager'] });
    expect(vars).toEqual({
      name: 'billing-export',
      namespace: 'data',
      owner: 'data-team@example.com',
      last: '2026-03-10 02:05:00 GMT+1',
      since: '2026-03-10 02:05:00 GMT+1',
      checkins: '42',
      schedule: '0 2 * * * (Europe/Berlin)',
      state: 'Failed',
      exitCode: '3',
      message: 'disk full <!channel>',
      app: 'billing',
      component: 'export',
      jobid: 'u-123',
      notify: 'slack, pager',
      frequency: '0 2 * * * (Europe/Berlin)',
      srv: 'prod-eu',
    });
  });

  it('takes app and component from the recommended labels first', () => {
    const res = reservation({ metadata: { name: 'x', labels: { 'app.kubernetes.io/name': 'shop', 'app.kubernetes.io/component': 'backup' } } });
    expect(appAndComponent(res)).toEqual({ app: 'shop', component: 'backup' });
    expect(appAndComponent(reservation({ metadata: { name: 'single' } }))).toEqual({ app: 'single', component: '-' });
    const fromApi = reservation({ metadata: { name: 'gotel-1', annotations: { 'gotel.io/app': 'erp', 'gotel.io/component': 'invoices', 'gotel.io/notify': 'ops@example.com' } } });
    expect(appAndComponent(fromApi)).toEqual({ app: 'erp', component: 'invoices' });
    expect(templateVars(fromApi, failed, { receivers: ['default'] }).notify).toBe('ops@example.com');
  });

  it('renders missing values as - and a period as "every"', () => {
    const res: Reservation = { apiVersion: 'gotel.io/v1alpha1', kind: 'Reservation', metadata: { name: 'n' }, spec: { every: '5m' } };
    const vars = templateVars(res, { ...failed, kind: 'recovery', reason: 'Missed' });
    expect(vars).toMatchObject({ owner: '-', last: '-', exitCode: '-', message: '', schedule: 'every 5m', state: 'Healthy', jobid: 'n', notify: '-', srv: '-' });
  });

  it('renders a GoTel-style alertMessage', () => {
    const res = reservation({ spec: { alertMessage: '[{srv}] {app}/{component} ({jobid}) {state} exit {exitCode}, last {last}; tell {owner} via {notify} {unknown}' } });
    expect(renderAlertMessage(res, failed, { clusterName: 'prod', receivers: ['default'] })).toBe(
      '[prod] billing/export (u-123) Failed exit 3, last 2026-03-10 02:05:00 GMT+1; tell data-team@example.com via default {unknown}',
    );
    expect(renderAlertMessage(reservation(), failed)).toBeUndefined();
  });
});

describe('formatInstant', () => {
  it('shows the instant in the zone, and UTC for an unknown zone', () => {
    expect(formatInstant('2026-07-01T00:30:00Z', 'America/New_York')).toBe('2026-06-30 20:30:00 EDT');
    expect(formatInstant('2026-07-01T00:30:00Z', undefined)).toBe('2026-07-01 00:30:00 UTC');
    expect(formatInstant('2026-07-01T00:30:00Z', 'Mars/Olympus')).toBe('2026-07-01T00:30:00Z');
    expect(formatInstant(undefined, 'UTC')).toBe('-');
  });
});

describe('renderSlackMessage', () => {
  it('names the reservation, the failure with its exit code, the owner and the expectation', () => {
    const res = reservation({ spec: { alertMessage: '{namespace}/{name} broke, ask {owner}' } });
    const msg = renderSlackMessage(res, failed, { clusterName: 'prod' });
    expect(msg.text).toBe('[GoTel] Failed: data/billing-export failed with exit code 3 — data/billing-export broke, ask data-team@example.com');
    const all = JSON.stringify(msg.blocks);
    expect(msg.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: 'Failed: data/billing-export failed with exit code 3', emoji: true } });
    for (const s of ['data/billing-export', 'cron `0 2 * * *` in Europe/Berlin, grace 10m', 'data-team@example.com', '*Exit code*\\n3', 'cluster prod', 'abc-alert-Failed']) {
      expect(all).toContain(s);
    }
    // A job's message cannot ping the channel.
    expect(all).toContain('disk full &lt;!channel&gt;');
    expect(all).not.toContain('<!channel>');
  });

  it.each([
    ['Missed', 'alert', 'Missed: data/billing-export missed its check-in'],
    ['Late', 'alert', 'Late: data/billing-export started late'],
    ['Overrun', 'alert', 'Overrun: data/billing-export is running past its maxRuntime of 30m'],
    ['TooFast', 'alert', 'TooFast: data/billing-export finished faster than its minRuntime of 5s'],
    ['Missed', 'renotify', 'Still failing: data/billing-export missed its check-in'],
    ['Missed', 'recovery', 'Recovered: data/billing-export is healthy again (was Missed)'],
  ] as const)('headlines %s %s', (reason, kind, title) => {
    const res = reservation({ spec: { maxRuntime: '30m', minRuntime: '5s' } });
    const msg = renderSlackMessage(res, { ...failed, reason, kind });
    expect(msg.blocks[0]).toMatchObject({ text: { text: title } });
    expect(msg.text).toContain(title);
  });

  it('keeps within Slack limits for huge messages', () => {
    const res = reservation({ status: { lastCheckin: { time: '2026-03-10T01:05:00Z', signal: 'log', message: 'x'.repeat(20_000) } } });
    const msg = renderSlackMessage(res, { ...failed, message: 'y'.repeat(5000) });
    for (const b of msg.blocks as { text?: { text: string }; fields?: { text: string }[] }[]) {
      if (b.text) expect(b.text.text.length).toBeLessThanOrEqual(3000);
      for (const f of b.fields ?? []) expect(f.text.length).toBeLessThanOrEqual(2000);
    }
    expect(msg.text.length).toBeLessThanOrEqual(3000);
  });
});

describe('renderWebhookPayload', () => {
  it('has the documented stable shape', () => {
    const res = reservation({ spec: { alertMessage: '{name} failed' } });
    expect(renderWebhookPayload(res, failed, { clusterName: 'prod', receivers: ['hook'] })).toEqual({
      version: 'gotel.io/v1alpha1',
      kind: 'alert',
      id: 'u-123/abc-alert-Failed',
      reason: 'Failed',
      firing: true,
      reservation: { namespace: 'data', name: 'billing-export', uid: 'u-123' },
      summary: 'Failed: data/billing-export failed with exit code 3',
      message: 'data/billing-export Failed',
      alertMessage: 'billing-export failed',
      owner: 'data-team@example.com',
      expected: { schedule: '0 2 * * *', timeZone: 'Europe/Berlin', grace: '10m' },
      dueTime: '2026-03-10T01:05:00Z',
      createdTime: '2026-03-10T01:05:01Z',
      state: 'Failed',
      since: '2026-03-10T01:05:00Z',
      deadline: '2026-03-11T01:10:00Z',
      exitCode: 3,
      checkins: 42,
      lastCheckin: { time: '2026-03-10T01:05:00Z', signal: 'fail', exitCode: 3, message: 'disk full <!channel>' },
      cluster: 'prod',
      receivers: ['hook'],
    });
  });

  it('says firing: false for a recovery', () => {
    expect(renderWebhookPayload(reservation(), { ...failed, kind: 'recovery' }).firing).toBe(false);
  });
});
