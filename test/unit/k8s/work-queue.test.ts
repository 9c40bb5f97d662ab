// The keyed work queue: deduplicated, one handler per key at a time, re-run when changed during
// handling, retried with backoff when the handler throws.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WorkQueue } from '../../../src/k8s/work-queue.ts';
import { MAX_TIMER_MS } from '../../../src/util/timers.ts';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('WorkQueue', () => {
  it('handles a key added many times while waiting once, and once more if added while in progress', async () => {
    const calls: string[] = [];
    const gate = deferred();
    let active = 0;
    let maxActive = 0;
    const done = deferred();
    const q = new WorkQueue(async (key) => {
      active++;
      maxActive = Math.max(maxActive, active);
      calls.push(key);
      if (calls.length === 1) await gate.promise;
      active--;
      if (calls.length === 2) done.resolve();
    }, { concurrency: 4 });
    q.add('ns/a');
    q.add('ns/a'); // in progress: one more run afterwards
    q.add('ns/a');
    gate.resolve();
    await done.promise;
    expect(calls).toEqual(['ns/a', 'ns/a']);
    expect(maxActive).toBe(1);
  });

  it('retries a failing key with backoff until it succeeds', async () => {
    let attempts = 0;
    const done = deferred();
    const q = new WorkQueue(
      (_key) => {
        attempts++;
        if (attempts < 3) return Promise.reject(new Error('apiserver hiccup'));
        done.resolve();
        return Promise.resolve();
      },
      { baseBackoffMs: 5 },
    );
    q.add('ns/flaky');
    await done.promise;
    expect(attempts).toBe(3);
    await q.drain();
  });
});

// Deadline wake-ups are the queue's delayed adds: one per key, replaced rather than duplicated,
// clamped below setTimeout's 2^31-1 ms limit (a longer wait would otherwise fire at once).
describe('WorkQueue.addAfter', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2026-11-29T00:00:00Z'));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const recording = (): { q: WorkQueue; handled: string[] } => {
    const handled: string[] = [];
    const q = new WorkQueue((key) => {
      handled.push(key);
      return Promise.resolve();
    });
    return { q, handled };
  };

  it('adds once at the delay, and a later addAfter of the same key moves it', async () => {
    const { q, handled } = recording();
    q.addAfter('a', 5_000);
    q.addAfter('a', 8_000);
    await vi.advanceTimersByTimeAsync(7_999);
    expect(handled).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(handled).toEqual(['a']);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(handled).toEqual(['a']);
  });

  it('adds at once for a delay in the past, and never for a cancelled key', async () => {
    const { q, handled } = recording();
    q.addAfter('late', -1_000);
    q.addAfter('gone', 1_000);
    q.cancelDelayed('gone');
    await vi.advanceTimersByTimeAsync(0);
    expect(handled).toEqual(['late']);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(handled).toEqual(['late']);
    expect(q.delayedCount).toBe(0);
  });

  it('clamps a wait beyond ~24.8 days instead of firing immediately', async () => {
    const { q, handled } = recording();
    q.addAfter('yearly', 365 * 24 * 3600 * 1000);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(handled).toEqual([]);
    await vi.advanceTimersByTimeAsync(MAX_TIMER_MS);
    // Woken early, the reconcile asks again for the rest of the wait.
    expect(handled).toEqual(['yearly']);
  });

  it('schedules the requeueAfterMs a handler returns, and a null result cancels the wait', async () => {
    const handled: string[] = [];
    const answers: (number | null)[] = [2_000, null];
    const q = new WorkQueue((key) => {
      handled.push(key);
      return Promise.resolve({ requeueAfterMs: answers.shift() ?? null });
    });
    q.add('k');
    await vi.advanceTimersByTimeAsync(0);
    expect(handled).toEqual(['k']);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(handled).toEqual(['k', 'k']);
    expect(q.delayedCount).toBe(0);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(handled).toEqual(['k', 'k']);
  });
});
