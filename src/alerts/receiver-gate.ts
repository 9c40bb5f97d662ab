// How fast GoTel may send to one receiver URL: a token bucket per URL (Slack takes about one
// message a second per webhook, with short bursts) and the Retry-After a 429 asked for, which
// holds every sender to that URL. Time is passed in (epoch ms).
import { TokenBucket } from '../util/token-bucket.ts';

export interface Rate {
  perSecond: number;
  burst: number;
}

/**
 * A send waits until the receiver's token has been there this long: the receiver counts a message
 * when it arrives, a moment after GoTel counted it, and that moment varies (a loaded machine, the
 * network). Without it, a budget spent exactly on time here is 429 there now and then.
 */
export const ARRIVAL_MARGIN_MS = 100;

export class ReceiverGate {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly notBefore = new Map<string, number>();
  private readonly rate: (url: string) => Rate | undefined;

  /** `rate(url)`: the URL's limit, or undefined for none (Retry-After still holds). */
  constructor(rate: (url: string) => Rate | undefined) {
    this.rate = rate;
  }

  /** 0 when a send to `url` may go now (its token taken), else how many ms to wait first. */
  take(url: string, now: number): number {
    const until = this.notBefore.get(url) ?? 0;
    if (until > now) return until - now;
    this.notBefore.delete(url);
    const r = this.rate(url);
    if (!r) return 0;
    let bucket = this.buckets.get(url);
    if (!bucket || bucket.idle(now, r.perSecond)) this.buckets.set(url, (bucket = new TokenBucket(r.burst, now)));
    const spare = spareOf(r);
    return bucket.take(now, r.perSecond, spare) ? 0 : Math.max(1, Math.ceil(bucket.waitMs(r.perSecond, spare)));
  }

  /** How many ms until a send to `url` may go (0: now), without taking its token. */
  wait(url: string, now: number): number {
    const until = this.notBefore.get(url) ?? 0;
    if (until > now) return until - now;
    const r = this.rate(url);
    const bucket = this.buckets.get(url);
    if (!r || !bucket || bucket.idle(now, r.perSecond)) return 0;
    return Math.ceil(bucket.waitAt(now, r.perSecond, spareOf(r)));
  }

  /**
   * Whether a send to `url` now still leaves a token for one at `at` (later): false when the
   * send now would spend what `at` would otherwise have had.
   */
  keeps(url: string, now: number, at: number): boolean {
    const r = this.rate(url);
    if (!r) return true;
    const kept = this.buckets.get(url);
    const bucket = !kept || kept.idle(now, r.perSecond) ? new TokenBucket(r.burst, now) : kept; // as take() would find it
    return bucket.afterTake(now, at, r.perSecond) >= 1 + spareOf(r);
  }

  /** The receiver said Retry-After: nothing goes to `url` before `until`. */
  holdUntil(url: string, until: number): void {
    this.notBefore.set(url, Math.max(this.notBefore.get(url) ?? 0, until));
  }
}

/** ARRIVAL_MARGIN_MS in tokens at the receiver's rate (never more than its burst allows). */
function spareOf(r: Rate): number {
  return Math.min((ARRIVAL_MARGIN_MS * r.perSecond) / 1000, Math.max(0, r.burst - 1));
}
