import { describe, expect, it } from 'vitest';
import { LIMITS, type Condition, type OutboxEntry } from '../../../src/api/reservation.ts';
import { markDelivered } from '../../../src/alerts/dispatcher.ts';
import { addEntry, alertDeliveryCondition, closeEntry, markDelivered as markDeliveredPure, markRefused, markRetrying, nextPending, pruneOutbox } from '../../../src/alerts/outbox.ts';
import { parseDefaultReceiver, receiverNames } from '../../../src/alerts/receivers.ts';

const entry = (id: string, over: Partial<OutboxEntry> = {}): OutboxEntry => ({
  id,
  kind: 'alert',
  reason: 'Missed',
  dueTime: '2026-03-10T01:00:00Z',
  createdTime: '2026-03-10T01:00:01Z',
  ...over,
});
const delivered = { deliveredTime: '2026-03-10T01:00:02Z' };
const NOW = Date.parse('2026-03-10T02:00:00.400Z');

describe('pruneOutbox', () => {
  it('drops the oldest delivered or failed entries first and keeps the order', () => {
    const entries = [entry('a'), entry('b', delivered), entry('c', { failedPermanently: true }), entry('d', delivered), entry('e')];
    expect(pruneOutbox(entries, 3).map((e) => e.id)).toEqual(['a', 'd', 'e']);
    expect(pruneOutbox(entries, 2).map((e) => e.id)).toEqual(['a', 'e']);
    expect(entries).toHaveLength(5); // not modified
  });

  it('drops the oldest pending entry only when nothing else is left to drop', () => {
    expect(pruneOutbox([entry('a'), entry('b'), entry('c')], 2).map((e) => e.id)).toEqual(['b', 'c']);
  });

  it("keeps the CRD's limit by default", () => {
    const many = Array.from({ length: LIMITS.outboxEntries + 5 }, (_, i) => entry(`e${i}`, i % 2 ? delivered : {}));
    const kept = pruneOutbox(many);
    expect(kept).toHaveLength(LIMITS.outboxEntries);
    expect(kept.filter((e) => !e.deliveredTime)).toHaveLength(13); // every pending one survives
  });
});

describe('nextPending', () => {
  it('is the oldest entry neither delivered nor given up', () => {
    const alert = { firing: true, outbox: [entry('a', delivered), entry('b', { failedPermanently: true }), entry('c'), entry('d')] };
    expect(nextPending({ alert })?.id).toBe('c');
    expect(nextPending({})).toBeUndefined();
  });
});

describe('alertDeliveryCondition', () => {
  const cond = (outbox: OutboxEntry[], previous?: Condition): Condition =>
    alertDeliveryCondition({ alert: { firing: true, outbox }, ...(previous ? { conditions: [previous] } : {}) }, NOW, 4);

  it('says Retrying with the last error while a send keeps failing', () => {
    expect(cond([entry('a', { attempts: 2, lastError: 'slack: HTTP 500 internal_error' })])).toEqual({
      type: 'AlertDelivery',
      status: 'False',
      reason: 'Retrying',
      message: 'alert Missed (a) not delivered after 2 attempts, retrying: slack: HTTP 500 internal_error',
      lastTransitionTime: '2026-03-10T02:00:00Z',
      observedGeneration: 4,
    });
  });

  it('says ReceiverRejected naming the receiver and what Slack said', () => {
    const c = cond([entry('a', delivered), entry('b', { failedPermanently: true, lastError: 'team: HTTP 404 no_service (the webhook is disabled, removed or invalid)' })]);
    expect(c).toMatchObject({ status: 'False', reason: 'ReceiverRejected' });
    expect(c.message).toContain('team: HTTP 404 no_service');
  });

  it('says Delivered once a later entry got through, keeping the transition time', () => {
    const previous: Condition = { type: 'AlertDelivery', status: 'True', reason: 'NothingToSend', message: '', lastTransitionTime: '2026-01-01T00:00:00Z' };
    const c = cond([entry('a', { failedPermanently: true }), entry('b', { ...delivered, deliveredTo: ['slack'] })], previous);
    expect(c).toMatchObject({ status: 'True', reason: 'Delivered', lastTransitionTime: '2026-01-01T00:00:00Z' });
    expect(c.message).toBe('alert Missed delivered to slack at 2026-03-10T01:00:02Z');
  });

  it('is Pending for untried entries and NothingToSend for an empty outbox', () => {
    expect(cond([entry('a')])).toMatchObject({ status: 'Unknown', reason: 'Pending' });
    expect(alertDeliveryCondition(undefined, NOW)).toMatchObject({ status: 'True', reason: 'NothingToSend' });
  });
});

describe('markDelivered', () => {
  const status = (e: OutboxEntry, lastNotifiedTime = '2026-03-10T01:00:01Z') => ({ alert: { firing: true, lastNotifiedTime, notifications: 1, outbox: [entry('old', delivered), e] } });
  const mark = { entryId: 'b', receiver: 'slack', time: NOW, receivers: ['slack', 'hook'], rejected: [] as [string, string][] };

  it('adds the receiver, and closes the entry only when every receiver has it', () => {
    const first = markDelivered(status(entry('b')), mark)!;
    const b = first.alert!.outbox![1]!;
    expect(b).toMatchObject({ deliveredTo: ['slack'], attempts: 1 });
    expect(b.deliveredTime).toBeUndefined();
    expect(first.alert!.lastNotifiedTime).toBe('2026-03-10T02:00:00.400Z');
    expect(first.alert!.notifications).toBe(1); // counted by the core when it made the entry
    const second = markDelivered(first, { ...mark, receiver: 'hook' })!;
    expect(second.alert!.outbox![1]).toMatchObject({ deliveredTo: ['slack', 'hook'], attempts: 2, deliveredTime: '2026-03-10T02:00:00.400Z' });
  });

  it('refuses (null) when another replica already recorded it, or the entry is gone', () => {
    expect(markDelivered(status(entry('b', { deliveredTo: ['slack'] })), mark)).toBeNull();
    expect(markDelivered(status(entry('b', delivered)), mark)).toBeNull();
    expect(markDelivered(status(entry('zzz')), mark)).toBeNull();
  });

  it('closes as failedPermanently when the other receiver refused', () => {
    const s = markDelivered(status(entry('b')), { ...mark, rejected: [['hook', 'hook: HTTP 410 gone']] })!;
    expect(s.alert!.outbox![1]).toMatchObject({ deliveredTo: ['slack'], failedPermanently: true, lastError: 'hook: HTTP 410 gone' });
  });
});

describe('parseDefaultReceiver', () => {
  it('takes a URL or a Secret reference', () => {
    expect(parseDefaultReceiver('https://hooks.slack.com/services/T/B/X')).toEqual({ type: 'slack', url: 'https://hooks.slack.com/services/T/B/X' });
    expect(parseDefaultReceiver('gotel-system/slack#webhook')).toEqual({ type: 'slack', secretRef: { namespace: 'gotel-system', name: 'slack', key: 'webhook' } });
    expect(parseDefaultReceiver(' gotel-system/slack ')).toEqual({ type: 'slack', secretRef: { namespace: 'gotel-system', name: 'slack', key: 'url' } });
  });

  it.each([
    ['', /empty/],
    ['ftp://x/y', /must be http\(s\)/],
    ['slack', /neither an https:\/\/ URL nor a Secret reference/],
    ['Bad_NS/slack', /not a valid namespace/],
    ['ns/Bad_Name', /not a valid Secret name/],
    ['ns/name#bad key', /neither/],
  ])('refuses %j', (value, message) => {
    expect(() => parseDefaultReceiver(value)).toThrow(message);
  });
});

describe('receiverNames', () => {
  const res = (notify: object[]) => ({ apiVersion: 'gotel.io/v1alpha1' as const, kind: 'Reservation' as const, metadata: { name: 'x' }, spec: { notify } });
  it('names receivers by name or type, unique', () => {
    const ref = { urlSecretRef: { name: 's' } };
    expect(receiverNames(res([{ slack: ref }, { slack: ref }, { name: 'ops', webhook: ref }, { webhook: ref }]), undefined).map((r) => r.name)).toEqual(['slack', 'slack-2', 'ops', 'webhook']);
  });
  it('uses the default receiver only when notify is empty', () => {
    expect(receiverNames(res([]), { type: 'slack', url: 'http://x' }).map((r) => r.name)).toEqual(['default']);
    expect(receiverNames(res([]), undefined)).toEqual([]);
  });
});

describe('the outbox state changes, each one patch with AlertDelivery', () => {
  const base = (e: OutboxEntry) => ({ alert: { firing: true, lastNotifiedTime: '2026-03-10T01:00:01Z', notifications: 1, outbox: [e] } });
  const delivery = (s: { conditions?: Condition[] } | null) => s?.conditions?.find((c) => c.type === 'AlertDelivery');

  it('addEntry appends, keeps the CRD bound and sets lastNotifiedTime for alerts and reminders only', () => {
    const renotify = entry('r', { kind: 'renotify', createdTime: '2026-03-10T03:00:00Z' });
    const s = addEntry(base(entry('a', delivered)), renotify);
    expect(s.alert!.outbox!.map((e) => e.id)).toEqual(['a', 'r']);
    expect(s.alert!.lastNotifiedTime).toBe('2026-03-10T03:00:00Z');
    const r = addEntry(s, entry('ok', { kind: 'recovery', createdTime: '2026-03-10T04:00:00Z' }));
    expect(r.alert!.lastNotifiedTime).toBe('2026-03-10T03:00:00Z');
    const full = Array.from({ length: LIMITS.outboxEntries }, (_, i) => entry(`e${i}`, delivered));
    expect(addEntry({ alert: { firing: true, outbox: full } }, entry('new')).alert!.outbox).toHaveLength(LIMITS.outboxEntries);
  });

  it('markDelivered closes the entry and says Delivered in the same status', () => {
    const s = markDeliveredPure(base(entry('b')), { entryId: 'b', receiver: 'slack', time: NOW, receivers: ['slack'], rejected: [] }, 3)!;
    expect(s.alert!.outbox![0]!.deliveredTime).toBe('2026-03-10T02:00:00.400Z');
    expect(delivery(s)).toMatchObject({ status: 'True', reason: 'Delivered', observedGeneration: 3 });
  });

  it('markRetrying counts an attempt (only a real one) and says Retrying', () => {
    const s = markRetrying(base(entry('b')), { entryId: 'b', error: 'slack: HTTP 500 internal_error', time: NOW, attempted: true })!;
    expect(s.alert!.outbox![0]).toMatchObject({ attempts: 1, lastError: 'slack: HTTP 500 internal_error' });
    expect(delivery(s)).toMatchObject({ status: 'False', reason: 'Retrying' });
    const unresolved = markRetrying(base(entry('b')), { entryId: 'b', error: 'slack: Secret not found', time: NOW, attempted: false })!;
    expect(unresolved.alert!.outbox![0]!.attempts).toBeUndefined();
    expect(markRetrying(base(entry('b', delivered)), { entryId: 'b', error: 'x', time: NOW, attempted: true })).toBeNull();
  });

  it('markRefused keeps the entry open while another receiver is due, and closes it after', () => {
    const refusal = { entryId: 'b', error: 'hook: HTTP 410 gone', time: NOW, attempted: true, receivers: ['slack', 'hook'], rejected: [['hook', 'hook: HTTP 410 gone']] as [string, string][] };
    const open = markRefused(base(entry('b')), refusal)!;
    expect(open.alert!.outbox![0]).toMatchObject({ attempts: 1, lastError: 'hook: HTTP 410 gone' });
    expect(open.alert!.outbox![0]!.failedPermanently).toBeUndefined();
    const closed = markRefused(base(entry('b', { deliveredTo: ['slack'] })), refusal)!;
    expect(closed.alert!.outbox![0]).toMatchObject({ failedPermanently: true, lastError: 'hook: HTTP 410 gone' });
    expect(delivery(closed)).toMatchObject({ status: 'False', reason: 'ReceiverRejected' });
  });

  it('closeEntry gives up an entry with no receiver, naming why', () => {
    const s = closeEntry(base(entry('b')), 'b', [], [], NOW, 'no receiver')!;
    expect(s.alert!.outbox![0]).toMatchObject({ failedPermanently: true, lastError: 'no receiver' });
    expect(delivery(s)).toMatchObject({ status: 'False', reason: 'ReceiverRejected' });
    expect(closeEntry(s, 'b', [], [], NOW)).toBeNull();
  });
});
