// The keyed work queue: deduplicated, one handler per key at a time, re-run when changed during
// handling, retried with backoff when the handler throws.
import { describe, expect, it } from 'vitest';
import { WorkQueue } from '../../../src/k8s/work-queue.ts';

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
