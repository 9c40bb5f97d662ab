// A loopback Slack-compatible incoming-webhook receiver (127.0.0.1, a free port) for tests and the
// `npm start` demo. It records every request (parsed JSON body, path, time) and answers as
// scripted, one action per request in order, then `ok`:
//   'ok'                   200 `ok` (what Slack answers)
//   { retryAfter: N }      429 `rate_limited` with `Retry-After: N`
//   'server_error'         500 `internal_error`
//   'no_service'           404 `no_service`
//   'invalid_token'        403 `invalid_token`
//   'invalid_payload'      400 `invalid_payload`
//   'channel_is_archived'  410 `channel_is_archived`
//   { status, body?, headers? }  anything else
//   'hold'                 never answer (until release() or close()); the request counts as
//                          received, not delivered: a stand-in for a process killed mid-send
//   'drop'                 close the connection without an answer (received, not delivered)
// With `mode`, a function asked for each request no scripted action is queued for, the receiver
// can fail for stretches of time (bench/soak.ts); undefined from it means the usual answer.
// `received` has every request; `delivered` only those answered 2xx (the response fully written).
// With `rateLimit: { perSecond, burst }` it limits each path as Slack limits a webhook: a request
// beyond the rate (when no scripted action is queued) gets 429 `rate_limited` with Retry-After
// (whole seconds until a token is back).
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TokenBucket } from '../util/token-bucket.ts';

export type ReceiverAction =
  | 'ok'
  | 'hold'
  | 'drop'
  | 'server_error'
  | 'no_service'
  | 'invalid_token'
  | 'invalid_payload'
  | 'channel_is_archived'
  | { retryAfter: number }
  | { status: number; body?: string; headers?: Record<string, string> };

export interface ReceivedRequest {
  /** When the request (its whole body) arrived. */
  time: Date;
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** The body parsed as JSON, or the raw text when it is not JSON. */
  body: unknown;
  /** The status it was answered with; undefined while held (or when the client went away). */
  status?: number;
  /** When the answer was fully written. */
  answeredTime?: Date;
  /** The client gave up before an answer (a held request whose sender stopped or died). */
  abandoned?: boolean;
}

export interface SlackReceiver {
  /** `http://127.0.0.1:PORT/services/T000/B000/XXXX`: a Slack-looking webhook URL. */
  readonly url: string;
  /** The same server under another path, to tell receivers apart (`r.urlFor('team-b')`). */
  urlFor(path: string): string;
  /** Queues actions for the next requests, in order (appended to what is queued). */
  script(actions: ReceiverAction[]): void;
  readonly received: readonly ReceivedRequest[];
  readonly delivered: readonly ReceivedRequest[];
  /** Resolves once `n` requests were received (or, with `{ delivered: true }`, answered 2xx). */
  waitFor(n: number, options?: { delivered?: boolean; timeoutMs?: number }): Promise<ReceivedRequest[]>;
  /** Answers every held request with 200 `ok`. */
  release(): void;
  /** Called for each request once it is answered (or held): the demo prints from here. */
  onRequest?: (request: ReceivedRequest) => void;
  close(): Promise<void>;
}

const NAMED: Record<string, { status: number; body: string }> = {
  ok: { status: 200, body: 'ok' },
  server_error: { status: 500, body: 'internal_error' },
  no_service: { status: 404, body: 'no_service' },
  invalid_token: { status: 403, body: 'invalid_token' },
  invalid_payload: { status: 400, body: 'invalid_payload' },
  channel_is_archived: { status: 410, body: 'channel_is_archived' },
};

export interface SlackReceiverOptions {
  script?: ReceiverAction[];
  onRequest?: (request: ReceivedRequest) => void;
  /** Per path, like Slack's limit per webhook: beyond it, 429 with Retry-After. */
  rateLimit?: { perSecond: number; burst: number };
  /** Asked for each request with no scripted action queued, before the rate limit. */
  mode?: (request: ReceivedRequest) => ReceiverAction | undefined;
}

/**
 * Starts the loopback Slack-compatible receiver. Long because it is one HTTP handler speaking
 * Slack's answers (200 ok, 404 no_service, 429 with Retry-After, scripted failures) in order.
 */
export async function startSlackReceiver(options: SlackReceiverOptions = {}): Promise<SlackReceiver> {
  const queue: ReceiverAction[] = [...(options.script ?? [])];
  const buckets = new Map<string, TokenBucket>();
  /** The rate limit's answer for a request to `path` now: undefined when it may pass. */
  const limited = (path: string): ReceiverAction | undefined => {
    const limit = options.rateLimit;
    if (!limit) return undefined;
    const now = Date.now();
    let bucket = buckets.get(path);
    if (!bucket) buckets.set(path, (bucket = new TokenBucket(limit.burst, now)));
    if (bucket.take(now, limit.perSecond)) return undefined;
    return { retryAfter: Math.max(1, Math.ceil(bucket.waitMs(limit.perSecond) / 1000)) };
  };
  const received: ReceivedRequest[] = [];
  const delivered: ReceivedRequest[] = [];
  const held = new Map<ServerResponse, ReceivedRequest>();
  const waiters = new Set<() => void>();
  const notify = (): void => {
    for (const w of [...waiters]) w();
  };

  const answer = (res: ServerResponse, rec: ReceivedRequest, status: number, body: string, headers: Record<string, string> = {}): void => {
    held.delete(res);
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
    res.end(body, () => {
      rec.status = status;
      rec.answeredTime = new Date();
      if (status >= 200 && status < 300) delivered.push(rec);
      notify();
    });
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // keep the text
      }
      const rec: ReceivedRequest = { time: new Date(), method: req.method ?? 'GET', path: req.url ?? '/', headers: { ...req.headers }, body };
      received.push(rec);
      const action = queue.shift() ?? options.mode?.(rec) ?? limited(rec.path) ?? 'ok';
      if (action === 'drop') {
        rec.abandoned = true;
        res.socket?.destroy();
        receiver.onRequest?.(rec);
        notify();
        return;
      }
      if (action === 'hold') {
        held.set(res, rec);
        res.on('close', () => {
          if (held.has(res)) {
            rec.abandoned = true;
            held.delete(res);
            notify();
          }
        });
        receiver.onRequest?.(rec);
        notify();
        return;
      }
      if (typeof action === 'string') {
        const a = NAMED[action]!;
        answer(res, rec, a.status, a.body);
      } else if ('retryAfter' in action) {
        answer(res, rec, 429, 'rate_limited', { 'Retry-After': String(action.retryAfter) });
      } else {
        answer(res, rec, action.status, action.body ?? '', action.headers);
      }
      receiver.onRequest?.(rec);
      notify();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const base = `http://127.0.0.1:${port}`;

  const receiver: SlackReceiver = {
    url: `${base}/services/T000/B000/XXXX`,
    urlFor: (path) => `${base}/${path.replace(/^\//, '')}`,
    script: (actions) => void queue.push(...actions),
    received,
    delivered,
    waitFor(n, opts = {}) {
      const list = opts.delivered ? delivered : received;
      const timeoutMs = opts.timeoutMs ?? 20_000;
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (list.length >= n) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve([...list]);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`slack receiver: waited ${timeoutMs}ms for ${n} ${opts.delivered ? 'delivered' : 'received'} requests, got ${list.length}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    release() {
      for (const [res, rec] of [...held]) answer(res, rec, 200, 'ok');
    },
    onRequest: options.onRequest,
    async close() {
      for (const [res, rec] of held) {
        rec.abandoned = true;
        res.destroy();
      }
      held.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return receiver;
}

/** What a Slack payload says, as terminal text: the fallback text, then each block's text. */
export function describeSlackPayload(body: unknown): string {
  if (typeof body !== 'object' || body === null) return String(body);
  const b = body as { text?: unknown; blocks?: unknown };
  const lines: string[] = [];
  if (typeof b.text === 'string') lines.push(b.text);
  if (Array.isArray(b.blocks)) {
    for (const block of b.blocks as { text?: { text?: unknown }; fields?: { text?: unknown }[]; elements?: { text?: unknown }[] }[]) {
      if (typeof block.text?.text === 'string') lines.push(block.text.text);
      for (const f of block.fields ?? []) if (typeof f.text === 'string') lines.push(f.text.replace('\n', ': '));
      for (const e of block.elements ?? []) if (typeof e.text === 'string') lines.push(e.text);
    }
  }
  return lines.join('\n');
}
