// A token bucket per key (a Reservation): a runaway client gets 429 with Retry-After instead of
// making the apiserver pay. Buckets refill continuously; idle ones are forgotten.
import { TokenBucket } from '../util/token-bucket.ts';

export interface RateLimitOptions {
  /** Sustained check-ins per second per Reservation. */
  perSecond: number;
  /** How many may arrive at once. */
  burst: number;
}

export const DEFAULT_RATE_LIMIT: RateLimitOptions = { perSecond: 100, burst: 1000 };

/** Buckets kept at most (a few MB). */
const MAX_KEYS = 100_000;

export class RateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly perSecond: number;
  private readonly burst: number;
  private readonly now: () => number;
  private lastSweep = 0;

  constructor(options: RateLimitOptions, now: () => number = Date.now) {
    if (!(options.perSecond > 0) || !(options.burst >= 1)) throw new Error('rate limit: perSecond must be > 0 and burst >= 1');
    this.perSecond = options.perSecond;
    this.burst = options.burst;
    this.now = now;
  }

  /** Takes one token; returns 0 when allowed, else the seconds to wait. */
  take(key: string): number {
    const now = this.now();
    this.sweep(now);
    let b = this.buckets.get(key);
    if (!b) {
      // Bounded memory whatever the number of keys (clients from many addresses): past the bound,
      // the bucket made longest ago goes (its key starts full again, never blocked wrongly).
      if (this.buckets.size >= MAX_KEYS) this.buckets.delete(this.buckets.keys().next().value as string);
      this.buckets.set(key, (b = new TokenBucket(this.burst, now)));
    }
    if (b.take(now, this.perSecond)) return 0;
    return Math.max(1, Math.ceil(b.waitMs(this.perSecond) / 1000));
  }

  private sweep(now: number): void {
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    for (const [k, b] of this.buckets) if (b.idle(now, this.perSecond)) this.buckets.delete(k);
  }
}
