// A token bucket: `burst` tokens at most, refilled continuously at a rate given at each look (the
// check-in store raises its rate while many Reservations wait). Time is passed in (epoch ms).
export class TokenBucket {
  private tokens: number;
  private at: number;
  private readonly burst: number;

  constructor(burst: number, now: number) {
    this.burst = burst;
    this.tokens = burst;
    this.at = now;
  }

  /** Takes one token if there is one (and `spare` more), after refilling at `perSecond` since the last look. */
  take(now: number, perSecond: number, spare = 0): boolean {
    this.tokens = this.level(now, perSecond);
    this.at = now;
    if (this.tokens < 1 + spare) return false;
    this.tokens -= 1;
    return true;
  }

  /** Milliseconds until a token is there at `perSecond` (0: now). */
  waitMs(perSecond: number, spare = 0): number {
    return this.waitAt(this.at, perSecond, spare);
  }

  /** Milliseconds from `now` until a token (and `spare` more) is there at `perSecond`, without taking one (0: now). */
  waitAt(now: number, perSecond: number, spare = 0): number {
    return Math.max(0, ((1 + spare - this.level(now, perSecond)) * 1000) / perSecond);
  }

  /** The tokens there would be at `at` (>= the last take) if one more were taken at `now` (between them). */
  afterTake(now: number, at: number, perSecond: number): number {
    return Math.min(this.burst, this.level(now, perSecond) - 1 + ((at - now) * perSecond) / 1000);
  }

  /** The tokens there would be at `now`, refilled at `perSecond` since the last take, up to the burst. */
  private level(now: number, perSecond: number): number {
    return Math.min(this.burst, this.tokens + ((now - this.at) * perSecond) / 1000);
  }

  /** Whether it has been full for a while: refilled from empty by now, so it can be forgotten. */
  idle(now: number, perSecond: number): boolean {
    return now - this.at > (this.burst * 1000) / perSecond;
  }
}
