// HTTP check-ins against a real apiserver: what a client is told and what ends up in status.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Reservation } from '../../src/api/reservation.ts';
import { KubeRest } from '../../src/k8s/rest.ts';
import { createReservation, getReservation, startCheckinServer, TcpProxy, type CheckinServer } from './checkin-helpers.ts';
import { eventually, freshNamespace, kubeConfig } from './helpers.ts';

const kc = kubeConfig();
const admin = new KubeRest(kc);
let ns: string;
let server: CheckinServer;

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown> & { error?: { reason: string; message: string } };
}

async function call(path: string, init: RequestInit = {}, base = server.url): Promise<Answer> {
  const res = await fetch(base + path, init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: JSON.parse(text) as Answer['body'] };
}

beforeAll(async () => {
  ns = await freshNamespace('checkin-http');
  server = await startCheckinServer(kc, { rateLimit: false });
});
afterAll(async () => {
  await server.close();
  admin.close();
});

describe('HTTP check-ins', () => {
  it('stores success, start, fail, log and exit codes, answering with the verdict', async () => {
    await createReservation(admin, ns, 'basic', { every: '5m', anonymous: true });
    const start = await call(`/checkin/${ns}/basic/start?rid=r1`, { method: 'POST' });
    expect(start.status).toBe(200);
    expect(start.body).toMatchObject({ ok: true, duplicate: false, state: 'Running', checkin: { signal: 'start', runId: 'r1', source: 'http' } });
    expect(typeof start.body.deadline).toBe('string');

    const end = await call(`/checkin/${ns}/basic?rid=r1`, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: 'backup done: 3 GB' });
    expect(end.status).toBe(200);
    expect(end.body).toMatchObject({ state: 'Healthy', checkin: { signal: 'success', runId: 'r1', message: 'backup done: 3 GB' } });

    const log = await call(`/checkin/${ns}/basic/log`, { method: 'GET' });
    expect(log.body).toMatchObject({ checkin: { signal: 'log' } });

    const three = await call(`/checkin/${ns}/basic/3`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ runId: 'r2', message: 'disk full', durationSeconds: 12.5 }),
    });
    expect(three.body).toMatchObject({ state: 'Failed', checkin: { signal: 'fail', exitCode: 3, runId: 'r2', durationSeconds: 12.5, message: 'disk full' } });

    const zero = await call(`/checkin/${ns}/basic/0`, { method: 'GET' });
    expect(zero.body).toMatchObject({ state: 'Healthy', checkin: { signal: 'success', exitCode: 0 } });

    const fail = await call(`/checkin/${ns}/basic/fail?rid=r3`, { method: 'POST' });
    expect(fail.body).toMatchObject({ state: 'Failed', checkin: { signal: 'fail', runId: 'r3' } });

    const stored = await getReservation(admin, ns, 'basic');
    expect(stored.status?.checkins).toBe(6);
    expect(stored.status?.lastCheckin).toMatchObject({ signal: 'fail', runId: 'r3' });
    expect(stored.status?.recent?.map((c) => c.signal)).toEqual(['start', 'success', 'log', 'fail', 'success', 'fail']);
    expect(stored.status?.state).toBe('Failed');
  });

  it('cuts long messages to the configured size', async () => {
    await createReservation(admin, ns, 'long', { every: '5m', anonymous: true });
    const small = await startCheckinServer(kc, { maxMessageBytes: 100, rateLimit: false });
    try {
      const answer = await call(`/checkin/${ns}/long/log`, { method: 'POST', body: 'é'.repeat(500) }, small.url);
      expect(answer.status).toBe(200);
      const stored = await getReservation(admin, ns, 'long');
      expect(Buffer.byteLength(stored.status?.lastCheckin?.message ?? '')).toBe(100);
      const tooBig = await call(`/checkin/${ns}/long/log`, { method: 'POST', body: 'x'.repeat(70 * 1024) }, small.url);
      expect(tooBig.status).toBe(413);
      expect(tooBig.body.error?.reason).toBe('TooLarge');
    } finally {
      await small.close();
    }
  });

  it('stores all of 500 concurrent check-ins to one Reservation, in fewer writes; a retried (runId, signal) counts once', async () => {
    await createReservation(admin, ns, 'hot', { every: '1m', anonymous: true });
    const before = server.writes.length;
    const answers = await Promise.all(Array.from({ length: 500 }, (_, i) => call(`/checkin/${ns}/hot/log?rid=run-${i}`, { method: 'POST', body: `n${i}` })));
    expect(answers.map((a) => a.status).filter((s) => s !== 200)).toEqual([]);
    const stored = await getReservation(admin, ns, 'hot');
    expect(stored.status?.checkins).toBe(500);
    // Check-ins that arrive while a write is in flight go into the next one.
    const writes = server.writes.length - before;
    expect(writes).toBeGreaterThan(0);
    expect(writes).toBeLessThan(100);

    // A client retry: the same end of the same run twice (and concurrently) counts once.
    const retried = await Promise.all([1, 2, 3].map(() => call(`/checkin/${ns}/hot/0?rid=job-42`, { method: 'POST' })));
    expect(retried.every((a) => a.status === 200)).toBe(true);
    expect(retried.filter((a) => a.body.duplicate === false)).toHaveLength(1);
    const again = await call(`/checkin/${ns}/hot?rid=job-42`, { method: 'POST' });
    expect(again.body).toMatchObject({ duplicate: true });
    expect((await getReservation(admin, ns, 'hot')).status?.checkins).toBe(501);
  });

  it('answers 401 for an unknown Reservation without credentials (as for a secured one) and 405 for other methods, as JSON', async () => {
    const missing = await call(`/checkin/${ns}/nope`, { method: 'POST' });
    expect(missing.status).toBe(401);
    expect(missing.body.error).toMatchObject({ reason: 'Unauthorized' });
    expect(missing.body.error?.message).toContain(`${ns}/nope`);
    const put = await call(`/checkin/${ns}/basic`, { method: 'PUT' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, HEAD, POST');
    const bad = await call(`/checkin/${ns}/basic/256`, { method: 'POST' });
    expect(bad.status).toBe(400);
    const json = await call(`/checkin/${ns}/basic`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"runId": ' });
    expect(json.status).toBe(400);
    expect(json.body.error?.reason).toBe('MalformedJSON');
  });

  it('answers 429 with Retry-After when a Reservation is flooded', async () => {
    await createReservation(admin, ns, 'flood', { every: '1m', anonymous: true });
    const limited = await startCheckinServer(kc, { rateLimit: { perSecond: 1, burst: 3 } });
    try {
      const answers = await Promise.all(Array.from({ length: 6 }, () => call(`/checkin/${ns}/flood/log`, { method: 'POST' }, limited.url)));
      expect(answers.filter((a) => a.status === 200)).toHaveLength(3);
      const refused = answers.filter((a) => a.status === 429);
      expect(refused).toHaveLength(3);
      expect(Number(refused[0]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(refused[0]!.body.error?.reason).toBe('RateLimited');
    } finally {
      await limited.close();
    }
  });

  it('answers 503 with Retry-After while the apiserver cannot be reached, and stores once it can', async () => {
    await createReservation(admin, ns, 'outage', { every: '5m', anonymous: true });
    const proxy = await TcpProxy.start(kc.getCurrentCluster()!.server);
    const viaProxy = await startCheckinServer(proxy.kubeConfig(kc), { rateLimit: false, reservationCacheTtlMs: 0 });
    try {
      expect((await call(`/checkin/${ns}/outage/log`, { method: 'POST', body: 'before' }, viaProxy.url)).status).toBe(200);
      await proxy.pause();
      const during = await Promise.all([1, 2, 3].map((i) => call(`/checkin/${ns}/outage/log?rid=d${i}`, { method: 'POST', body: 'during' }, viaProxy.url)));
      for (const a of during) {
        expect(a.status).toBe(503);
        expect(a.body.error?.reason).toBe('Unavailable');
        expect(Number(a.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      }
      expect((await getReservation(admin, ns, 'outage')).status?.checkins).toBe(1);
      await proxy.resume();
      const after = await eventually(async () => {
        const a = await call(`/checkin/${ns}/outage/log`, { method: 'POST', body: 'after' }, viaProxy.url);
        return a.status === 200 ? a : undefined;
      });
      expect(after.body.checkins).toBe(2);
      const stored: Reservation = await getReservation(admin, ns, 'outage');
      expect(stored.status?.recent?.map((c) => c.message)).toEqual(['before', 'after']);
    } finally {
      await viaProxy.close();
      await proxy.pause();
    }
  });
});
