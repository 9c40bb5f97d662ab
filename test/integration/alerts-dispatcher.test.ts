// The outbox dispatcher against a real apiserver, sending through @slack/webhook (and the generic
// webhook sender) to the loopback Slack-compatible receiver. Assertions are on what the receiver
// recorded and what the Reservation's status says.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION, type NotifyTarget, type OutboxEntry, type Reservation } from '../../src/api/reservation.ts';
import { AlertDispatcher, type AlertDispatcherOptions } from '../../src/alerts/dispatcher.ts';
import { alertDeliveryCondition } from '../../src/alerts/outbox.ts';
import { parseDefaultReceiver } from '../../src/alerts/receivers.ts';
import type { WebhookPayload } from '../../src/alerts/render.ts';
import { startSlackReceiver, type SlackReceiver } from '../../src/dev/slack-receiver.ts';
import { KubeRest } from '../../src/k8s/rest.ts';
import { StatusWriter, reservationPath } from '../../src/k8s/status-writer.ts';
import { createMetrics, type Metrics } from '../../src/metrics.ts';
import { clients, eventually, freshNamespace, kubeConfig } from './helpers.ts';

const kc = kubeConfig();
const rest = new KubeRest(kc);
const { core, custom } = clients(kc);
let namespace: string;
let receiver: SlackReceiver;
const dispatchers: AlertDispatcher[] = [];

beforeAll(async () => {
  namespace = await freshNamespace('alerts');
  receiver = await startSlackReceiver();
});

afterEach(async () => {
  await Promise.all(dispatchers.splice(0).map((d) => d.stop({ timeoutMs: 100 })));
});

afterAll(async () => {
  await receiver.close();
  rest.close();
});

function dispatcher(options: Partial<AlertDispatcherOptions> = {}): { d: AlertDispatcher; metrics: Metrics } {
  const metrics = createMetrics({ defaultMetrics: false });
  const d = new AlertDispatcher({ rest, writer: new StatusWriter(rest), metrics, clusterName: 'test', backoff: { initialMs: 200, jitter: 0 }, ...options });
  dispatchers.push(d);
  return { d, metrics };
}

async function secret(name: string, data: Record<string, string>): Promise<void> {
  await core.createNamespacedSecret({
    namespace,
    body: { metadata: { name }, stringData: data },
  });
}

const slackTo = (secretName: string, name?: string): NotifyTarget => ({ ...(name ? { name } : {}), slack: { urlSecretRef: { name: secretName } } });

let seq = 0;
function entry(over: Partial<OutboxEntry> = {}): OutboxEntry {
  const now = new Date();
  return { id: `e${++seq}-alert-Missed`, kind: 'alert', reason: 'Missed', dueTime: new Date(now.getTime() - 1000).toISOString(), createdTime: now.toISOString(), message: 'missed its check-in', ...over };
}

/** A Reservation with its outbox recorded in status, as the reconciler leaves it before sync(). */
async function reservation(name: string, notify: NotifyTarget[], outbox: OutboxEntry[], spec: object = {}): Promise<Reservation> {
  await custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: PLURAL,
    body: { apiVersion: API_VERSION, kind: KIND, metadata: { name }, spec: { every: '5m', owner: 'ops@example.com', ...(notify.length ? { notify } : {}), ...spec } },
  });
  return new StatusWriter(rest).update(namespace, name, (r) => ({
    ...r.status,
    state: 'Missed',
    alert: { firing: true, reason: 'Missed', since: outbox[0]?.dueTime, lastNotifiedTime: outbox[0]?.createdTime, notifications: 1, outbox },
  }));
}

async function stored(name: string): Promise<Reservation> {
  return rest.request<Reservation>({ method: 'GET', path: reservationPath(namespace, name) });
}

async function outboxOf(name: string): Promise<OutboxEntry[]> {
  return (await stored(name)).status?.alert?.outbox ?? [];
}

/** Resolves when the dispatcher has nothing left to do for any Reservation (no send, no timer). */
async function idle(d: AlertDispatcher): Promise<void> {
  await eventually(() => Promise.resolve(d.pendingKeys.length === 0), 20_000, 'dispatcher idle');
}

const received = (path: string) => receiver.received.filter((r) => r.path === `/${path}`);
const delivered = (path: string) => receiver.delivered.filter((r) => r.path === `/${path}`);

describe('AlertDispatcher', () => {
  it('delivers an outbox entry exactly once and marks it, even when offered stale copies', async () => {
    await secret('once', { url: receiver.urlFor('once') });
    const e = entry();
    const res = await reservation('once', [slackTo('once')], [e]);
    const { d, metrics } = dispatcher();
    d.sync(res);
    d.sync(res);
    await receiver.waitFor(delivered('once').length + 1, { delivered: true });
    const marked = await eventually(async () => (await outboxOf('once')).find((x) => x.id === e.id && x.deliveredTime));
    expect(marked).toMatchObject({ deliveredTo: ['slack'], attempts: 1 });
    expect(marked.lastError).toBeUndefined();
    const alert = (await stored('once')).status!.alert!;
    expect(Date.parse(alert.lastNotifiedTime!)).toBeGreaterThanOrEqual(Date.parse(e.createdTime));
    expect(alert.notifications).toBe(1);
    await idle(d);
    // An informer may still hold the copy from before the mark: it must not send again.
    d.sync(res);
    await idle(d);
    expect(received('once')).toHaveLength(1);
    const body = received('once')[0]!.body as { text: string; blocks: unknown[] };
    expect(body.text).toContain(`Missed: ${namespace}/once missed its check-in`);
    expect(JSON.stringify(body.blocks)).toContain('ops@example.com');
    expect(await metrics.registry.getSingleMetricAsString('gotel_alerts_total')).toContain('gotel_alerts_total{receiver="slack",result="delivered"} 1');
    expect(await metrics.registry.getSingleMetricAsString('gotel_alert_latency_seconds')).toContain('gotel_alert_latency_seconds_count{receiver="slack"} 1');
  });

  it('honours 429 Retry-After, retries a 500, and delivers once', async () => {
    await secret('flaky', { url: receiver.urlFor('flaky') });
    const e = entry();
    const res = await reservation('flaky', [slackTo('flaky')], [e]);
    receiver.script([{ retryAfter: 1 }, 'server_error', 'ok']);
    const { d, metrics } = dispatcher();
    d.sync(res);
    // While it waits, status says why.
    const retrying = await eventually(async () => {
      const st = (await stored('flaky')).status;
      return st?.alert?.outbox?.[0]?.lastError?.includes('HTTP 429') ? st : undefined;
    });
    expect(alertDeliveryCondition(retrying, Date.now())).toMatchObject({ status: 'False', reason: 'Retrying' });
    await receiver.waitFor(delivered('flaky').length + 1, { delivered: true });
    await idle(d);
    const got = received('flaky');
    expect(got.map((r) => r.status)).toEqual([429, 500, 200]);
    expect(got[1]!.time.getTime() - got[0]!.time.getTime()).toBeGreaterThanOrEqual(950); // Retry-After: 1
    expect(delivered('flaky')).toHaveLength(1);
    const [marked] = await outboxOf('flaky');
    expect(marked).toMatchObject({ id: e.id, deliveredTo: ['slack'], attempts: 3 });
    expect(marked!.deliveredTime).toBeDefined();
    expect(marked!.lastError).toBeUndefined();
    expect(alertDeliveryCondition((await stored('flaky')).status, Date.now())).toMatchObject({ status: 'True', reason: 'Delivered' });
    const counts = await metrics.registry.getSingleMetricAsString('gotel_alerts_total');
    expect(counts).toContain('gotel_alerts_total{receiver="slack",result="retry"} 2');
    expect(counts).toContain('gotel_alerts_total{receiver="slack",result="delivered"} 1');
  });

  it('stops retrying on 404 no_service and says why in status', async () => {
    await secret('gone', { url: receiver.urlFor('gone') });
    const res = await reservation('gone', [slackTo('gone', 'team')], [entry()]);
    receiver.script(['no_service']);
    const { d } = dispatcher();
    d.sync(res);
    const failed = await eventually(async () => (await outboxOf('gone')).find((x) => x.failedPermanently));
    expect(failed.lastError).toMatch(/^team: HTTP 404 no_service/);
    expect(failed.deliveredTime).toBeUndefined();
    await idle(d);
    d.sync(await stored('gone'));
    await idle(d);
    expect(received('gone').map((r) => r.status)).toEqual([404]);
    const condition = alertDeliveryCondition((await stored('gone')).status, Date.now());
    expect(condition).toMatchObject({ status: 'False', reason: 'ReceiverRejected' });
    expect(condition.message).toContain('no_service');
  });

  it("reads each Reservation's receivers from its own Secrets, and names a missing one", async () => {
    await secret('team-a', { url: receiver.urlFor('team-a') });
    await secret('team-b', { webhook: `${receiver.urlFor('team-b')}\n` }); // made with echo: trailing newline
    const a = await reservation('uses-a', [slackTo('team-a')], [entry()]);
    const b = await reservation('uses-b', [{ slack: { urlSecretRef: { name: 'team-b', key: 'webhook' } } }], [entry()]);
    const missing = await reservation('uses-missing', [slackTo('no-such-secret', 'ops')], [entry()]);
    const badKey = await reservation('uses-bad-key', [{ slack: { urlSecretRef: { name: 'team-a', key: 'nope' } } }], [entry()]);
    const { d } = dispatcher();
    for (const r of [a, b, missing, badKey]) d.sync(r);
    await idle(d);
    expect(received('team-a').map((r) => (r.body as { text: string }).text)).toEqual([expect.stringContaining(`${namespace}/uses-a`)]);
    expect(received('team-b').map((r) => (r.body as { text: string }).text)).toEqual([expect.stringContaining(`${namespace}/uses-b`)]);
    const [m] = await outboxOf('uses-missing');
    expect(m).toMatchObject({ failedPermanently: true });
    expect(m!.lastError).toBe(`ops (spec.notify[0].slack.urlSecretRef (Secret ${namespace}/no-such-secret key url)): Secret ${namespace}/no-such-secret not found`);
    const [k] = await outboxOf('uses-bad-key');
    expect(k!.lastError).toContain(`Secret ${namespace}/team-a has no key "nope" (it has: url)`);
  });

  it("uses the operator's default receiver (a Secret reference) when notify is empty", async () => {
    await secret('default-slack', { hook: receiver.urlFor('default') });
    const res = await reservation('uses-default', [], [entry()]);
    const { d } = dispatcher({ defaultReceiver: parseDefaultReceiver(`${namespace}/default-slack#hook`) });
    d.sync(res);
    await idle(d);
    expect(received('default')).toHaveLength(1);
    expect((await outboxOf('uses-default'))[0]).toMatchObject({ deliveredTo: ['default'] });
    // And with no default receiver at all, the entry is closed with a reason instead of retried forever.
    const none = await reservation('no-receiver', [], [entry()]);
    const { d: d2 } = dispatcher();
    d2.sync(none);
    const [n] = await eventually(async () => ((await outboxOf('no-receiver'))[0]?.failedPermanently ? outboxOf('no-receiver') : undefined));
    expect(n!.lastError).toMatch(/^no receiver: spec.notify is empty/);
  });

  it('sends to a generic webhook beside Slack, each once, with the documented payload', async () => {
    await secret('both-slack', { url: receiver.urlFor('both-slack') });
    await secret('both-hook', { url: receiver.urlFor('both-hook') });
    const e = entry({ kind: 'alert', reason: 'Failed', message: 'exit code 3' });
    await reservation('both', [slackTo('both-slack'), { name: 'pager', webhook: { urlSecretRef: { name: 'both-hook' } } }], [e]);
    // The failing run, as the check-in path and the judge leave it.
    const res = await new StatusWriter(rest).update(namespace, 'both', (r) => ({
      ...r.status,
      state: 'Failed',
      lastCheckin: { time: e.dueTime, signal: 'fail', exitCode: 3, message: 'disk full' },
    }));
    receiver.script(['ok', 'server_error']); // Slack first, then the webhook fails once
    const { d } = dispatcher();
    d.sync(res);
    await receiver.waitFor(delivered('both-hook').length + 1, { delivered: true });
    await idle(d);
    expect(delivered('both-slack')).toHaveLength(1);
    expect(received('both-slack')).toHaveLength(1); // the webhook's retry did not repeat Slack
    expect(received('both-hook').map((r) => r.status)).toEqual([500, 200]);
    const [marked] = await outboxOf('both');
    expect(marked).toMatchObject({ deliveredTo: ['slack', 'pager'], attempts: 3 });
    const hook = delivered('both-hook')[0]!;
    const payload = hook.body as WebhookPayload;
    expect(hook.headers['idempotency-key']).toBe(payload.id);
    expect(payload).toMatchObject({
      version: 'gotel.io/v1alpha1',
      kind: 'alert',
      reason: 'Failed',
      firing: true,
      reservation: { namespace, name: 'both' },
      summary: `Failed: ${namespace}/both failed with exit code 3`,
      exitCode: 3,
      owner: 'ops@example.com',
      expected: { every: '5m', timeZone: 'UTC' },
      lastCheckin: { signal: 'fail', exitCode: 3, message: 'disk full' },
      cluster: 'test',
      receivers: ['slack', 'pager'],
    });
    expect(payload.id).toBe(`${res.metadata.uid}/${e.id}`);
  });

  it('sends entries in order: an alert before its recovery', async () => {
    await secret('ordered', { url: receiver.urlFor('ordered') });
    const alert = entry();
    const recovery = entry({ kind: 'recovery', id: `e${++seq}-recovery-Missed` });
    const res = await reservation('ordered', [slackTo('ordered')], [alert, recovery]);
    receiver.script(['server_error']); // the alert fails once; the recovery must wait for it
    const { d } = dispatcher();
    d.sync(res);
    await receiver.waitFor(delivered('ordered').length + 2, { delivered: true });
    await idle(d);
    expect(received('ordered').map((r) => (r.body as { text: string }).text.split(':')[0])).toEqual(['[GoTel] Missed', '[GoTel] Missed', '[GoTel] Recovered']);
    expect((await outboxOf('ordered')).map((x) => x.deliveredTime !== undefined)).toEqual([true, true]);
  });

  it('after a stop in the middle of a held send, a fresh dispatcher delivers the entry exactly once', async () => {
    await secret('restart', { url: receiver.urlFor('restart') });
    const e = entry();
    const res = await reservation('restart', [slackTo('restart')], [e]);
    receiver.script(['hold']);
    const { d: first } = dispatcher();
    first.sync(res);
    await eventually(() => Promise.resolve(received('restart').length === 1), 20_000, 'the held request');
    await first.stop({ timeoutMs: 100 }); // the process goes away while the receiver holds the request
    await eventually(() => Promise.resolve(received('restart')[0]!.abandoned), 20_000, 'the held request to be abandoned');
    expect(delivered('restart')).toHaveLength(0);
    const pending = await outboxOf('restart');
    expect(pending[0]!.deliveredTime).toBeUndefined();
    expect(pending[0]!.failedPermanently).toBeUndefined();

    const { d: second } = dispatcher();
    second.sync(await stored('restart'));
    await receiver.waitFor(receiver.delivered.length + 1, { delivered: true });
    await idle(second);
    // A third process (another restart) offered an old copy sends nothing more.
    const { d: third } = dispatcher();
    third.sync(res);
    await idle(third);
    expect(received('restart')).toHaveLength(2);
    expect(delivered('restart')).toHaveLength(1);
    expect((await outboxOf('restart'))[0]).toMatchObject({ deliveredTo: ['slack'], attempts: 1 });
  });

  it("makes every Reservation sending to a URL wait out that URL's Retry-After", async () => {
    await secret('shared', { url: receiver.urlFor('shared') });
    const a = await reservation('shared-a', [slackTo('shared')], [entry()]);
    const b = await reservation('shared-b', [slackTo('shared')], [entry()]);
    receiver.script([{ retryAfter: 1 }]);
    const { d } = dispatcher();
    d.sync(a);
    await eventually(() => Promise.resolve(received('shared').length === 1), 20_000, 'the 429');
    d.sync(b);
    await receiver.waitFor(receiver.delivered.length + 2, { delivered: true });
    await idle(d);
    const got = received('shared');
    expect(got.map((r) => r.status)).toEqual([429, 200, 200]);
    for (const later of got.slice(1)) expect(later.time.getTime() - got[0]!.time.getTime()).toBeGreaterThanOrEqual(950);
  });

  it('does not send again when recording a delivery fails: it retries the status write', async () => {
    await secret('unrecorded', { url: receiver.urlFor('unrecorded') });
    const res = await reservation('unrecorded', [slackTo('unrecorded')], [entry()]);
    // A writer whose first write after the send fails, as during an apiserver outage.
    let failures = 0;
    class FailingOnce extends StatusWriter {
      override update(...args: Parameters<StatusWriter['update']>): ReturnType<StatusWriter['update']> {
        if (received('unrecorded').length > 0 && failures === 0) {
          failures++;
          return Promise.reject(new Error('apiserver unavailable'));
        }
        return super.update(...args);
      }
    }
    const { d } = dispatcher({ writer: new FailingOnce(rest) });
    d.sync(res);
    const [marked] = await eventually(async () => ((await outboxOf('unrecorded'))[0]?.deliveredTime ? outboxOf('unrecorded') : undefined));
    await idle(d);
    expect(failures).toBe(1);
    expect(received('unrecorded')).toHaveLength(1);
    expect(marked).toMatchObject({ deliveredTo: ['slack'], attempts: 1 });
  });
});
