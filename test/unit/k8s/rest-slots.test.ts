// KubeRest keeps at most REQUEST_CONCURRENCY requests in flight and queues the rest as callbacks
// (an alert storm issues tens of thousands at once; docs/capacity.md): every request is still
// answered, in the order asked, and a failed one frees its slot. A loopback HTTP server stands in
// for the network: what is tested is the client's queue, not Kubernetes.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeApiError, KubeRest, REQUEST_CONCURRENCY } from '../../../src/k8s/rest.ts';

interface Held {
  req: IncomingMessage;
  res: ServerResponse;
}

async function server(): Promise<{ rest: KubeRest; held: Held[]; arrived: () => Promise<void>; close: () => Promise<void> }> {
  const held: Held[] = [];
  let notify = (): void => {};
  const srv = createServer((req, res) => {
    held.push({ req, res });
    notify();
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  const rest = new KubeRest({ getCurrentCluster: () => ({ server: url }), applyToHTTPSOptions: () => Promise.resolve() });
  return {
    rest,
    held,
    arrived: () => new Promise<void>((resolve) => (notify = resolve)),
    close: async () => {
      rest.close();
      srv.closeAllConnections();
      srv.close();
      await once(srv, 'close');
    },
  };
}

/** Waits until the server holds `n` requests (each arrival is an event, no polling). */
async function holding(s: Awaited<ReturnType<typeof server>>, n: number): Promise<void> {
  while (s.held.length < n) await s.arrived();
}

describe('KubeRest request slots', () => {
  let s: Awaited<ReturnType<typeof server>> | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  it('holds back what exceeds REQUEST_CONCURRENCY, then answers every request in the order asked', async () => {
    s = await server();
    const total = REQUEST_CONCURRENCY * 3 + 5;
    const answers = Array.from({ length: total }, (_, i) => s!.rest.request<{ i: number }>({ method: 'GET', path: `/r/${i}` }));
    await holding(s, REQUEST_CONCURRENCY);
    expect(s.rest.queuedRequests).toBe(total - REQUEST_CONCURRENCY);
    // Answer one at a time: each answer lets exactly one waiting request reach the server.
    const order: string[] = [];
    for (let answered = 0; answered < total; answered++) {
      await holding(s, Math.min(total, answered + REQUEST_CONCURRENCY));
      expect(s.held.length).toBe(Math.min(total, answered + REQUEST_CONCURRENCY));
      const { req, res } = s.held[answered]!;
      order.push(req.url!);
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ i: answered }));
    }
    expect(order).toEqual(Array.from({ length: total }, (_, i) => `/r/${i}`));
    expect((await Promise.all(answers)).map((a) => a.i)).toEqual(Array.from({ length: total }, (_, i) => i));
    expect(s.rest.queuedRequests).toBe(0);
  });

  it('a refused request frees its slot for the next one', async () => {
    s = await server();
    const total = REQUEST_CONCURRENCY + 1;
    const answers = Array.from({ length: total }, (_, i) => s!.rest.request({ method: 'GET', path: `/r/${i}` }).then(() => 'ok', (err: unknown) => err));
    await holding(s, REQUEST_CONCURRENCY);
    s.held[0]!.res.writeHead(500, { 'Content-Type': 'application/json' }).end(JSON.stringify({ reason: 'InternalError', message: 'etcd away' }));
    await holding(s, total);
    for (const { res } of s.held.slice(1)) res.writeHead(200).end('{}');
    const results = await Promise.all(answers);
    expect(results[0]).toBeInstanceOf(KubeApiError);
    expect((results[0] as KubeApiError).code).toBe(500);
    expect(results.slice(1)).toEqual(Array.from({ length: total - 1 }, () => 'ok'));
  });

  it('an urgent request (the leader Lease) goes before those already waiting', async () => {
    s = await server();
    const answers = Array.from({ length: REQUEST_CONCURRENCY + 3 }, (_, i) => s!.rest.request({ method: 'GET', path: `/r/${i}` }));
    await holding(s, REQUEST_CONCURRENCY);
    const lease = s.rest.request({ method: 'GET', path: '/lease', urgent: true });
    s.held[0]!.res.writeHead(200).end('{}');
    await holding(s, REQUEST_CONCURRENCY + 1);
    expect(s.held[REQUEST_CONCURRENCY]!.req.url).toBe('/lease');
    for (let i = 1; i < REQUEST_CONCURRENCY + 4; i++) {
      await holding(s, Math.min(REQUEST_CONCURRENCY + 4, i + REQUEST_CONCURRENCY));
      s.held[i]!.res.writeHead(200).end('{}');
    }
    await Promise.all([...answers, lease]);
    expect(s.held.map((h) => h.req.url).slice(REQUEST_CONCURRENCY)).toEqual(['/lease', `/r/${REQUEST_CONCURRENCY}`, `/r/${REQUEST_CONCURRENCY + 1}`, `/r/${REQUEST_CONCURRENCY + 2}`]);
  });
});
