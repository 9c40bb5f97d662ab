// A list+watch cache of one kind of object, written for GoTel instead of client-node's informer,
// whose pitfalls docs/architecture.md lists (it stops for good on most watch errors, and start() resolves
// even when the first list failed). This one:
// - lists, then watches from the list's resourceVersion with bookmarks;
// - re-lists on 410 Gone, re-watches when the server ends a watch, restarts with backoff on any
//   other error (cut short once the apiserver is back, see retryPlan), and replaces a watch that
//   has gone quiet (no event, no bookmark) for too long;
// - lists in pages, and keeps each object without what GoTel never reads (src/k8s/trim.ts);
// - reports `synced` only after a successful list, so /readyz can reflect it;
// - calls `onChange(key)` for every object that appeared, changed or vanished: callbacks only
//   enqueue, never do work (they are not awaited).
import type { Logger } from 'pino';
import { silentLogger } from '../log.ts';
import type { KubeRest } from './rest.ts';
import { KubeApiError } from './rest.ts';
import { apiserverProbe } from './apiserver-probe.ts';
import { backoffDelay, type BackoffOptions } from '../util/backoff.ts';
import { systemClock, type Clock } from '../util/clock.ts';
import { trimObject } from './trim.ts';

export interface KubeObject {
  metadata: { name?: string; namespace?: string; resourceVersion?: string; uid?: string };
}

interface ListResponse<T> {
  metadata: { resourceVersion: string; continue?: string };
  items: T[];
}

interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T & { code?: number; message?: string };
}

export interface InformerOptions {
  /** The collection's path, e.g. /apis/gotel.io/v1alpha1/reservations or a namespaced one. */
  path: string;
  onChange: (key: string) => void;
  logger?: Logger;
  /** A watch that shows nothing (not even a bookmark) for this long is replaced. */
  idleMs?: number;
  /** Asked of the server per watch; it ends the watch after about this long. */
  watchTimeoutSeconds?: number;
  maxBackoffMs?: number;
  clock?: Clock;
  /** Objects per list page (the list is read in pages so a large one is never held twice at once). */
  pageSize?: number;
}

export function keyOf(obj: KubeObject): string {
  return obj.metadata.namespace ? `${obj.metadata.namespace}/${obj.metadata.name}` : (obj.metadata.name ?? '');
}

export class Informer<T extends KubeObject> {
  private readonly cache = new Map<string, T>();
  private readonly rest: KubeRest;
  private readonly options: Required<Omit<InformerOptions, 'logger'>> & { logger: Logger };
  private abort = new AbortController();
  private running = false;
  private loop?: Promise<void>;
  private syncedOnce = false;
  /** False from an error until the next successful list. */
  private connected = false;
  private syncWaiters: (() => void)[] = [];
  /** Restarts since start, for health reporting and tests. */
  restarts = 0;

  constructor(rest: KubeRest, options: InformerOptions) {
    this.rest = rest;
    this.options = { idleMs: 5 * 60_000, watchTimeoutSeconds: 240, maxBackoffMs: 30_000, pageSize: 500, clock: systemClock, logger: silentLogger, ...options };
  }

  /** Listed at least once and not cut off from the apiserver since the last error. */
  get synced(): boolean {
    return this.syncedOnce && this.running && this.connected;
  }

  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  keys(): string[] {
    return [...this.cache.keys()];
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    this.loop = this.run();
  }

  /** Resolves once the first list has succeeded (or rejects after timeoutMs). */
  waitForSync(timeoutMs = 60_000): Promise<void> {
    if (this.syncedOnce) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`informer for ${this.options.path} not synced after ${timeoutMs}ms`)), timeoutMs);
      this.syncWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    let failures = 0;
    let resourceVersion: string | undefined;
    while (this.running) {
      const watchStarted = this.now();
      try {
        if (!resourceVersion) {
          resourceVersion = await this.relist();
          failures = 0; // the apiserver answered: whatever failed before is over
        }
        resourceVersion = await this.watchFrom(resourceVersion);
        // Only a watch that lasted proves the connection healthy again; one that ends at once
        // (a watch refused while lists work) must not spin through re-watches.
        if (this.now() - watchStarted > 10_000) failures = 0;
        else await this.sleep(backoffDelay(++failures, this.backoff));
      } catch (err) {
        if (!this.running) break;
        if (err instanceof KubeApiError && err.code === 410) {
          resourceVersion = undefined; // too old: list again, after a breath
          await this.sleep(100);
          continue;
        }
        this.connected = false;
        this.restarts++;
        const plan = retryPlan(err, ++failures, this.backoff);
        this.options.logger.warn({ path: this.options.path, err: (err as Error).message, backoffMs: plan.delayMs, untilReady: plan.untilReady }, 'informer restarting');
        resourceVersion = undefined;
        await this.sleep(plan.delayMs, plan.untilReady);
      }
    }
  }

  private get backoff(): BackoffOptions {
    return { initialMs: 250, maxMs: this.options.maxBackoffMs, jitter: 0.1 };
  }

  private now(): number {
    return this.options.clock().getTime();
  }

  private async relist(): Promise<string> {
    const seen = new Set<string>();
    const sep = this.options.path.includes('?') ? '&' : '?';
    let resourceVersion = '';
    // In pages, like client-go's pager: one page's text and objects at a time (and the next one's
    // request in flight: the apiserver prepares it while this one is cached, which at 10,000
    // objects is a good part of a restart), never the whole list's JSON and its objects together.
    // An expired continue token is a 410: listed again.
    const fetchPage = (token?: string): Promise<ListResponse<T>> =>
      this.rest.request<ListResponse<T>>({
        method: 'GET',
        path: `${this.options.path}${sep}limit=${this.options.pageSize}${token ? `&continue=${encodeURIComponent(token)}` : ''}`,
      });
    let next: Promise<ListResponse<T>> | undefined = fetchPage();
    while (next) {
      const page: ListResponse<T> = await next;
      resourceVersion = page.metadata.resourceVersion;
      const token = page.metadata.continue || undefined;
      next = token ? fetchPage(token) : undefined;
      // A failed prefetch is seen when it is awaited; until then it must not count as unhandled.
      next?.catch(() => {});
      for (const item of page.items) {
        const key = keyOf(item);
        seen.add(key);
        const before = this.cache.get(key);
        this.cache.set(key, trimObject(item));
        if (before?.metadata.resourceVersion !== item.metadata.resourceVersion) this.options.onChange(key);
      }
    }
    for (const key of [...this.cache.keys()]) {
      if (!seen.has(key)) {
        this.cache.delete(key);
        this.options.onChange(key);
      }
    }
    this.connected = true;
    if (!this.syncedOnce) {
      this.syncedOnce = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
    return resourceVersion;
  }

  /** Watches until the server ends the stream; returns the last resourceVersion seen. */
  private async watchFrom(resourceVersion: string): Promise<string> {
    let rv = resourceVersion;
    const sep = this.options.path.includes('?') ? '&' : '?';
    const path = `${this.options.path}${sep}watch=1&allowWatchBookmarks=true&resourceVersion=${encodeURIComponent(rv)}&timeoutSeconds=${this.options.watchTimeoutSeconds}`;
    let gone: KubeApiError | undefined;
    await this.rest.watch(
      path,
      (raw) => {
        const event = raw as WatchEvent<T>;
        if (event.type === 'ERROR') {
          const code = event.object.code ?? 500;
          gone = new KubeApiError(code, 'WatchError', event.object.message ?? 'watch error', event.object);
          return;
        }
        if (event.object.metadata.resourceVersion) rv = event.object.metadata.resourceVersion;
        if (event.type === 'BOOKMARK') return;
        const key = keyOf(event.object);
        if (event.type === 'DELETED') this.cache.delete(key);
        else this.cache.set(key, trimObject(event.object));
        this.options.onChange(key);
      },
      { signal: this.abort.signal, idleMs: this.options.idleMs },
    );
    if (gone) throw gone;
    return rv;
  }

  /** Waits `ms`, or less: until stopped, or (with `untilReady`) until the apiserver is back. */
  private async sleep(ms: number, untilReady: UntilReady = 'no'): Promise<void> {
    const done = new AbortController();
    const signal = AbortSignal.any([this.abort.signal, done.signal]);
    const timer = new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
    });
    const back = untilReady === 'no' ? [] : [apiserverProbe(this.rest).whenReady(signal, untilReady === 'after-failure')];
    await Promise.race([timer, ...back]);
    done.abort();
  }
}

/** Whether a retry may start early once the apiserver answers /readyz (see ApiserverProbe). */
export type UntilReady = 'no' | 'yes' | 'after-failure';

/** The longest a server's Retry-After is honoured before retrying anyway. */
const MAX_RETRY_AFTER_MS = 5_000;

/**
 * How an informer waits after a failed list or watch, like client-go's reflector: backoff, but
 * - the apiserver unreachable (a network error): also until /readyz answers, so a long outage
 *   does not leave the informer asleep for its whole backoff after the apiserver's return;
 * - a 5xx (e.g. etcd away): also until /readyz answers after having failed;
 * - 429 with Retry-After ("storage is (re)initializing" just after a restart): what it asks, a
 *   second or so, not the grown backoff.
 */
export function retryPlan(err: unknown, failures: number, backoff: BackoffOptions): { delayMs: number; untilReady: UntilReady } {
  const delayMs = backoffDelay(failures, backoff);
  if (!(err instanceof KubeApiError)) return { delayMs, untilReady: 'yes' };
  const retryAfterS = (err.body as { details?: { retryAfterSeconds?: unknown } } | undefined)?.details?.retryAfterSeconds;
  if (err.code === 429 || typeof retryAfterS === 'number') {
    const asked = typeof retryAfterS === 'number' && retryAfterS > 0 ? retryAfterS * 1000 : 1_000;
    return { delayMs: Math.min(asked, MAX_RETRY_AFTER_MS), untilReady: 'no' };
  }
  if (err.code >= 500) return { delayMs, untilReady: 'after-failure' };
  return { delayMs, untilReady: 'no' };
}
