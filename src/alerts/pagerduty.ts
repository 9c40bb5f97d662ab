// The PagerDuty receiver: one Events API v2 event per notification (render.ts builds it: trigger
// for an alert or a renotify, resolve for a recovery, one dedup_key per Reservation), POSTed as
// JSON to `--pagerduty-events-url`.
//
// PagerDuty answers 202 `{"status":"success","dedup_key":…}`; 400 `{"status":"invalid event",
// "message":…,"errors":[…]}` for an event it will never take (a malformed or unknown routing key
// among them): permanent; 429 when the routing key sends too fast and 5xx when PagerDuty is in
// trouble: transient (Retry-After honoured when given); no answer at all: transient. The same
// rules as Slack and the generic webhook (classify.ts).
import type { SendOutcome } from './classify.ts';
import type { PagerDutyEvent } from './render.ts';
import type { SendOptions } from './slack.ts';
import { postJson } from './webhook.ts';

export async function sendPagerDuty(url: string, event: PagerDutyEvent, options: SendOptions = {}): Promise<SendOutcome> {
  return postJson(url, event, {}, options, describePagerDutyAnswer);
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
