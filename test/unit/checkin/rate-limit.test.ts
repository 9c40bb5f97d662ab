// The per-key token buckets behind both limits (per Reservation, per client): refusals with the
// seconds to wait, and bounded memory however many keys come.
import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../../src/checkin/rate-limit.ts';

describe('RateLimiter', () => {
  it('refuses past the burst with the seconds to wait, per key', () => {
    let now = 0;
    const limiter = new RateLimiter({ perSecond: 0.5, burst: 2 }, () => now);
    expect([limiter.take('a'), limiter.take('a'), limiter.take('a')]).toEqual([0, 0, 2]);
    expect(limiter.take('b')).toBe(0);
    now = 2_000;
    expect(limiter.take('a')).toBe(0);
  });

  it('keeps at most 100,000 buckets: the oldest key starts full again', () => {
    const limiter = new RateLimiter({ perSecond: 0.001, burst: 1 }, () => 0);
    expect(limiter.take('first')).toBe(0);
    expect(limiter.take('first')).toBeGreaterThan(0);
    for (let i = 0; i < 99_999; i++) limiter.take(`k${i}`);
    expect(limiter.take('first')).toBeGreaterThan(0); // still remembered at the bound
    limiter.take('one-more');
    expect(limiter.take('first')).toBe(0);
  });
});
