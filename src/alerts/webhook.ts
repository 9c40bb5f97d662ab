// The generic webhook receiver: one JSON POST of the payload render.ts documents, classified like
// Slack's answers (2xx delivered; 429 and 5xx and no answer transient; other 4xx permanent).
// Headers: `Content-Type: application/json`, `User-Agent: gotel`, and `Idempotency-Key` (the same
// for every attempt of one notification, so a receiver can drop the rare repeat).
import { classifyHttp, classifyNetworkError, type SendOutcome } from './classify.ts';
import type { WebhookPayload } from './render.ts';
import { DEFAULT_SEND_TIMEOUT_MS, type SendOptions } from './slack.ts';
import { systemClock } from '../util/clock.ts';

export async function sendWebhook(url: string, payload: WebhookPayload, options: SendOptions = {}): Promise<SendOutcome> {
  return postJson(url, payload, { 'Idempotency-Key': payload.id }, options);
}

/**
 * POSTs `body` as JSON (`User-Agent: gotel`, no redirects, the send timeout) and classifies the
 * answer; `describe` turns the receiver's answer into the one line an error shows.
 */
export async function postJson(url: string, body: unknown, headers: Record<string, string>, options: SendOptions = {}, describe: (answer: string) => string = (a) => a): Promise<SendOutcome> {
  const clock = options.clock ?? systemClock;
  const signals = [AbortSignal.timeout(options.timeoutMs ?? DEFAULT_SEND_TIMEOUT_MS)];
  if (options.signal) signals.push(options.signal);
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'User-Agent': 'gotel', ...headers },
      body: JSON.stringify(body),
      redirect: 'manual',
      signal: AbortSignal.any(signals),
    });
    const answer = await response.text();
    return classifyHttp(response.status, describe(answer), response.headers.get('retry-after'), clock().getTime());
  } catch (err) {
    return classifyNetworkError(err);
  }
}
