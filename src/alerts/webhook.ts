// The generic webhook receiver: one JSON POST of the payload render.ts documents, classified like
// Slack's answers (2xx delivered; 429 and 5xx and no answer transient; other 4xx permanent).
// Headers: `Content-Type: application/json`, `User-Agent: gotel`, and `Idempotency-Key` (the same
// for every attempt of one notification, so a receiver can drop the rare repeat).
import { classifyHttp, classifyNetworkError, type SendOutcome } from './classify.ts';
import type { WebhookPayload } from './render.ts';
import { DEFAULT_SEND_TIMEOUT_MS, type SendOptions } from './slack.ts';

export async function sendWebhook(url: string, payload: WebhookPayload, options: SendOptions = {}): Promise<SendOutcome> {
  const now = options.now ?? Date.now;
  const signals = [AbortSignal.timeout(options.timeoutMs ?? DEFAULT_SEND_TIMEOUT_MS)];
  if (options.signal) signals.push(options.signal);
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'User-Agent': 'gotel', 'Idempotency-Key': payload.id },
      body: JSON.stringify(payload),
      redirect: 'manual',
      signal: AbortSignal.any(signals),
    });
    const body = await response.text();
    return classifyHttp(response.status, body, response.headers.get('retry-after'), now());
  } catch (err) {
    return classifyNetworkError(err);
  }
}
