// A keyed work queue, controller-runtime style: a key waiting is queued once however often it is
// added; one key is handled by one worker at a time (added again while in progress, it runs once
// more afterwards); a handler that throws is retried with per-key exponential backoff.
import type { Logger } from 'pino';
import { silentLogger } from '../log.ts';

export type Handler = (key: string) => Promise<void>;

export interface WorkQueueOptions {
  concurrency?: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  logger?: Logger;
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
  private readonly concurrency: number;
  private readonly baseBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly logger: Logger;
  private workers = 0;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];

  constructor(handler: Handler, options: WorkQueueOptions = {}) {
    this.handler = handler;
    this.concurrency = options.concurrency ?? 4;
    this.baseBackoffMs = options.baseBackoffMs ?? 200;
    this.maxBackoffMs = options.maxBackoffMs ?? 5 * 60_000;
    this.logger = options.logger ?? silentLogger;
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
    if (this.active.size === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
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
      await this.handler(key);
      this.failures.delete(key);
    } catch (err) {
      const failures = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, failures);
      const delay = Math.min(this.baseBackoffMs * 2 ** (failures - 1), this.maxBackoffMs);
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
      if (this.active.size === 0 && this.stopped) for (const w of this.idleWaiters.splice(0)) w();
      this.pump();
    }
  }
}
