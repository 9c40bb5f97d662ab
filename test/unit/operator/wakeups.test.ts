// Deadline wake-ups: a timer per key, re-armed rather than duplicated, clamped below setTimeout's
// 2^31-1 ms limit (a longer wait would otherwise fire at once).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MAX_TIMER_MS, Wakeups } from '../../../src/operator/wakeups.ts';

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(new Date('2026-11-29T00:00:00Z'));
});
afterEach(() => {
  vi.useRealTimers();
});

describe('Wakeups', () => {
  it('fires once at the armed instant, and re-arming moves it', () => {
    const fired: string[] = [];
    const w = new Wakeups((k) => fired.push(k));
    w.arm('a', new Date(Date.now() + 5_000));
    w.arm('a', new Date(Date.now() + 8_000));
    vi.advanceTimersByTime(7_999);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual(['a']);
    vi.advanceTimersByTime(60_000);
    expect(fired).toEqual(['a']);
  });

  it('fires at once for an instant in the past, and never for a cancelled key', () => {
    const fired: string[] = [];
    const w = new Wakeups((k) => fired.push(k));
    w.arm('late', new Date(Date.now() - 1_000));
    w.arm('gone', new Date(Date.now() + 1_000));
    w.arm('gone', null);
    vi.advanceTimersByTime(0);
    expect(fired).toEqual(['late']);
    vi.advanceTimersByTime(5_000);
    expect(fired).toEqual(['late']);
    expect(w.size).toBe(0);
  });

  it('clamps a wait beyond ~24.8 days instead of firing immediately', () => {
    const fired: string[] = [];
    const w = new Wakeups((k) => fired.push(k));
    w.arm('yearly', new Date(Date.now() + 365 * 24 * 3600 * 1000));
    vi.advanceTimersByTime(1_000);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(MAX_TIMER_MS);
    // Woken early, the reconcile re-arms it for the rest of the wait.
    expect(fired).toEqual(['yearly']);
  });
});
