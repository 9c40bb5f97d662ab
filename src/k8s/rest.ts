// A small REST client for the hot paths (status reads and writes, check-ins).
//
// Why not @kubernetes/client-node's generated APIs here: 2.0.1 builds a new undici Agent, so a new
// TLS connection, for every request (measured: 62-139 status patches/s against 550-585/s over one
// reused keep-alive connection). This client keeps one keep-alive connection pool per KubeConfig
// and takes credentials from the KubeConfig on every request (tokens may rotate).
import type { KubeCredentials } from './credentials.ts';
import { Agent, request, type RequestOptions } from 'node:https';
import { request as httpRequest, Agent as HttpAgent } from 'node:http';

export class KubeApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly body: unknown;
  constructor(code: number, reason: string, message: string, body: unknown) {
    super(message);
    this.name = 'KubeApiError';
    this.code = code;
    this.reason = reason;
    this.body = body;
  }
}

export interface RestRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  body?: unknown;
  contentType?: string;
  timeoutMs?: number;
  /**
   * `probe`: a small pool of its own, for health probes and the reads that confirm them. While
   * etcd is away every write hangs for up to 30 s and holds one of the shared pool's sockets; a
   * probe queued behind them would learn of the outage only when they time out.
   */
  pool?: 'probe';
  /**
   * Served before every waiting request that is not: the leader Lease's reads and renewals, which
   * must not wait behind a storm's thousands of status writes for longer than the Lease lasts.
   */
  urgent?: boolean;
}

/** Requests in flight per client: as many as the operator's work queue has workers (src/operator/operator.ts). */
export const REQUEST_CONCURRENCY = 16;

/**
 * Requests beyond REQUEST_CONCURRENCY wait here, as a callback each, before anything of theirs is
 * built. Left to the Agent, each waiting request is a whole ClientRequest with its options, headers
 * and TLS settings (measured: about 3.6 kB of live heap each, and 100 MiB of RSS for 10,000 queued
 * at once), and an alert storm queues tens of thousands (docs/capacity.md). First come, first served,
 * as the Agent's own queue was.
 */
class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];
  private head = 0;
  private readonly urgent: (() => void)[] = [];

  constructor(size: number) {
    this.free = size;
  }

  /** Resolves when a slot is this caller's; `release` it exactly once. */
  acquire(urgent = false): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => (urgent ? this.urgent : this.waiting).push(resolve));
  }

  release(): void {
    if (this.urgent.length > 0) this.urgent.shift()!();
    else if (this.head < this.waiting.length) {
      const next = this.waiting[this.head]!;
      this.waiting[this.head++] = undefined as unknown as () => void;
      // Drop the consumed front now and then: shift() on a long array is O(n) per call.
      if (this.head > 1024 && this.head * 2 > this.waiting.length) {
        this.waiting.splice(0, this.head);
        this.head = 0;
      }
      next();
    } else this.free++;
  }

  /** Requests waiting for a slot. */
  get queued(): number {
    return this.urgent.length + this.waiting.length - this.head;
  }
}

export class KubeRest {
  readonly server: string;
  private readonly kc: KubeCredentials;
  private readonly httpsAgent = new Agent({ keepAlive: true, maxSockets: REQUEST_CONCURRENCY });
  private readonly httpAgent = new HttpAgent({ keepAlive: true, maxSockets: REQUEST_CONCURRENCY });
  private readonly probeAgent = new Agent({ keepAlive: true, maxSockets: 2 });
  private readonly probeHttpAgent = new HttpAgent({ keepAlive: true, maxSockets: 2 });
  // Watches hold their connection for minutes: their own pool, so they never starve requests.
  private readonly watchAgent = new Agent({ keepAlive: false });
  private readonly watchHttpAgent = new HttpAgent({ keepAlive: false });
  private readonly slots = new Slots(REQUEST_CONCURRENCY);

  constructor(kc: KubeCredentials) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    this.kc = kc;
    this.server = cluster.server.replace(/\/$/, '');
  }

  /** Requests waiting for one of the REQUEST_CONCURRENCY slots (not counting those in flight). */
  get queuedRequests(): number {
    return this.slots.queued;
  }

  async request<T>(req: RestRequest): Promise<T> {
    // Probes have their own small pool (its Agent queues them): never behind the shared slots.
    if (req.pool === 'probe') return this.send<T>(req);
    await this.slots.acquire(req.urgent);
    try {
      return await this.send<T>(req);
    } finally {
      this.slots.release();
    }
  }

  private async send<T>(req: RestRequest): Promise<T> {
    const url = new URL(this.server + req.path);
    const options: RequestOptions = {
      method: req.method,
      headers: { Accept: 'application/json' },
      timeout: req.timeoutMs ?? 30_000,
    };
    await this.kc.applyToHTTPSOptions(options);
    // After: applyToHTTPSOptions sets a brand-new Agent of its own, which would mean a new TLS
    // connection per request. The credentials it put on the options key our pool's sockets.
    if (req.pool === 'probe') options.agent = url.protocol === 'https:' ? this.probeAgent : this.probeHttpAgent;
    else options.agent = url.protocol === 'https:' ? this.httpsAgent : this.httpAgent;
    const payload = req.body === undefined ? undefined : JSON.stringify(req.body);
    if (payload !== undefined) {
      options.headers = { ...options.headers, 'Content-Type': req.contentType ?? 'application/json', 'Content-Length': Buffer.byteLength(payload) };
    }
    const send = url.protocol === 'https:' ? request : httpRequest;
    return new Promise<T>((resolve, reject) => {
      const r = send(url, options, (res) => {
        // Decoded as it arrives: each chunk's Buffer dies young (a scavenge frees it), where chunks
        // kept until the end (and their concatenation) were promoted, freed only by a full GC,
        // and left the process's malloc heap larger after a restart's list (docs/capacity.md).
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('error', reject);
        res.on('end', () => {
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            // not JSON: keep the text
          }
          const code = res.statusCode ?? 0;
          if (code >= 200 && code < 300) return resolve(parsed as T);
          const status = (parsed ?? {}) as { reason?: string; message?: string };
          reject(new KubeApiError(code, status.reason ?? 'Unknown', status.message ?? `HTTP ${code} from ${req.method} ${req.path}`, parsed));
        });
      });
      r.on('timeout', () => r.destroy(new Error(`timeout after ${options.timeout}ms: ${req.method} ${req.path}`)));
      r.on('error', reject);
      r.end(payload);
    });
  }

  /**
   * Streams a watch: calls `onEvent` for each JSON line until the server ends the response, the
   * signal aborts, or `idleMs` passes with no line (a watch that goes quiet is replaced).
   * Resolves when the stream ends; rejects on HTTP errors (KubeApiError) and network errors.
   */
  async watch(path: string, onEvent: (event: unknown) => void, options: { signal?: AbortSignal; idleMs?: number } = {}): Promise<void> {
    const url = new URL(this.server + path);
    const opts: RequestOptions = { method: 'GET', headers: { Accept: 'application/json' } };
    await this.kc.applyToHTTPSOptions(opts);
    opts.agent = url.protocol === 'https:' ? this.watchAgent : this.watchHttpAgent;
    const send = url.protocol === 'https:' ? request : httpRequest;
    return new Promise<void>((resolve, reject) => {
      let idle: NodeJS.Timeout | undefined;
      // Armed before the answer too: a server that never answers is as quiet as one that stopped.
      const armIdle = (): void => {
        if (!options.idleMs) return;
        clearTimeout(idle);
        idle = setTimeout(() => r.destroy(new Error(`watch quiet for ${options.idleMs}ms`)), options.idleMs);
      };
      const r = send(url, { ...opts, signal: options.signal }, (res) => {
        const code = res.statusCode ?? 0;
        if (code < 200 || code >= 300) {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => {
            let status: { reason?: string; message?: string } = {};
            try {
              status = JSON.parse(text) as typeof status;
            } catch {
              // not JSON
            }
            reject(new KubeApiError(code, status.reason ?? 'Unknown', status.message ?? `HTTP ${code} from watch ${path}`, text));
          });
          return;
        }
        armIdle();
        let partial = '';
        res.on('data', (chunk: Buffer) => {
          armIdle();
          const lines = (partial + chunk.toString('utf8')).split('\n');
          partial = lines.pop() ?? '';
          for (const line of lines) {
            if (!line.trim()) continue;
            try {
              onEvent(JSON.parse(line));
            } catch (err) {
              r.destroy(err as Error);
              return;
            }
          }
        });
        res.on('end', () => {
          clearTimeout(idle);
          resolve();
        });
        res.on('error', (err) => {
          clearTimeout(idle);
          reject(err);
        });
      });
      r.on('error', (err) => {
        clearTimeout(idle);
        reject(err);
      });
      armIdle();
      r.end();
    });
  }

  close(): void {
    this.watchAgent.destroy();
    this.watchHttpAgent.destroy();
    this.httpsAgent.destroy();
    this.httpAgent.destroy();
    this.probeAgent.destroy();
    this.probeHttpAgent.destroy();
  }
}
