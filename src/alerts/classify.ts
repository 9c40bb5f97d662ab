// What a receiver's answer means for the outbox: delivered, try again later, or give up.
//
// - 2xx: delivered.
// - 429: transient; `Retry-After` (seconds or an HTTP date) says when to try again.
// - 408, 425, 5xx, and no answer at all (connection refused, reset, timeout): transient, retried
//   with exponential backoff.
// - Every other 4xx, notably Slack's 400 invalid_payload, 403 invalid_token / action_prohibited,
//   404 no_service / channel_not_found, 410 channel_is_archived: permanent. Trying again cannot
//   help; the outbox entry is marked failedPermanently and the Reservation says why.

export type SendOutcome =
  | { kind: 'delivered'; status: number }
  | {
      kind: 'transient';
      /** HTTP status, or undefined when no answer came. */
      status?: number;
      /** What went wrong, short (`HTTP 500 internal_error`, `ECONNREFUSED`). */
      error: string;
      /** From Retry-After, when the receiver said when to come back. */
      retryAfterMs?: number;
    }
  | { kind: 'permanent'; status?: number; error: string };

/** Slack's error strings (the response body) and what they mean, for messages people read. */
export const SLACK_ERRORS: Readonly<Record<string, string>> = {
  invalid_payload: 'Slack rejected the message as malformed',
  invalid_token: 'the webhook URL is no longer valid (revoked or mistyped)',
  action_prohibited: 'an admin has restricted posting to this channel',
  no_service: 'the webhook is disabled, removed or invalid',
  no_service_id: 'the webhook URL is incomplete',
  no_team: 'the Slack workspace does not exist or was deleted',
  team_disabled: 'the Slack workspace is disabled',
  channel_not_found: 'the channel does not exist',
  channel_is_archived: 'the channel is archived',
  user_not_found: 'the user does not exist',
  posting_to_general_channel_denied: 'posting to #general is restricted',
  too_many_attachments: 'the message has too many attachments',
  rollup_error: 'Slack had an internal error',
};

/** Retry-After as milliseconds from `now`: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const date = Date.parse(v);
  if (Number.isFinite(date)) return Math.max(0, date - now);
  return undefined;
}

/** Short text of an answer's body: the first line, at most 200 characters. */
export function briefBody(body: string | undefined): string {
  const line = (body ?? '').trim().split('\n')[0] ?? '';
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}

/** Classifies an HTTP answer. */
export function classifyHttp(status: number, body: string | undefined, retryAfter: string | null | undefined, now: number): SendOutcome {
  if (status >= 200 && status < 300) return { kind: 'delivered', status };
  const said = briefBody(body);
  const explained = SLACK_ERRORS[said];
  const error = `HTTP ${status}${said ? ` ${said}` : ''}${explained ? ` (${explained})` : ''}`;
  if (status === 429) {
    const retryAfterMs = parseRetryAfter(retryAfter, now);
    return retryAfterMs === undefined ? { kind: 'transient', status, error } : { kind: 'transient', status, error, retryAfterMs };
  }
  if (status === 408 || status === 425 || status >= 500) return { kind: 'transient', status, error };
  // 3xx are not followed (a webhook that redirects is misconfigured), other 4xx cannot succeed later.
  return { kind: 'permanent', status, error };
}

/** Classifies a request that got no answer (DNS, refused, reset, timeout): always transient. */
export function classifyNetworkError(err: unknown): SendOutcome {
  return { kind: 'transient', error: `no answer: ${describeNetworkError(err)}` };
}

/** The most telling part of an error's cause chain: `ECONNREFUSED`, `timed out`, the innermost message. */
export function describeNetworkError(err: unknown): string {
  let message: string | undefined;
  for (let e: unknown = err, depth = 0; e && depth < 6; depth++) {
    const x = e as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown };
    if (x.name === 'TimeoutError') return 'timed out waiting for an answer';
    if (x.name === 'AbortError') return 'aborted';
    if (typeof x.code === 'string' && !x.code.startsWith('slack_')) return x.code;
    if (typeof x.message === 'string' && x.message) message = x.message;
    e = x.cause;
  }
  return message ?? String(err);
}
