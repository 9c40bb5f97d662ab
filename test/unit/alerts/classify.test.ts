// Classification of receivers' answers, pure and through @slack/webhook against the loopback
// Slack-compatible receiver (what Slack answers: status + error string body + Retry-After).
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyHttp, classifyNetworkError, parseRetryAfter } from '../../../src/alerts/classify.ts';
import { sendSlack } from '../../../src/alerts/slack.ts';
import { sendWebhook } from '../../../src/alerts/webhook.ts';
import type { WebhookPayload } from '../../../src/alerts/render.ts';
import { startSlackReceiver, type SlackReceiver } from '../../../src/dev/slack-receiver.ts';

const NOW = Date.parse('2026-03-10T12:00:00Z');

describe('classifyHttp', () => {
  it.each([
    [200, 'ok', 'delivered'],
    [204, '', 'delivered'],
    [429, 'rate_limited', 'transient'],
    [408, '', 'transient'],
    [500, 'internal_error', 'transient'],
    [502, '', 'transient'],
    [503, '', 'transient'],
    [400, 'invalid_payload', 'permanent'],
    [401, '', 'permanent'],
    [403, 'invalid_token', 'permanent'],
    [403, 'action_prohibited', 'permanent'],
    [404, 'no_service', 'permanent'],
    [404, 'channel_not_found', 'permanent'],
    [410, 'channel_is_archived', 'permanent'],
    [413, '', 'permanent'],
    [302, '', 'permanent'],
  ] as const)('%i %s is %s', (status, body, kind) => {
    expect(classifyHttp(status, body, null, NOW).kind).toBe(kind);
  });

  it("names Slack's error string and explains it", () => {
    expect(classifyHttp(404, 'no_service', null, NOW)).toEqual({ kind: 'permanent', status: 404, error: 'HTTP 404 no_service (the webhook is disabled, removed or invalid)' });
  });

  it('honours Retry-After in seconds or as a date', () => {
    expect(classifyHttp(429, 'rate_limited', '30', NOW)).toMatchObject({ kind: 'transient', retryAfterMs: 30_000 });
    expect(parseRetryAfter('Tue, 10 Mar 2026 12:00:05 GMT', NOW)).toBe(5000);
    expect(parseRetryAfter('Tue, 10 Mar 2026 11:00:00 GMT', NOW)).toBe(0);
    expect(parseRetryAfter('soon', NOW)).toBeUndefined();
    expect(parseRetryAfter(null, NOW)).toBeUndefined();
    expect(classifyHttp(429, '', null, NOW)).not.toHaveProperty('retryAfterMs');
  });

  it('calls no answer transient and says why', () => {
    const err = new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }) });
    expect(classifyNetworkError(err)).toEqual({ kind: 'transient', error: 'no answer: ECONNREFUSED' });
  });
});

describe('sendSlack through @slack/webhook', () => {
  let r: SlackReceiver;
  beforeAll(async () => {
    r = await startSlackReceiver();
  });
  afterAll(async () => {
    await r.close();
  });

  const message = { text: 'hello', blocks: [{ type: 'section' as const, text: { type: 'mrkdwn' as const, text: 'hello' } }] };

  it('posts text and blocks and reports delivered', async () => {
    const before = r.received.length;
    expect(await sendSlack(r.url, message)).toEqual({ kind: 'delivered', status: 200 });
    expect(r.received[before]?.body).toEqual({ text: 'hello', blocks: message.blocks });
    expect(r.delivered).toContain(r.received[before]);
  });

  it('reads Retry-After from a 429', async () => {
    r.script([{ retryAfter: 7 }]);
    expect(await sendSlack(r.url, message)).toEqual({ kind: 'transient', status: 429, error: 'HTTP 429 rate_limited', retryAfterMs: 7000 });
  });

  it.each([
    ['server_error', 'transient', 500],
    ['no_service', 'permanent', 404],
    ['invalid_token', 'permanent', 403],
    ['invalid_payload', 'permanent', 400],
    ['channel_is_archived', 'permanent', 410],
  ] as const)('%s is %s', async (action, kind, status) => {
    r.script([action]);
    const outcome = await sendSlack(r.url, message);
    expect(outcome).toMatchObject({ kind, status });
    expect(outcome.kind !== 'delivered' && outcome.error).toContain(action === 'server_error' ? 'internal_error' : action);
  });

  it('calls a refused connection transient', async () => {
    const port = await freePort();
    expect(await sendSlack(`http://127.0.0.1:${port}/x`, message)).toEqual({ kind: 'transient', error: 'no answer: ECONNREFUSED' });
  });

  it('gives up on a held request after the timeout, as transient', async () => {
    r.script(['hold']);
    const outcome = await sendSlack(r.url, message, { timeoutMs: 200 });
    expect(outcome).toEqual({ kind: 'transient', error: 'no answer: timed out waiting for an answer' });
    await expect.poll(() => r.received.at(-1)?.abandoned).toBe(true);
  });

  it('answers held requests on release() and counts them delivered only then', async () => {
    r.script(['hold']);
    const sent = sendSlack(r.url, message);
    const [held] = (await r.waitFor(r.received.length + 1)).slice(-1);
    const deliveredBefore = r.delivered.length;
    expect(held!.status).toBeUndefined();
    r.release();
    expect(await sent).toEqual({ kind: 'delivered', status: 200 });
    await r.waitFor(deliveredBefore + 1, { delivered: true });
    expect(r.delivered.at(-1)).toBe(held);
  });

  it('sends the generic webhook payload with an Idempotency-Key', async () => {
    const payload = { id: 'uid/entry-1', kind: 'alert' } as WebhookPayload;
    expect(await sendWebhook(r.urlFor('hook'), payload)).toEqual({ kind: 'delivered', status: 200 });
    const got = r.received.at(-1)!;
    expect(got.path).toBe('/hook');
    expect(got.body).toEqual(payload);
    expect(got.headers['idempotency-key']).toBe('uid/entry-1');
    r.script([{ retryAfter: 2 }, 'no_service']);
    expect(await sendWebhook(r.urlFor('hook'), payload)).toMatchObject({ kind: 'transient', retryAfterMs: 2000 });
    expect(await sendWebhook(r.urlFor('hook'), payload)).toMatchObject({ kind: 'permanent', status: 404 });
  });
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
