// A loopback Slack-compatible webhook receiver limited like Slack's incoming webhooks: about one
// message per second per webhook URL, a short burst, then 429 `rate_limited` with `Retry-After`.
// It keeps only what bench/scale.ts reports: per URL path the messages accepted and refused, and
// for each Reservation name found in an accepted message the first time it arrived.
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TokenBucket } from '../src/util/token-bucket.ts';

export interface LimitedReceiverOptions {
  /** Messages per second per path (Slack: about 1). */
  perSecond: number;
  /** Messages accepted at once before the rate applies. */
  burst: number;
  /** Finds the Reservation keys (`namespace/name`) a message names. */
  names: (body: string) => string[];
}

export interface LimitedReceiver {
  urlFor(path: string): string;
  /** Per path: messages accepted (200) and refused (429). */
  counts(): Map<string, { accepted: number; refused: number }>;
  /** Reservation key -> epoch ms of the first accepted message naming it. */
  readonly firstNamed: Map<string, number>;
  /** Alert group id -> epoch ms of the first accepted message of that group (it names all its members). */
  readonly groupArrivals: Map<string, number>;
  close(): Promise<void>;
}

export async function startLimitedReceiver(o: LimitedReceiverOptions): Promise<LimitedReceiver> {
  const buckets = new Map<string, TokenBucket>();
  const counts = new Map<string, { accepted: number; refused: number }>();
  const firstNamed = new Map<string, number>();
  const groupArrivals = new Map<string, number>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const now = Date.now();
      const path = req.url ?? '/';
      let bucket = buckets.get(path);
      if (!bucket) buckets.set(path, (bucket = new TokenBucket(o.burst, now)));
      let count = counts.get(path);
      if (!count) counts.set(path, (count = { accepted: 0, refused: 0 }));
      if (!bucket.take(now, o.perSecond)) {
        count.refused++;
        // Slack says when to come back in whole seconds.
        const after = Math.max(1, Math.ceil(bucket.waitMs(o.perSecond) / 1000));
        res.writeHead(429, { 'Content-Type': 'text/plain', 'Retry-After': String(after) }).end('rate_limited');
        return;
      }
      count.accepted++;
      const body = Buffer.concat(chunks).toString('utf8');
      for (const key of o.names(body)) if (!firstNamed.has(key)) firstNamed.set(key, now);
      // A grouped message shows its first names and "…and N more"; its group id stands for all.
      const group = /\bgroup ([0-9a-z]+-[0-9a-z]+)\b/.exec(body)?.[1];
      if (group && !groupArrivals.has(group)) groupArrivals.set(group, now);
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
    });
  });
  server.keepAliveTimeout = 30_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    urlFor: (path) => `${base}/${path.replace(/^\//, '')}`,
    counts: () => counts,
    firstNamed,
    groupArrivals,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
