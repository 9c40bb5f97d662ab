// Per-client limits on check-ins (README, "Per-client limits"): a token bucket per client, so one
// noisy client (a retry loop, a fleet sharing one token) gets 429 with Retry-After while every
// other client's check-ins go on. It runs before anything that costs (body, lookup, TokenReview).
//
// Who a client is, cheaply and without trusting what it claims:
// - a bearer token that passed a check-in's authorization lately (the Authenticator remembers
//   it): that token;
// - any other bearer token: "unverified tokens from this address", one bucket per source address,
//   so a stream of made-up tokens cannot buy a fresh bucket per request, and a new valid token
//   from an address whose anonymous clients are noisy still gets in;
// - no token: its source address. Behind a proxy that hides addresses, anonymous clients share
//   one bucket: give them tokens, or raise the limit.
// The metric says only which kind of identity was throttled (never an address or a token).
import type { Request, RequestHandler } from 'express';
import { ConfigError } from '../operator/config.ts';
import { bearerToken } from './auth.ts';
import { HttpError, sendError } from './errors.ts';
import { RateLimiter } from './rate-limit.ts';
import type { CheckinContext } from './router.ts';

export interface ClientLimitOptions {
  /** Sustained check-ins per second per client; 0 turns the limit off. */
  perSecond: number;
  /** How many a client may send at once. */
  burst: number;
}

/**
 * Off unless asked for: on one host (tests, benchmarks, `npm start`) every client shares the
 * loopback address. The Helm chart turns it on (values.yaml `clientCheckinLimit`: 200/s, bursts of 1000).
 */
export const DEFAULT_CLIENT_LIMIT: ClientLimitOptions = { perSecond: 0, burst: 1000 };

/** --client-checkin-rate and --client-checkin-burst, as the operator's flags give them. */
export function clientLimitConfig(opts: Record<string, unknown>): ClientLimitOptions {
  const number = (value: unknown, flag: string, fallback: number, min: number): number => {
    if (value === undefined || value === '') return fallback;
    const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
    if (!Number.isFinite(n) || n < min) throw new ConfigError(`${flag}: ${JSON.stringify(value)} is not a number (${min} or more)`);
    return n;
  };
  return {
    perSecond: number(opts.clientCheckinRate, '--client-checkin-rate', DEFAULT_CLIENT_LIMIT.perSecond, 0),
    burst: Math.floor(number(opts.clientCheckinBurst, '--client-checkin-burst', DEFAULT_CLIENT_LIMIT.burst, 1)),
  };
}

type Kind = 'token' | 'address';

/** The bucket a request draws from, and the kind of identity it is (the metric's label). */
function clientOf(ctx: CheckinContext, req: Request): { key: string; by: Kind } {
  const address = req.socket.remoteAddress ?? 'unknown';
  let token: string | undefined;
  try {
    token = bearerToken(req.headers.authorization);
  } catch {
    // A malformed header is refused later with 401; it draws from its address's bucket.
  }
  if (token === undefined) return { key: `a:${address}`, by: 'address' };
  const vouched = ctx.auth.vouchedKey(token);
  if (vouched !== undefined) return { key: `t:${vouched}`, by: 'token' };
  return { key: `u:${address}`, by: 'address' };
}

/** Middleware for the check-in paths (`/checkin...`); other paths pass untouched. */
export function createClientLimiter(ctx: CheckinContext, options: ClientLimitOptions): RequestHandler {
  const limiter = new RateLimiter(options, () => ctx.now().getTime());
  return (req, res, next) => {
    if (!req.path.startsWith('/checkin')) return next();
    const client = clientOf(ctx, req);
    const wait = limiter.take(client.key);
    if (wait === 0) return next();
    ctx.deps.metrics?.checkinsThrottled.inc({ by: client.by });
    ctx.deps.metrics?.checkinErrors.inc({ code: '429' });
    sendError(res, new HttpError(429, 'ClientRateLimited', `too many check-ins from this client (more than ${options.perSecond}/s, bursts of ${options.burst}); retry after ${wait}s`, { retryAfter: wait }));
  };
}
