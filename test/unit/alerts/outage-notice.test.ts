// The one notice per GoTel outage: the same facts for every kind of receiver (the window, the
// Reservations whose deadlines fell in it, the runs still without a check-in after the catch-up).
import { describe, expect, it } from 'vitest';
import { outageText, renderOutageEmail, renderOutagePagerDuty, renderOutageSlack, renderOutageWebhook, type OutageNotice } from '../../../src/alerts/outage-notice.ts';
import { parseRecords } from '../../../src/operator/outage-record.ts';

const notice = (missing: OutageNotice['missing']): OutageNotice => ({
  id: 'o-20260101t000010z',
  start: Date.parse('2026-01-01T00:00:10Z'),
  end: Date.parse('2026-01-01T00:00:34Z'),
  catchUpMs: 60_000,
  clusterName: 'prod',
  causes: ['apiserver'],
  reservations: ['a/backup', 'b/report'],
  missing,
});

describe('the outage notice', () => {
  it('says when GoTel could not accept check-ins, names the Reservations and who is still missing', () => {
    const text = outageText(notice([{ reservation: 'b/report', expectedTime: '2026-01-01T00:00:20Z' }]));
    expect(text).toContain('GoTel could not accept check-ins from 2026-01-01T00:00:10Z to 2026-01-01T00:00:34Z (24s); 2 Reservations had deadlines in that window: a/backup, b/report.');
    expect(text).toContain('Runs that still have no check-in after the 1m catch-up: b/report (run expected at 2026-01-01T00:00:20Z).');
    expect(outageText(notice([]))).toContain('Every one of them checked in within the 1m catch-up after it.');
  });

  it('renders Slack, webhook, PagerDuty and e-mail from the same facts', () => {
    const n = notice([{ reservation: 'b/report', expectedTime: '2026-01-01T00:00:20Z' }]);
    expect(renderOutageSlack(n).text).toBe(outageText(n));
    const payload = renderOutageWebhook(n);
    expect(payload).toMatchObject({ kind: 'outage', id: 'outage/prod/o-20260101t000010z', reservations: ['a/backup', 'b/report'], stillMissing: n.missing });
    const event = renderOutagePagerDuty(n, 'key');
    expect(event).toMatchObject({ event_action: 'trigger', dedup_key: 'gotel/prod/outage/o-20260101t000010z', payload: { severity: 'error', class: 'GoTelOutage' } });
    expect(renderOutagePagerDuty(notice([]), 'key').payload?.severity).toBe('warning');
    const mail = renderOutageEmail({ ...n, reservations: ['a/<x>'] });
    expect(mail.subject).toBe('[GoTel] GoTel could not accept check-ins from 2026-01-01T00:00:10Z to 2026-01-01T00:00:34Z');
    expect(mail.html).toContain('a/&lt;x&gt;');
  });

  it('lists at most 50 names and says how many more there were', () => {
    const many = Array.from({ length: 60 }, (_, i) => `ns/r${i}`);
    expect(outageText({ ...notice([]), reservations: many })).toContain('and 10 more');
  });
});

describe('the outage record', () => {
  it('reads what it wrote and drops what does not parse', () => {
    const data = JSON.stringify([{ id: 'o-1', start: '2026-01-01T00:00:10Z', end: '2026-01-01T00:00:34Z', causes: ['apiserver'] }, { id: 'bad', start: 'x' }, 7]);
    expect(parseRecords({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'gotel-outages', namespace: 'g' }, data: { 'outages.json': data } })).toEqual([
      { id: 'o-1', start: Date.parse('2026-01-01T00:00:10Z'), end: Date.parse('2026-01-01T00:00:34Z'), causes: ['apiserver'] },
    ]);
    expect(parseRecords({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'gotel-outages', namespace: 'g' }, data: { 'outages.json': '{' } })).toEqual([]);
    expect(parseRecords(undefined)).toEqual([]);
  });
});
