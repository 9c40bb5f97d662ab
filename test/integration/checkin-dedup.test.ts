// A client retry counts once however many check-ins came between: a burst of 500 distinct runs
// to one Reservation through a real operator (its check-in store and journal), then a retry of
// an early run's end and start. status.recent holds only the last 20; status.runKeys the day's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Operator } from '../../src/operator/operator.ts';
import { RUN_KEY_CHARS } from '../../src/core/dedup.ts';
import { eventually, freshNamespace } from './helpers.ts';
import { createReservation, getReservation, startOperator } from './operator-harness.ts';

let ns: string;
let op: Operator;
beforeAll(async () => {
  ns = await freshNamespace('dedup');
  op = await startOperator(ns);
});
afterAll(async () => {
  await op.stop();
});

async function post(path: string): Promise<{ status: number; body: { duplicate?: boolean } }> {
  const res = await fetch(`${op.url}${path}`, { method: 'POST' });
  return { status: res.status, body: (await res.json()) as { duplicate?: boolean } };
}

describe('duplicates', () => {
  it('a retried (runId, signal) counts once after a burst of 500 distinct runs', { timeout: 120_000 }, async () => {
    await createReservation(ns, 'burst', { every: '1m', anonymous: true });
    await post(`/checkin/${ns}/burst/start?rid=run-0`);
    // 500 distinct runs ending, 25 at a time.
    for (let i = 0; i < 500; i += 25) {
      const answers = await Promise.all(Array.from({ length: 25 }, (_, j) => post(`/checkin/${ns}/burst/0?rid=run-${i + j}`)));
      expect(answers.map((a) => a.status).filter((s) => s !== 200)).toEqual([]);
    }
    // The client retries an early run: its end (twice) and its start.
    for (const path of [`/checkin/${ns}/burst/0?rid=run-0`, `/checkin/${ns}/burst?rid=run-0`, `/checkin/${ns}/burst/start?rid=run-0`, `/checkin/${ns}/burst/1?rid=run-3`]) {
      expect((await post(path)).status).toBe(200);
    }
    // One more run after the retries: once it is in status, everything before it is folded too.
    expect((await post(`/checkin/${ns}/burst/0?rid=run-last`)).status).toBe(200);
    const stored = await eventually(async () => {
      const r = await getReservation(ns, 'burst');
      return r.status?.lastCheckin?.runId === 'run-last' ? r : undefined;
    }, 60_000, 'the last check-in folded into status');
    // 1 start + 500 ends + run-last; none of the four retries.
    expect(stored.status?.checkins).toBe(502);
    expect(stored.status?.recent).toHaveLength(20);
    expect(stored.status?.recent?.some((c) => c.runId === 'run-0' || c.runId === 'run-3')).toBe(false);
    const keys = Object.values(stored.status?.runKeys ?? {}).join('');
    expect(keys.length).toBe(502 * RUN_KEY_CHARS);
  });
});
