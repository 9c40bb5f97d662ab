// HTTP check-ins, served by every replica (leader or not) on the operator's --listen address:
//
//   GET|POST /checkin/{namespace}/{name}            success
//   GET|POST /checkin/{namespace}/{name}/start      a run started
//   GET|POST /checkin/{namespace}/{name}/fail       a run failed
//   GET|POST /checkin/{namespace}/{name}/log        a message, no judgement
//   GET|POST /checkin/{namespace}/{name}/{0..255}   a run ended with this exit code (0 = success)
//
//   POST /snooze/{namespace}/{name}?for=2h          spec.snoozeUntil = now + 2h (RBAC verb snooze; snooze.ts)
//
// HEAD is taken like GET (Healthchecks' convention: uptime tools ping with HEAD); its answer has
// the same status and headers, without a body.
//
// `?rid=` pairs a start with its end; the body is a message (text) or a JSON object with runId,
// message, exitCode, durationSeconds. The answer is 2xx only once the apiserver holds the check-in
// (in the Reservation's status, or under load in the check-in journal: see store.ts), and says what
// GoTel now thinks; every refusal is a JSON error.
import { systemClock, type Clock } from '../util/clock.ts';
import express, { type Request, type Response, type Router } from 'express';
import type { Logger } from '../log.ts';
import { silentLogger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { Signal } from '../api/reservation.ts';
import { CheckinError, type CheckinInput } from '../core/index.ts';
import type { KubeRest } from '../k8s/rest.ts';
import type { StatusWriter } from '../k8s/status-writer.ts';
import { Authenticator, type AuthOptions } from './auth.ts';
import { createClientLimiter, type ClientLimitOptions } from './client-limits.ts';
import { DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_MESSAGE_BYTES, parseCheckinBody, readBody } from './body.ts';
import { HttpError, badRequest, fromKubeError, jsonErrorHandler, jsonNotFound, sendError } from './errors.ts';
import { createGotelApiRouter, gotelCheckinHandler, type GotelApiOptions } from './gotel-api.ts';
import { ReservationLookup, type ReservationSource } from './lookup.ts';
import { DEFAULT_RATE_LIMIT, RateLimiter, type RateLimitOptions } from './rate-limit.ts';
import { createSnoozeRouter } from './snooze.ts';
import type { ShardJournal } from './journal.ts';
import { CheckinStore, verdictOf } from './store.ts';
import type { CronJobOf } from '../core/index.ts';

export interface CheckinRouterDeps {
  /** Keep-alive REST client (reads, TokenReview, SubjectAccessReview, Secrets). */
  rest: KubeRest;
  /** The shared status writer (the reconciler uses the same instance). */
  writer: StatusWriter;
  metrics?: Metrics;
  logger?: Logger;
  /** A check-in was answered 503: GoTel could not take it (the outage tracker dates outages by it). */
  onUnavailable?: () => void;
  /** The server's clock: the stored time of every check-in. */
  clock?: Clock;
  /** Messages are cut to this many UTF-8 bytes (default 10 kB). */
  maxMessageBytes?: number;
  /** Bodies larger than this are refused with 413 (default 64 kB). */
  maxBodyBytes?: number;
  /** Per-Reservation token bucket; `false` turns it off. Default 100/s, burst 1000. */
  rateLimit?: RateLimitOptions | false;
  auth?: AuthOptions;
  /** The operator's informer cache, to save a GET per check-in (optional). */
  reservations?: ReservationSource;
  /** This deployment's --selector: a Reservation it does not select is answered 404 NotInShard. */
  selector?: string;
  /** How long a Reservation read for authentication is reused without a source (default 2 s). */
  reservationCacheTtlMs?: number;
  /** GoTel's own API (`/reservation`, `/checkin`, `/snooze`, `/checkout`); off unless enabled. */
  gotelApi?: GotelApiOptions;
  /** The Reservation as the judge sees it (the operator's jobRef → CronJob schedule resolution). */
  cronJobOf?: CronJobOf;
  /** This replica's check-in journal: where a check-in goes when its status write must wait (src/checkin/store.ts). */
  journal?: ShardJournal;
  /** Status writes per second for check-ins before they go through the journal (default 5). */
  statusWritesPerSecond?: number;
  /** Per-client token bucket on check-in paths (client-limits.ts); off unless given (perSecond 0: off). */
  clientLimits?: ClientLimitOptions;
  /** A store made by the caller (to flush it on stop); else one is made from the fields above. */
  store?: CheckinStore;
}

const NAMESPACE_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export interface CheckinTarget {
  namespace: string;
  name: string;
  signal: Signal;
  exitCode?: number;
}

/** Parses the part of the path after `/checkin`; throws HttpError 400/404. */
export function parseCheckinPath(rest: string): CheckinTarget {
  const parts = rest.split('/');
  if (parts[0] !== '') throw new HttpError(404, 'NotFound', 'no such endpoint');
  parts.shift();
  if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop(); // a trailing slash
  if (parts.length < 2 || parts.length > 3) {
    throw new HttpError(404, 'NotFound', 'check-in paths are /checkin/{namespace}/{name}[/start|/fail|/log|/{exitCode}]');
  }
  const decoded = parts.map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      throw badRequest('MalformedPath', 'the path has an invalid percent-encoding');
    }
  });
  const [namespace, name, action] = decoded as [string, string, string | undefined];
  checkKey(namespace, name);
  if (action === undefined || action === 'success') return { namespace, name, signal: 'success' };
  if (action === 'start' || action === 'fail' || action === 'log') return { namespace, name, signal: action };
  if (/^\d{1,3}$/.test(action)) {
    const code = Number(action);
    if (code <= 255) return { namespace, name, signal: code === 0 ? 'success' : 'fail', exitCode: code };
    throw badRequest('InvalidExitCode', 'an exit code must be from 0 to 255');
  }
  throw new HttpError(404, 'NotFound', `unknown check-in "${action.slice(0, 40)}": use /start, /fail, /log or an exit code 0..255`);
}

function checkKey(namespace: string, name: string): void {
  if (namespace.length > 63 || !NAMESPACE_RE.test(namespace)) {
    throw badRequest('InvalidNamespace', 'the namespace must be a DNS-1123 label (lower-case letters, digits, "-", at most 63 characters)');
  }
  if (name.length > 253 || !NAME_RE.test(name)) {
    throw badRequest('InvalidName', 'the Reservation name must be a DNS-1123 subdomain (lower-case letters, digits, "-", ".", at most 253 characters)');
  }
}

/** `/{namespace}/{name}` (the rest of a path such as /snooze/...), validated; throws HttpError 400/404. */
export function parseReservationKey(rest: string, usage: string): { namespace: string; name: string } {
  const parts = rest.replace(/\/$/, '').split('/');
  if (parts.length !== 3 || parts[0] !== '') throw new HttpError(404, 'NotFound', `the path is ${usage}`);
  let namespace: string;
  let name: string;
  try {
    namespace = decodeURIComponent(parts[1]!);
    name = decodeURIComponent(parts[2]!);
  } catch {
    throw badRequest('MalformedPath', 'the path has an invalid percent-encoding');
  }
  checkKey(namespace, name);
  return { namespace, name };
}

function queryRunId(req: Request): string | undefined {
  const rid: unknown = (req.query as Record<string, unknown>).rid;
  if (rid === undefined) return undefined;
  if (typeof rid !== 'string') throw badRequest('InvalidRunId', 'give rid once, as a string');
  if (rid.length > 128) throw badRequest('InvalidRunId', 'rid must be at most 128 characters');
  return rid || undefined;
}

/** Everything the HTTP handlers share; also used by GoTel's API and the benchmark. */
export interface CheckinContext {
  deps: CheckinRouterDeps;
  log: Logger;
  now: () => Date;
  auth: Authenticator;
  lookup: ReservationLookup;
  limiter?: RateLimiter;
  store: CheckinStore;
  maxMessageBytes: number;
  maxBodyBytes: number;
}

export function createCheckinContext(deps: CheckinRouterDeps): CheckinContext {
  const now = deps.clock ?? systemClock;
  const rl = deps.rateLimit === undefined ? DEFAULT_RATE_LIMIT : deps.rateLimit;
  return {
    deps,
    log: deps.logger ?? silentLogger,
    now,
    auth: new Authenticator(deps.rest, { clock: () => now().getTime(), ...deps.auth }),
    lookup: new ReservationLookup(deps.rest, {
      clock: () => now().getTime(),
      ...(deps.reservations ? { source: deps.reservations } : {}),
      ...(deps.selector ? { selector: deps.selector } : {}),
      ...(deps.reservationCacheTtlMs !== undefined ? { ttlMs: deps.reservationCacheTtlMs } : {}),
    }),
    ...(rl ? { limiter: new RateLimiter(rl, () => now().getTime()) } : {}),
    store:
      deps.store ??
      new CheckinStore({
      writer: deps.writer,
      ...(deps.journal ? { journal: deps.journal } : {}),
      ...(deps.statusWritesPerSecond !== undefined ? { statusWritesPerSecond: deps.statusWritesPerSecond } : {}),
      ...(deps.cronJobOf ? { cronJobOf: deps.cronJobOf } : {}),
    }),
    maxMessageBytes: deps.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    maxBodyBytes: deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
  };
}

/** Answers a failed request and counts it. */
export function refuse(ctx: CheckinContext, res: Response, err: unknown, what: string): void {
  const httpErr = err instanceof HttpError ? err : err instanceof CheckinError ? badRequest('InvalidField', err.message) : fromKubeError(err, what);
  ctx.deps.metrics?.checkinErrors.inc({ code: String(httpErr.status) });
  if (httpErr.status === 503) ctx.deps.onUnavailable?.();
  if (httpErr.status >= 500) ctx.log.warn({ what, status: httpErr.status, err: httpErr.message }, 'check-in not stored');
  else ctx.log.debug({ what, status: httpErr.status, reason: httpErr.reason }, 'check-in refused');
  sendError(res, httpErr);
}

async function handleCheckin(ctx: CheckinContext, req: Request, res: Response, rest: string): Promise<void> {
  const target = parseCheckinPath(rest);
  const key = `${target.namespace}/${target.name}`;
  const body = parseCheckinBody(await readBody(req, ctx.maxBodyBytes), req.headers['content-type'], ctx.maxMessageBytes);
  const rid = queryRunId(req);

  // An unknown Reservation answers as an existing one would without valid credentials (auth.ts).
  const reservation = await ctx.lookup.get(target.namespace, target.name).catch((err: unknown) => {
    if (err instanceof HttpError && err.status === 404 && err.reason !== 'NotInShard') return ctx.auth.refuseUnknown(target.namespace, target.name, req.headers.authorization);
    throw err;
  });
  await ctx.auth.authorizeCheckin(reservation, req.headers.authorization);

  if (ctx.limiter) {
    const wait = ctx.limiter.take(key);
    if (wait > 0) throw new HttpError(429, 'RateLimited', `too many check-ins for ${key}; retry after ${wait}s`, { retryAfter: wait });
  }

  let signal = target.signal;
  const exitCode = target.exitCode ?? body.exitCode;
  // A plain success that reports a non-zero exit code is a failure.
  if (signal === 'success' && exitCode !== undefined && exitCode !== 0) signal = 'fail';
  const input: CheckinInput = {
    signal,
    source: body.source ?? 'http',
    ...(rid ?? body.runId ? { runId: rid ?? body.runId } : {}),
    ...(exitCode !== undefined ? { exitCode } : {}),
    ...(body.durationSeconds !== undefined ? { durationSeconds: body.durationSeconds } : {}),
    ...(body.message !== undefined ? { message: body.message } : {}),
  };
  const stored = await ctx.store.submit(target.namespace, target.name, input, ctx.now(), reservation);
  if (!stored.duplicate) ctx.deps.metrics?.checkins.inc({ signal });
  ctx.log.debug({ reservation: key, signal, runId: input.runId, duplicate: stored.duplicate }, 'check-in stored');
  res.status(200).json({
    ok: true,
    reservation: { namespace: target.namespace, name: target.name },
    checkin: stored.checkin,
    duplicate: stored.duplicate,
    storedIn: stored.storedIn,
    ...verdictOf(stored.reservation),
  });
}

/** The check-in routes (and GoTel's API when enabled), to mount at `/`. Unknown paths fall through. */
export function createCheckinRouter(deps: CheckinRouterDeps): Router {
  const ctx = createCheckinContext(deps);
  const router = express.Router();
  if (deps.clientLimits && deps.clientLimits.perSecond > 0) router.use(createClientLimiter(ctx, deps.clientLimits));
  if (deps.gotelApi?.enabled) {
    // GoTel's API check-in is the hot path: answered before the other routes are tried.
    const gotelCheckin = gotelCheckinHandler(ctx, deps.gotelApi);
    router.use((req, res, next) => {
      if (req.method !== 'POST' || req.url !== '/checkin') return next();
      gotelCheckin(req, res).catch((err: unknown) => refuse(ctx, res, err, 'gotel-api /checkin'));
    });
  }
  router.use(createSnoozeRouter(ctx));
  if (deps.gotelApi?.enabled) router.use(createGotelApiRouter(ctx, deps.gotelApi));
  router.use((req, res, next) => {
    const path = req.path;
    if (path !== '/checkin' && !path.startsWith('/checkin/')) return next();
    if (path === '/checkin' || path === '/checkin/') {
      return sendError(res, new HttpError(404, 'NotFound', 'check-in paths are /checkin/{namespace}/{name}[/start|/fail|/log|/{exitCode}]'));
    }
    if (req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'POST') {
      ctx.deps.metrics?.checkinErrors.inc({ code: '405' });
      return sendError(res, new HttpError(405, 'MethodNotAllowed', `${req.method.slice(0, 20)} is not allowed; use GET, HEAD or POST`, { headers: { Allow: 'GET, HEAD, POST' } }));
    }
    handleCheckin(ctx, req, res, path.slice('/checkin'.length)).catch((err: unknown) => refuse(ctx, res, err, req.path.slice(0, 300)));
  });
  return router;
}

/** An express app with the check-in routes and JSON 404/error handlers (tests, benchmarks, or a base for the operator's server). */
export function createCheckinApp(deps: CheckinRouterDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(createCheckinRouter(deps));
  app.use(jsonNotFound);
  app.use(jsonErrorHandler);
  return app;
}
