// A token bucket per key (a Reservation): a runaway client gets 429 with Retry-After instead of
// making the apiserver pay. Buckets refill continuously; idle ones are forgotten.
export interface RateLimitOptions {
  /** Sustained check-ins per second per Reservation. */
  perSecond: number;
  /** How many may arrive at once. */
  burst: number;
}

export const DEFAULT_RATE_LIMIT: RateLimitOptions = { perSecond: 100, burst: 1000 };

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly rate: number;
  private readonly burst: number;
  private readonly now: () => number;
  private lastSweep = 0;

  constructor(options: RateLimitOptions, now: () => number = Date.now) {
    if (!(options.perSecond > 0) || !(options.burst >= 1)) throw new Error('rate limit: perSecond must be > 0 and burst >= 1');
    this.rate = options.perSecond / 1000;
    this.burst = options.burst;
    this.now = now;
  }

  /** Takes one token; returns 0 when allowed, else the seconds to wait. */
  take(key: string): number {
    const now = this.now();
    this.sweep(now);
    let b = this.buckets.get(key);
    if (!b) {
      b = { tokens: this.burst, at: now };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(this.burst, b.tokens + (now - b.at) * this.rate);
      b.at = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.rate / 1000));
  }

  private sweep(now: number): void {
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    const full = this.burst / this.rate; // ms to refill from empty
    for (const [k, b] of this.buckets) if (now - b.at > full) this.buckets.delete(k);
  }
}
