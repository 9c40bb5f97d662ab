// The check-in's answer when the apiserver cannot store it soon (src/checkin/availability.ts):
// a 503 with Retry-After at once while an outage is known, or once the bound has passed.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CheckinAvailability } from '../../../src/checkin/availability.ts';
import { HttpError } from '../../../src/checkin/errors.ts';

describe('CheckinAvailability', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('refuses with 503 and Retry-After only while the apiserver is known down', () => {
    let down = false;
    const a = new CheckinAvailability({ down: () => down });
    expect(a.refusal()).toBeUndefined();
    down = true;
    const refusal = a.refusal();
    expect(refusal).toBeInstanceOf(HttpError);
    expect(refusal?.status).toBe(503);
    expect(refusal?.retryAfter).toBeGreaterThan(0);
  });

  it('answers with the stored check-in when it is stored within the bound', async () => {
    const a = new CheckinAvailability({ down: () => false, answerWithinMs: 1_000 });
    const stored = new Promise<string>((resolve) => setTimeout(() => resolve('stored'), 900));
    const answer = a.bound(stored);
    await vi.advanceTimersByTimeAsync(900);
    await expect(answer).resolves.toBe('stored');
  });

  it('answers 503 once the bound has passed, and what the write says later is no error of anyone', async () => {
    const a = new CheckinAvailability({ down: () => false, answerWithinMs: 1_000 });
    const stored = new Promise<string>((_resolve, reject) => setTimeout(() => reject(new Error('etcd timeout')), 30_000));
    const answer = a.bound(stored);
    const seen = answer.catch((err: unknown) => err);
    await vi.advanceTimersByTimeAsync(1_000);
    const err = await seen;
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).status).toBe(503);
    expect((err as HttpError).retryAfter).toBeGreaterThan(0);
    // The write's own failure afterwards is swallowed (an unhandled rejection would fail the run).
    await vi.advanceTimersByTimeAsync(30_000);
  });

  it('passes a write error through as it is when it comes before the bound', async () => {
    const a = new CheckinAvailability({ down: () => false, answerWithinMs: 1_000 });
    const answer = a.bound(Promise.reject(new HttpError(404, 'NotFound', 'gone')));
    await expect(answer).rejects.toMatchObject({ status: 404 });
  });
});
