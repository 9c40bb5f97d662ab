// The PagerDuty receiver: one Events API v2 event per notification (render.ts builds it: trigger
// for an alert or a renotify, resolve for a recovery, one dedup_key per Reservation), POSTed as
// JSON to `--pagerduty-events-url`.
//
// PagerDuty answers 202 `{"status":"success","dedup_key":…}`; 400 `{"status":"invalid event",
// "message":…,"errors":[…]}` for an event it will never take (a malformed or unknown routing key
// among them): permanent; 429 when the routing key sends too fast and 5xx when PagerDuty is in
// trouble: transient (Retry-After honoured when given); no answer at all: transient. The same
// rules as Slack and the generic webhook (classify.ts).
import { classifyHttp, classifyNetworkError, type SendOutcome } from './classify.ts';
import type { PagerDutyEvent } from './render.ts';
import { DEFAULT_SEND_TIMEOUT_MS, type SendOptions } from './slack.ts';

export async function sendPagerDuty(url: string, event: PagerDutyEvent, options: SendOptions = {}): Promise<SendOutcome> {
  const now = options.now ?? Date.now;
  const signals = [AbortSignal.timeout(options.timeoutMs ?? DEFAULT_SEND_TIMEOUT_MS)];
  if (options.signal) signals.push(options.signal);
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'User-Agent': 'gotel' },
      body: JSON.stringify(event),
      redirect: 'manual',
      signal: AbortSignal.any(signals),
    });
    const body = await response.text();
    return classifyHttp(response.status, describePagerDutyAnswer(body), response.headers.get('retry-after'), now());
  } catch (err) {
    return classifyNetworkError(err);
  }
}

/**
 * What PagerDuty said, in one line: `invalid event: Event object is invalid ('routing_key' is
 * invalid)` from its JSON answer; the body as it is when it is not PagerDuty's JSON.
 */
export function describePagerDutyAnswer(body: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return body;
  }
  if (!parsed || typeof parsed !== 'object') return body;
  const { status, message, errors } = parsed as { status?: unknown; message?: unknown; errors?: unknown };
  const parts = [typeof status === 'string' ? status : undefined, typeof message === 'string' ? message : undefined].filter(Boolean);
  const list = Array.isArray(errors) ? errors.filter((e): e is string => typeof e === 'string') : [];
  const text = `${parts.join(': ')}${list.length > 0 ? ` (${list.join('; ')})` : ''}`;
  return text || body;
}
