// Sends one message to a Slack incoming webhook through @slack/webhook and classifies the answer.
//
// @slack/webhook 8 uses fetch (not axios). On a non-2xx answer it throws IncomingWebhookHTTPError
// carrying statusCode and body (Slack's error string, e.g. `no_service`) but not the headers, and
// on no answer IncomingWebhookRequestError wrapping fetch's error. It retries nothing by default
// (retryConfig.retries = 0), which is what we want: the dispatcher owns retries so that they
// survive restarts and honour Retry-After. To read Retry-After we hand it a fetch that remembers
// the response it saw.
import { IncomingWebhook, IncomingWebhookHTTPError, IncomingWebhookRequestError, type FetchFunction } from '@slack/webhook';
import { classifyHttp, classifyNetworkError, type SendOutcome } from './classify.ts';
import type { SlackMessage } from './render.ts';
import { systemClock, type Clock } from '../util/clock.ts';

export interface SendOptions {
  /** Aborts the request (shutdown). */
  signal?: AbortSignal;
  /** Gives up waiting for an answer after this long (a transient error). Default 15 s. */
  timeoutMs?: number;
  /** Clock for Retry-After dates. */
  clock?: Clock;
}

export const DEFAULT_SEND_TIMEOUT_MS = 15_000;

export async function sendSlack(url: string, message: SlackMessage, options: SendOptions = {}): Promise<SendOutcome> {
  const clock = options.clock ?? systemClock;
  let retryAfter: string | null = null;
  const fetchFn: FetchFunction = async (input, init) => {
    const signals = [AbortSignal.timeout(options.timeoutMs ?? DEFAULT_SEND_TIMEOUT_MS)];
    if (options.signal) signals.push(options.signal);
    if (init?.signal) signals.push(init.signal);
    const response = await fetch(input, { ...init, signal: AbortSignal.any(signals) });
    retryAfter = response.headers.get('retry-after');
    return response;
  };
  const webhook = new IncomingWebhook(url, { fetch: fetchFn, retryConfig: { retries: 0 } });
  try {
    await webhook.send({ text: message.text, blocks: message.blocks });
    return { kind: 'delivered', status: 200 };
  } catch (err) {
    if (err instanceof IncomingWebhookHTTPError) return classifyHttp(err.statusCode, err.body, retryAfter, clock().getTime());
    if (err instanceof IncomingWebhookRequestError) return classifyNetworkError(err.original);
    return classifyNetworkError(err);
  }
}
