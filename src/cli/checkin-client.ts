// The client side of check-ins, shared by `gotel checkin`, `gotel run` and `gotel sidecar`: where
// GoTel is and which token to send (flags, GOTEL_URL / GOTEL_TOKEN, or the pod's ServiceAccount
// token file), and sending one check-in with retries and backoff.
import { existsSync, readFileSync } from 'node:fs';

export const SA_TOKEN_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/token';
export const SA_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

export interface ClientFlags {
  url?: string;
  token?: string;
  tokenFile?: string;
  retries?: string;
  timeout?: string;
}

export interface ClientConfig {
  url?: string;
  /** Read on every request: projected ServiceAccount tokens rotate. */
  token: () => string | undefined;
  retries: number;
  timeoutMs: number;
  /** First retry delay; doubles each time (with jitter), capped at 10 s. */
  backoffMs: number;
}

export class UsageError extends Error {}

export function clientConfig(flags: ClientFlags, env: NodeJS.ProcessEnv = process.env): ClientConfig {
  const url = (flags.url ?? env.GOTEL_URL)?.replace(/\/+$/, '') || undefined;
  if (url !== undefined) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new UsageError(`not a URL: ${url}`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new UsageError(`the GoTel URL must be http(s): ${url}`);
  }
  const fixed = flags.token ?? env.GOTEL_TOKEN;
  const file = flags.tokenFile ?? env.GOTEL_TOKEN_FILE ?? (existsSync(SA_TOKEN_FILE) ? SA_TOKEN_FILE : undefined);
  const token = (): string | undefined => {
    if (fixed) return fixed.trim();
    if (!file) return undefined;
    try {
      return readFileSync(file, 'utf8').trim() || undefined;
    } catch {
      return undefined;
    }
  };
  const retries = flags.retries === undefined ? Number(env.GOTEL_RETRIES ?? 5) : Number(flags.retries);
  if (!Number.isInteger(retries) || retries < 0 || retries > 100) throw new UsageError('--retries must be a whole number from 0 to 100');
  const timeoutS = flags.timeout === undefined ? 10 : Number(flags.timeout);
  if (!(timeoutS > 0)) throw new UsageError('--timeout must be a number of seconds greater than 0');
  return { ...(url ? { url } : {}), token, retries, timeoutMs: timeoutS * 1000, backoffMs: 500 };
}

/** `NS/NAME`, or `NAME` in GOTEL_NAMESPACE or the pod's own namespace. */
export function parseReservationRef(ref: string, env: NodeJS.ProcessEnv = process.env): { namespace: string; name: string } {
  const parts = ref.split('/');
  if (parts.length === 2 && parts[0] && parts[1]) return { namespace: parts[0], name: parts[1] };
  if (parts.length === 1 && parts[0]) {
    let namespace = env.GOTEL_NAMESPACE;
    if (!namespace && existsSync(SA_NAMESPACE_FILE)) namespace = readFileSync(SA_NAMESPACE_FILE, 'utf8').trim();
    if (namespace) return { namespace, name: parts[0] };
  }
  throw new UsageError(`the Reservation must be given as NAMESPACE/NAME (got "${ref}")`);
}

export type CheckinKind = 'success' | 'start' | 'fail' | 'log' | number;

export interface CheckinRequest {
  namespace: string;
  name: string;
  kind: CheckinKind;
  runId?: string;
  message?: string;
  durationSeconds?: number;
  source?: 'cli' | 'sidecar';
}

export interface CheckinAnswer {
  status: number;
  body: Record<string, unknown>;
}

export class CheckinFailed extends Error {
  readonly status?: number;
  constructor(message: string, status?: number) {
    super(message);
    this.name = 'CheckinFailed';
    if (status !== undefined) this.status = status;
  }
}

export function checkinPath(req: Pick<CheckinRequest, 'namespace' | 'name' | 'kind'>): string {
  const suffix = req.kind === 'success' ? '' : `/${req.kind}`;
  return `/checkin/${encodeURIComponent(req.namespace)}/${encodeURIComponent(req.name)}${suffix}`;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Sends one check-in; retries network errors, 429 and 5xx with exponential backoff (honouring
 * Retry-After), never 4xx. Resolves with GoTel's answer; rejects with CheckinFailed.
 */
export async function sendCheckin(cfg: ClientConfig, req: CheckinRequest, onRetry?: (why: string, delayMs: number) => void): Promise<CheckinAnswer> {
  if (!cfg.url) throw new CheckinFailed('no GoTel URL: give --url or set GOTEL_URL');
  const url = cfg.url + checkinPath(req) + (req.runId ? `?rid=${encodeURIComponent(req.runId)}` : '');
  const body = JSON.stringify({
    ...(req.runId ? { runId: req.runId } : {}),
    ...(req.message ? { message: req.message } : {}),
    ...(req.durationSeconds !== undefined ? { durationSeconds: Math.round(req.durationSeconds * 1000) / 1000 } : {}),
    source: req.source ?? 'cli',
  });
  let last: string;
  for (let attempt = 0; ; attempt++) {
    let retryAfterMs: number | undefined;
    try {
      const token = cfg.token();
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'User-Agent': 'gotel-cli', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
        body,
        signal: AbortSignal.timeout(cfg.timeoutMs),
      });
      const text = await res.text();
      let parsed: Record<string, unknown> = {};
      try {
        parsed = JSON.parse(text) as Record<string, unknown>;
      } catch {
        parsed = { raw: text.slice(0, 500) };
      }
      if (res.ok) return { status: res.status, body: parsed };
      const err = (parsed.error ?? {}) as { reason?: string; message?: string };
      last = `HTTP ${res.status}${err.reason ? ` ${err.reason}` : ''}: ${err.message ?? text.slice(0, 200)}`;
      if (res.status !== 429 && res.status < 500) throw new CheckinFailed(last, res.status);
      const ra = Number(res.headers.get('retry-after'));
      if (Number.isFinite(ra) && ra > 0) retryAfterMs = Math.min(ra, 60) * 1000;
    } catch (err) {
      if (err instanceof CheckinFailed) throw err;
      last = describeNetworkError(err);
    }
    if (attempt >= cfg.retries) throw new CheckinFailed(`gave up after ${attempt + 1} attempt${attempt ? 's' : ''}: ${last}`);
    const backoff = Math.min(cfg.backoffMs * 2 ** attempt, 10_000);
    const delay = retryAfterMs ?? Math.round(backoff * (0.75 + Math.random() * 0.5));
    onRetry?.(last, delay);
    await sleep(delay);
  }
}

/** `fetch failed` says little: name the cause (ECONNREFUSED 127.0.0.1:8080, a timeout, ...). */
function describeNetworkError(err: unknown): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return `no answer within the timeout (${err.message})`;
  type Cause = { code?: string; message?: string; errors?: Cause[] };
  const cause = (err as { cause?: Cause }).cause;
  const inner = cause?.errors?.[0] ?? cause;
  if (inner?.code) return `${inner.code}${inner.message ? `: ${inner.message}` : ''}`;
  if (inner?.message) return inner.message;
  return err instanceof Error ? err.message : String(err);
}
