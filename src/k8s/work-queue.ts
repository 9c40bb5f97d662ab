// A keyed work queue, controller-runtime style: a key waiting is queued once however often it is
// added; one key is handled by one worker at a time (added again while in progress, it runs once
// more afterwards); a handler that throws is retried with per-key exponential backoff; a handler
// that returns `requeueAfterMs` is run again that much later. That delayed add is GoTel's one timer
// mechanism for deadlines: one timer per key, replaced by each handler run (the latest run knows
// best; null cancels it), clamped below setTimeout's limit.
import type { Logger } from 'pino';
import { silentLogger } from '../log.ts';
import { backoffDelay } from '../util/backoff.ts';
import { timerDelay } from '../util/timers.ts';

/** What a handler asks for: when to look at the key again (null or absent: not by time). */
export interface HandlerResult {
  requeueAfterMs?: number | null;
}

export type Handler = (key: string) => Promise<HandlerResult | void>;

export interface WorkQueueOptions {
  concurrency?: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  logger?: Logger;
  /** Called when a delayed add (requeueAfter) fires, before the key is queued. */
  onDue?: (key: string) => void;
}

export class WorkQueue {
  private readonly handler: Handler;
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly active = new Set<string>();
  /** Keys added while being handled: they go back on the queue when the handler finishes. */
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly retryTimers = new Map<string, NodeJS.Timeout>();
  /** Delayed adds (requeueAfter), one per key. */
  private readonly delayed = new Map<string, NodeJS.Timeout>();
  private readonly concurrency: number;
  private readonly baseBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly logger: Logger;
  private readonly onDue?: (key: string) => void;
  private workers = 0;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];

  constructor(handler: Handler, options: WorkQueueOptions = {}) {
    this.handler = handler;
    this.concurrency = options.concurrency ?? 4;
    this.baseBackoffMs = options.baseBackoffMs ?? 200;
    this.maxBackoffMs = options.maxBackoffMs ?? 5 * 60_000;
    this.logger = options.logger ?? silentLogger;
    if (options.onDue) this.onDue = options.onDue;
  }

  add(key: string): void {
    if (this.stopped) return;
    if (this.active.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    this.pump();
  }

  /** Adds `key` after `delayMs` (clamped), replacing any delayed add of it. */
  addAfter(key: string, delayMs: number): void {
    if (this.stopped) return;
    this.cancelDelayed(key);
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.onDue?.(key);
      this.add(key);
    }, timerDelay(delayMs));
    this.delayed.set(key, timer);
  }

  /** Cancels the delayed add of `key`, or of every key. */
  cancelDelayed(key?: string): void {
    const keys = key === undefined ? [...this.delayed.keys()] : [key];
    for (const k of keys) {
      clearTimeout(this.delayed.get(k));
      this.delayed.delete(k);
    }
  }

  /** Keys waiting for a delayed add. */
  get delayedCount(): number {
    return this.delayed.size;
  }

  /** Resolves once nothing is queued or being handled (delayed adds and retries may remain). */
  async idle(): Promise<void> {
    while (this.length > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  get length(): number {
    return this.queue.length + this.active.size;
  }

  /** Stops taking work, cancels retries and waits for handlers in progress. */
  async drain(): Promise<void> {
    this.stopped = true;
    this.queue.length = 0;
    this.queued.clear();
    for (const t of this.retryTimers.values()) clearTimeout(t);
    this.retryTimers.clear();
    this.cancelDelayed();
    await this.idle();
  }

  private pump(): void {
    while (!this.stopped && this.workers < this.concurrency && this.queue.length > 0) {
      const key = this.queue.shift()!;
      this.queued.delete(key);
      this.active.add(key);
      this.workers++;
      void this.work(key);
    }
  }

  private async work(key: string): Promise<void> {
    try {
      const result = await this.handler(key);
      this.failures.delete(key);
      const after = result?.requeueAfterMs;
      if (after === null || after === undefined) this.cancelDelayed(key);
      else this.addAfter(key, after);
    } catch (err) {
      const failures = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, failures);
      const delay = backoffDelay(failures, { initialMs: this.baseBackoffMs, maxMs: this.maxBackoffMs });
      this.logger.warn({ key, err: (err as Error).message, retryInMs: delay, failures }, 'reconcile failed');
      if (!this.stopped) {
        clearTimeout(this.retryTimers.get(key));
        this.retryTimers.set(
          key,
          setTimeout(() => {
            this.retryTimers.delete(key);
            this.add(key);
          }, delay),
        );
      }
    } finally {
      this.active.delete(key);
      this.workers--;
      if (this.dirty.delete(key)) this.add(key);
      this.pump();
      if (this.length === 0) for (const w of this.idleWaiters.splice(0)) w();
    }
  }
}
