// A list+watch cache of one kind of object, written for GoTel instead of client-node's informer,
// whose pitfalls docs/architecture.md lists (it stops for good on most watch errors, and start() resolves
// even when the first list failed). This one:
// - lists, then watches from the list's resourceVersion with bookmarks;
// - re-lists on 410 Gone, re-watches when the server ends a watch, restarts with backoff on any
//   other error, and replaces a watch that has gone quiet (no event, no bookmark) for too long;
// - lists in pages, and keeps each object without what GoTel never reads (src/k8s/trim.ts);
// - reports `synced` only after a successful list, so /readyz can reflect it;
// - calls `onChange(key)` for every object that appeared, changed or vanished: callbacks only
//   enqueue, never do work (they are not awaited).
import type { Logger } from 'pino';
import { silentLogger } from '../log.ts';
import type { KubeRest } from './rest.ts';
import { KubeApiError } from './rest.ts';
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
    this.options = { idleMs: 5 * 60_000, watchTimeoutSeconds: 240, maxBackoffMs: 30_000, pageSize: 500, logger: silentLogger, ...options };
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
    let backoff = 250;
    let resourceVersion: string | undefined;
    while (this.running) {
      const watchStarted = Date.now();
      try {
        if (!resourceVersion) resourceVersion = await this.relist();
        resourceVersion = await this.watchFrom(resourceVersion);
        // Only a watch that lasted proves the connection healthy again; one that ends at once
        // (a watch refused while lists work) must not spin through re-lists.
        if (Date.now() - watchStarted > 10_000) backoff = 250;
        else {
          await this.sleep(backoff);
          backoff = Math.min(backoff * 2, this.options.maxBackoffMs);
        }
      } catch (err) {
        if (!this.running) break;
        if (err instanceof KubeApiError && err.code === 410) {
          resourceVersion = undefined; // too old: list again, after a breath
          await this.sleep(100);
          continue;
        }
        this.connected = false;
        this.restarts++;
        this.options.logger.warn({ path: this.options.path, err: (err as Error).message, backoffMs: backoff }, 'informer restarting');
        resourceVersion = undefined;
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, this.options.maxBackoffMs);
      }
    }
  }

  private async relist(): Promise<string> {
    const seen = new Set<string>();
    const sep = this.options.path.includes('?') ? '&' : '?';
    let resourceVersion: string;
    let token: string | undefined;
    // In pages, like client-go's pager: one page's text and objects at a time, never the whole
    // list's JSON and its objects together. An expired continue token is a 410: listed again.
    do {
      const page = await this.rest.request<ListResponse<T>>({
        method: 'GET',
        path: `${this.options.path}${sep}limit=${this.options.pageSize}${token ? `&continue=${encodeURIComponent(token)}` : ''}`,
      });
      for (const item of page.items) {
        const key = keyOf(item);
        seen.add(key);
        const before = this.cache.get(key);
        this.cache.set(key, trimObject(item));
        if (before?.metadata.resourceVersion !== item.metadata.resourceVersion) this.options.onChange(key);
      }
      resourceVersion = page.metadata.resourceVersion;
      token = page.metadata.continue || undefined;
    } while (token);
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

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const signal = this.abort.signal;
      const onAbort = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
