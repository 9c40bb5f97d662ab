// Sharding with --selector: two operators on one apiserver, with disjoint label selectors and even
// the same leader-election namespace, judge disjoint sets of Reservations. Each Reservation's
// alert comes from exactly one shard (its own receiver), each shard's leader holds its own Lease,
// and a check-in for a Reservation outside a shard is answered 404 NotInShard there.
import { afterEach, describe, expect, it } from 'vitest';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION, type Reservation } from '../../src/api/reservation.ts';
import { startSlackReceiver, type SlackReceiver } from '../../src/dev/slack-receiver.ts';
import { leasePath, type Lease } from '../../src/k8s/leader-election.ts';
import { leaderLeaseName } from '../../src/operator/config.ts';
import type { Operator } from '../../src/operator/operator.ts';
import { eventually, freshNamespace } from './helpers.ts';
import { getReservation, rest, startOperator } from './operator-harness.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function labelled(ns: string, name: string, shard: string): Promise<Reservation> {
  return rest.request<Reservation>({
    method: 'POST',
    path: `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${PLURAL}`,
    body: { apiVersion: API_VERSION, kind: KIND, metadata: { name, labels: { 'gotel.io/shard': shard } }, spec: { every: '2s', grace: '1s', anonymous: true } },
  });
}

async function shard(ns: string, selector: string, receiver: SlackReceiver): Promise<Operator> {
  const op = await startOperator(ns, { selector, leaderLeaseName: leaderLeaseName(selector), slackWebhookUrl: receiver.url });
  cleanups.push(() => op.stop());
  return op;
}

const named = (r: SlackReceiver, ns: string): string[] => r.delivered.flatMap((d) => [...JSON.stringify(d.body).matchAll(new RegExp(`${ns}/([a-z0-9-]+)`, 'g'))].map((m) => m[1]!));

describe('shards (--selector)', () => {
  it('two operators with disjoint selectors judge disjoint sets, each under its own leader Lease', async () => {
    const ns = await freshNamespace('shards');
    const [slackA, slackB] = [await startSlackReceiver(), await startSlackReceiver()];
    cleanups.push(() => slackA.close(), () => slackB.close());
    const a = await shard(ns, 'gotel.io/shard=a', slackA);
    const b = await shard(ns, 'gotel.io/shard in (b)', slackB);
    const inA = ['a-0', 'a-1', 'a-2'];
    const inB = ['b-0', 'b-1', 'b-2'];
    for (const n of inA) await labelled(ns, n, 'a');
    for (const n of inB) await labelled(ns, n, 'b');

    // Every Reservation is alerted (Missed), each by its own shard only.
    await eventually(() => Promise.resolve((inA.every((n) => named(slackA, ns).includes(n)) && inB.every((n) => named(slackB, ns).includes(n))) || undefined), 30_000, 'every Reservation alerted');
    expect(named(slackA, ns).filter((n) => !inA.includes(n))).toEqual([]);
    expect(named(slackB, ns).filter((n) => !inB.includes(n))).toEqual([]);
    for (const n of [...inA, ...inB]) expect((await getReservation(ns, n)).status?.state).toBe('Missed');

    // Both lead, each its own Lease.
    const leaseA = await rest.request<Lease>({ method: 'GET', path: leasePath(ns, a.config.leaderLeaseName) });
    const leaseB = await rest.request<Lease>({ method: 'GET', path: leasePath(ns, b.config.leaderLeaseName) });
    expect(a.config.leaderLeaseName).not.toBe(b.config.leaderLeaseName);
    expect([leaseA.spec.holderIdentity, leaseB.spec.holderIdentity]).toEqual([a.config.identity, b.config.identity]);
    expect(a.isLeader && b.isLeader).toBe(true);

    // Check-ins: a shard takes its own, and names the problem for the other shard's.
    const own = await fetch(`${a.url}/checkin/${ns}/a-0`, { method: 'POST' });
    expect(own.status).toBe(200);
    const other = await fetch(`${a.url}/checkin/${ns}/b-0`, { method: 'POST' });
    expect(other.status).toBe(404);
    const body = (await other.json()) as { error: { reason: string; message: string } };
    expect(body.error.reason).toBe('NotInShard');
    expect(body.error.message).toContain('gotel.io/shard=a');
  });
});
