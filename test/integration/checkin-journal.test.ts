// The check-in journal against a real apiserver: under a status-write budget check-ins are
// acknowledged from journal batches (ConfigMaps) and folded into status later, each counted once
// (retries, replays); the leader folds the journal of a replica that died; the judge puts off a
// Missed verdict that an acknowledged, unfolded check-in contradicts; a clean stop folds everything.
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Reservation } from '../../src/api/reservation.ts';
import { JOURNAL_DATA_KEY, JOURNAL_LABEL, ShardJournal, batchName, configMapPath, leaseName, type JournalRecord } from '../../src/checkin/journal.ts';
import { leasePath } from '../../src/k8s/leader-election.ts';
import { JournalSweeper, foldBatch } from '../../src/checkin/journal-sweeper.ts';
import { JournalView, parseBatch } from '../../src/checkin/journal-view.ts';
import { CheckinStore } from '../../src/checkin/store.ts';
import { microTime } from '../../src/k8s/leader-election.ts';
import { KubeApiError, KubeRest } from '../../src/k8s/rest.ts';
import { StatusWriter } from '../../src/k8s/status-writer.ts';
import type { Operator } from '../../src/operator/operator.ts';
import { createReservation, getReservation, startCheckinServer, type CheckinServer } from './checkin-helpers.ts';
import { eventually, freshNamespace, kubeConfig } from './helpers.ts';
import { events, startOperator } from './operator-harness.ts';

const kc = kubeConfig();
const admin = new KubeRest(kc);

interface JournalConfigMap {
  metadata: { name: string; labels?: Record<string, string>; resourceVersion?: string; uid?: string; creationTimestamp?: string };
  data?: Record<string, string>;
}

interface ShardLease {
  metadata: { name: string; labels?: Record<string, string> };
  spec: { holderIdentity?: string; leaseDurationSeconds?: number; renewTime?: string };
}

interface Answer {
  status: number;
  body: { ok?: boolean; storedIn?: string; duplicate?: boolean; checkins?: number; state?: string; error?: { reason: string; message: string } };
}

/** Things a test started, stopped after it whatever happened (last started, first stopped). */
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const stop of cleanups.splice(0).reverse()) await stop().catch(() => {});
});
afterAll(() => admin.close());

function id(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

async function checkin(base: string, ns: string, name: string, rid: string, action = ''): Promise<Answer> {
  const res = await fetch(`${base}/checkin/${ns}/${name}${action}?rid=${encodeURIComponent(rid)}`, { method: 'POST' });
  return { status: res.status, body: (await res.json()) as Answer['body'] };
}

/** The journal batches in `ns`, of one shard or of all. */
async function batches(ns: string, shard?: string): Promise<JournalConfigMap[]> {
  const selector = encodeURIComponent(shard ? `${JOURNAL_LABEL}=${shard}` : JOURNAL_LABEL);
  const list = await admin.request<{ items: JournalConfigMap[] }>({ method: 'GET', path: `${configMapPath(ns)}?labelSelector=${selector}` });
  return list.items;
}

function records(cms: JournalConfigMap[]): JournalRecord[] {
  return cms.flatMap((cm) => JSON.parse(cm.data?.[JOURNAL_DATA_KEY] ?? '[]') as JournalRecord[]);
}

/** A shard's Lease, or undefined once it is gone. */
async function shardLease(ns: string, shard: string): Promise<ShardLease | undefined> {
  try {
    return await admin.request<ShardLease>({ method: 'GET', path: leasePath(ns, leaseName(shard)) });
  } catch (err) {
    if (err instanceof KubeApiError && err.code === 404) return undefined;
    throw err;
  }
}

async function createLease(ns: string, shard: string, renewMs: number, durationSeconds: number): Promise<void> {
  await admin.request({
    method: 'POST',
    path: leasePath(ns),
    body: {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: leaseName(shard), labels: { [JOURNAL_LABEL]: shard } },
      spec: { holderIdentity: `replica-${shard}`, leaseDurationSeconds: durationSeconds, renewTime: microTime(renewMs), acquireTime: microTime(renewMs) },
    },
  });
}

/** The shard's process is gone: its Lease was last renewed an hour ago. */
async function expireLease(ns: string, shard: string): Promise<void> {
  await admin.request({
    method: 'PATCH',
    path: leasePath(ns, leaseName(shard)),
    contentType: 'application/merge-patch+json',
    body: { spec: { renewTime: microTime(Date.now() - 3_600_000) } },
  });
}

async function createBatch(ns: string, shard: string, recs: JournalRecord[]): Promise<void> {
  await admin.request({
    method: 'POST',
    path: configMapPath(ns),
    body: {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: batchName(shard, recs[0]!.seq), labels: { [JOURNAL_LABEL]: shard } },
      data: { [JOURNAL_DATA_KEY]: JSON.stringify(recs) },
    },
  });
}

function runIds(r: Reservation, signal?: string): string[] {
  return (r.status?.recent ?? [])
    .filter((c) => c.runId !== undefined && (!signal || c.signal === signal))
    .map((c) => c.runId!)
    .sort();
}

function mark(r: Reservation, shard: string): number | undefined {
  return r.status?.journal?.find((m) => m.shard === shard)?.seq;
}

/** A check-in server whose store has a journal of its own in `ns` (both stopped after the test unless `abandon`ed). */
async function journaledServer(
  ns: string,
  shard: string,
  store: { statusWritesPerSecond: number; statusWriteBurst: number; maxFoldLagMs?: number },
): Promise<{ server: CheckinServer; journal: ShardJournal; store: CheckinStore; writes: number[] }> {
  const rest = new KubeRest(kc);
  const writes: number[] = [];
  const writer = new StatusWriter(rest, { onWrite: (_k, n) => writes.push(n) });
  const journal = new ShardJournal(rest, { namespace: ns, shard, identity: `test-${shard}` });
  const checkins = new CheckinStore({ writer, journal, ...store });
  const server = await startCheckinServer(kc, { journal, store: checkins, rateLimit: false });
  cleanups.push(async () => {
    await server.close();
    await journal.stop(false);
    rest.close();
  });
  await journal.start();
  return { server, journal, store: checkins, writes };
}

describe('the check-in journal', () => {
  let ns: string;
  beforeAll(async () => {
    ns = await freshNamespace('checkin-journal');
  });

  it('acknowledges 200 concurrent check-ins over a 1-write/s status budget, then folds each exactly once', async () => {
    const shard = id('load');
    const { server, journal, store, writes } = await journaledServer(ns, shard, { statusWritesPerSecond: 1, statusWriteBurst: 1, maxFoldLagMs: 10_000 });
    expect(await shardLease(ns, shard)).toMatchObject({ spec: { holderIdentity: `test-${shard}` } });

    const names = Array.from({ length: 20 }, (_, i) => `load-${i}`);
    await Promise.all(names.map((name) => createReservation(admin, ns, name, { every: '1h', anonymous: true })));
    const sent = new Map(names.map((name) => [name, Array.from({ length: 10 }, (_, j) => `${name}-run-${j}`)]));
    const calls = [...sent].flatMap(([name, rids]) => rids.map((rid) => ({ name, rid })));
    const answers = await Promise.all(calls.map(({ name, rid }) => checkin(server.url, ns, name, rid)));

    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(answers.every((a) => a.body.ok === true && a.body.duplicate === false)).toBe(true);
    const journaled = answers.filter((a) => a.body.storedIn === 'journal').length;
    const inStatus = answers.filter((a) => a.body.storedIn === 'status').length;
    expect(journaled + inStatus).toBe(200);
    // One token at first and about one a second after it: most can only have been journaled.
    expect(journaled).toBeGreaterThanOrEqual(100);
    // Acknowledged from the journal and not folded yet: their batches are in the apiserver.
    const open = records(await batches(ns, shard));
    expect(open.length).toBeGreaterThan(0);
    expect(open.every((r) => r.key.startsWith(`${ns}/load-`))).toBe(true);

    // Every Reservation ends up with exactly what it was sent: none lost, none counted twice.
    const folded = await eventually(
      async () => {
        const all = await Promise.all(names.map((name) => getReservation(admin, ns, name)));
        return all.every((r) => r.status?.checkins === 10) ? all : undefined;
      },
      40_000,
      'every Reservation to hold its 10 check-ins',
    );
    for (const r of folded) {
      expect(runIds(r, 'success')).toEqual([...sent.get(r.metadata.name)!].sort());
      expect(mark(r, shard)).toBeGreaterThanOrEqual(10);
    }
    // Sequence numbers 1..200 were handed out, one per check-in; the highest is folded.
    expect(Math.max(...folded.map((r) => mark(r, shard)!))).toBe(200);
    // Far fewer status writes than check-ins.
    expect(writes.length).toBeLessThan(200);

    // Each batch goes once all its records are folded.
    await eventually(async () => (await batches(ns, shard)).length === 0, 15_000, 'the journal batches to be deleted');
    expect(store.unfolded).toBe(0);
    expect(journal.open).toBe(0);
    await journal.stop(true);
    expect(await shardLease(ns, shard)).toBeUndefined();
  });

  it('counts a (runId, signal) retried while the first is only in the journal once', async () => {
    const shard = id('retry');
    // One status write, then one every 5 s: the check-ins sent right after the first are journaled.
    const { server, journal } = await journaledServer(ns, shard, { statusWritesPerSecond: 0.2, statusWriteBurst: 1, maxFoldLagMs: 3_600_000 });
    await createReservation(admin, ns, 'retried', { every: '1h', anonymous: true });

    const warm = await checkin(server.url, ns, 'retried', 'warm');
    expect(warm).toMatchObject({ status: 200, body: { storedIn: 'status', duplicate: false, checkins: 1 } });
    const first = await checkin(server.url, ns, 'retried', 'r1');
    expect(first).toMatchObject({ status: 200, body: { storedIn: 'journal', duplicate: false } });
    const retry = await checkin(server.url, ns, 'retried', 'r1');
    expect(retry).toMatchObject({ status: 200, body: { storedIn: 'journal', duplicate: true } });

    // Both are only in the journal so far.
    expect((await getReservation(admin, ns, 'retried')).status?.checkins).toBe(1);
    const journaled = records(await batches(ns, shard));
    expect(journaled.filter((r) => r.input.runId === 'r1')).toHaveLength(2);

    // Folded with the next token: the run counts once.
    const r = await eventually(async () => {
      const current = await getReservation(admin, ns, 'retried');
      return (current.status?.checkins ?? 0) > 1 ? current : undefined;
    }, 20_000, 'the journaled check-ins to be folded');
    expect(r.status?.checkins).toBe(2);
    expect(runIds(r)).toEqual(['r1', 'warm']);
    expect(mark(r, shard)).toBeGreaterThanOrEqual(2);
    await eventually(async () => (await batches(ns, shard)).length === 0, 10_000, 'the journal batches to be deleted');

    // Retried once more after folding (through the journal or not): still a duplicate.
    const late = await checkin(server.url, ns, 'retried', 'r1');
    expect(late).toMatchObject({ status: 200, body: { duplicate: true, checkins: 2 } });
    await eventually(async () => (await batches(ns, shard)).length === 0, 20_000, 'the journal batches to be deleted');
    expect((await getReservation(admin, ns, 'retried')).status?.checkins).toBe(2);
    await journal.stop(true);
    expect(await shardLease(ns, shard)).toBeUndefined();
  });

  it('flush() writes at once a Reservation waiting in line for a status-write token', async () => {
    const ns = await freshNamespace('flush');
    const rest = new KubeRest(kc);
    const journal = new ShardJournal(rest, { namespace: ns, shard: `f${randomBytes(3).toString('hex')}`, identity: 'test' });
    cleanups.push(async () => {
      await journal.stop(true);
      rest.close();
    });
    // One token, then one a hundred seconds: the second check-in can only go to the journal.
    const store = new CheckinStore({ writer: new StatusWriter(rest), journal, statusWritesPerSecond: 0.01, statusWriteBurst: 1 });
    await createReservation(rest, ns, 'r', { every: '1h' });
    expect((await store.submit(ns, 'r', { signal: 'success', runId: 'a' }, new Date())).storedIn).toBe('status');
    expect((await store.submit(ns, 'r', { signal: 'success', runId: 'b' }, new Date())).storedIn).toBe('journal');
    await store.flush(5_000);
    expect(store.unfolded).toBe(0);
    expect((await getReservation(rest, ns, 'r')).status?.checkins).toBe(2);
  });

  it('holds back a replica\'s check-ins while another replica\'s older one for the same Reservation waits unfolded', async () => {
    const ns = await freshNamespace('turns');
    const rest = new KubeRest(kc);
    const view = new JournalView(rest, { namespace: ns });
    for (const inf of view.informers) inf.start();
    const journalA = new ShardJournal(rest, { namespace: ns, shard: `a${randomBytes(3).toString('hex')}`, identity: 'replica-a' });
    const journalB = new ShardJournal(rest, { namespace: ns, shard: `b${randomBytes(3).toString('hex')}`, identity: 'replica-b' });
    cleanups.push(async () => {
      await journalA.stop(true);
      await journalB.stop(true);
      await Promise.all(view.informers.map((inf) => inf.stop()));
      rest.close();
    });
    await Promise.all(view.informers.map((inf) => inf.waitForSync()));
    const writer = new StatusWriter(rest);
    // Replica B: one status write, then (almost) none: its next check-in stays in its journal.
    const storeB = new CheckinStore({ writer, journal: journalB, statusWritesPerSecond: 0.001, statusWriteBurst: 1 });
    const storeA = new CheckinStore({ writer, journal: journalA, foreignUnfolded: (key, status) => view.unfolded(key, status) });
    await createReservation(rest, ns, 'turns', { every: '1h' });
    expect((await storeB.submit(ns, 'turns', { signal: 'success', runId: 'warm' }, new Date())).storedIn).toBe('status');
    expect((await storeB.submit(ns, 'turns', { signal: 'success', runId: 'b1' }, new Date())).storedIn).toBe('journal');
    await eventually(async () => view.unfolded(`${ns}/turns`, (await getReservation(rest, ns, 'turns')).status).length === 1, 10_000, 'replica A to see B\'s journaled check-in');

    // A's later check-in is acknowledged (from A's journal) but not folded before B's.
    const a1 = await storeA.submit(ns, 'turns', { signal: 'success', runId: 'a1' }, new Date());
    expect(a1.storedIn).toBe('journal');
    expect((await getReservation(rest, ns, 'turns')).status?.checkins).toBe(1);

    await storeB.flush(5_000);
    const folded = await eventually(async () => {
      const r = await getReservation(rest, ns, 'turns');
      return r.status?.checkins === 3 ? r : undefined;
    }, 15_000, 'both replicas\' check-ins folded');
    expect(folded.status?.recent?.map((c) => c.runId)).toEqual(['warm', 'b1', 'a1']);
    await storeA.flush(5_000);
    expect(storeA.unfolded).toBe(0);
  });

  it('shows a replica its own unfolded check-ins once, from its journal, beside another replica\'s from the watch', async () => {
    const ns = await freshNamespace('own-view');
    const rest = new KubeRest(kc);
    const own = new ShardJournal(rest, { namespace: ns, shard: `o${randomBytes(3).toString('hex')}`, identity: 'replica-own' });
    const other = new ShardJournal(rest, { namespace: ns, shard: `x${randomBytes(3).toString('hex')}`, identity: 'replica-other' });
    const view = new JournalView(rest, { namespace: ns, own });
    for (const inf of view.informers) inf.start();
    cleanups.push(async () => {
      await own.stop(false);
      await other.stop(false);
      await Promise.all(view.informers.map((inf) => inf.stop()));
      rest.close();
    });
    await Promise.all(view.informers.map((inf) => inf.waitForSync()));
    const key = `${ns}/shared`;
    const at = (ms: number): string => new Date(Date.now() - ms).toISOString();
    await Promise.all([
      own.append({ key, seq: 1, time: at(3000), input: { signal: 'success', runId: 'own-1' } }),
      own.append({ key, seq: 2, time: at(1000), input: { signal: 'success', runId: 'own-2' } }),
    ]);
    // Both of ours as soon as they are stored (no watch needed) ...
    expect(view.unfolded(key, undefined).map((i) => i.input.runId)).toEqual(['own-1', 'own-2']);
    await other.append({ key, seq: 7, time: at(2000), input: { signal: 'success', runId: 'other-7' } });
    // ... the other's once its batch is watched; none twice, in order of arrival.
    await eventually(() => Promise.resolve(view.unfolded(key, undefined).length === 3), 10_000, 'the other replica\'s batch to be watched');
    expect(view.unfolded(key, undefined).map((i) => i.input.runId)).toEqual(['own-1', 'other-7', 'own-2']);
    // Our mark in status hides what it holds.
    const status = { journal: [{ shard: own.shard, seq: 1, time: at(0) }] };
    expect(view.unfolded(key, status).map((i) => i.input.runId)).toEqual(['other-7', 'own-2']);
  });

  it('folds the journal of a replica that died once its Lease expired, once, and deletes its batches and Lease', async () => {
    const crashed = id('crashed');
    const { server, journal } = await journaledServer(ns, crashed, { statusWritesPerSecond: 0.001, statusWriteBurst: 1, maxFoldLagMs: 3_600_000 });
    await createReservation(admin, ns, 'crash-a', { every: '1h', anonymous: true });
    await createReservation(admin, ns, 'crash-b', { every: '1h', anonymous: true });
    expect((await checkin(server.url, ns, 'crash-a', 'warm')).body.storedIn).toBe('status');

    const sends = [
      ...['a1', 'a2', 'a3'].map((rid) => checkin(server.url, ns, 'crash-a', rid)),
      ...['b1', 'b2', 'b3'].map((rid) => checkin(server.url, ns, 'crash-b', rid)),
      checkin(server.url, ns, 'crash-b', 'b4', '/3'),
    ];
    const answers = await Promise.all(sends);
    expect(answers.map((a) => [a.status, a.body.storedIn])).toEqual(Array.from({ length: 7 }, () => [200, 'journal']));

    // The replica dies: no flush, no Lease renewal, no release.
    await journal.stop(false);
    await server.close();
    expect((await getReservation(admin, ns, 'crash-a')).status?.checkins).toBe(1);
    expect((await getReservation(admin, ns, 'crash-b')).status?.checkins ?? 0).toBe(0);
    const left = await batches(ns, crashed);
    expect(records(left).map((r) => r.input.runId).sort()).toEqual(['a1', 'a2', 'a3', 'b1', 'b2', 'b3', 'b4']);
    expect(await shardLease(ns, crashed)).toBeDefined();

    // The leader (another shard).
    const rest = new KubeRest(kc);
    const view = new JournalView(rest, { namespace: ns });
    for (const inf of view.informers) inf.start();
    cleanups.push(async () => {
      await Promise.all(view.informers.map((inf) => inf.stop()));
      rest.close();
    });
    await Promise.all(view.informers.map((inf) => inf.waitForSync()));
    const leader = id('leader');
    const writer = new StatusWriter(rest);
    const sweeper = new JournalSweeper({ rest, writer, view, namespace: ns, shard: leader, isLeader: () => true });
    await eventually(() => Promise.resolve(view.unfolded(`${ns}/crash-b`, undefined).length === 4), 10_000, 'the view to see the batches');

    // While its Lease is fresh the shard is alive: nothing is swept.
    expect([...view.orphans(Date.now(), leader).values()].flat()).toEqual([]);
    await sweeper.sweep();
    expect((await getReservation(admin, ns, 'crash-b')).status?.checkins ?? 0).toBe(0);
    expect(await batches(ns, crashed)).toHaveLength(left.length);

    await expireLease(ns, crashed);
    await eventually(() => Promise.resolve([...view.orphans(Date.now(), leader).values()].flat().length === left.length), 10_000, 'the shard to look dead');
    await sweeper.sweep();
    const a = await getReservation(admin, ns, 'crash-a');
    const b = await getReservation(admin, ns, 'crash-b');
    expect(a.status?.checkins).toBe(4);
    expect(runIds(a)).toEqual(['a1', 'a2', 'a3', 'warm']);
    expect(b.status?.checkins).toBe(4);
    expect(runIds(b)).toEqual(['b1', 'b2', 'b3', 'b4']);
    expect(b.status?.lastCheckin).toMatchObject({ signal: 'fail', exitCode: 3, runId: 'b4' });
    // Sequence numbers 1 (warm, in status) to 8: each Reservation's mark is its highest.
    expect(mark(a, crashed)).toBeGreaterThanOrEqual(4);
    expect(mark(b, crashed)).toBeGreaterThanOrEqual(5);
    expect(Math.max(mark(a, crashed)!, mark(b, crashed)!)).toBe(8);

    // A replay (the batches back, as if the sweep's delete was lost): nothing counts twice.
    for (const cm of left) expect(await foldBatch(writer, parseBatch(cm)!)).toBe(0);
    expect(await batches(ns, crashed)).toEqual([]);
    // The sweep may have deleted the dead Lease already; a batch with no Lease in sight is only
    // swept once it is 15 s old (ORPHAN_MIN_AGE_MS), so the replayed shard gets its expired Lease back.
    if (!(await shardLease(ns, crashed))) await createLease(ns, crashed, Date.now() - 3_600_000, 30);
    for (const cm of left) await createBatch(ns, crashed, JSON.parse(cm.data![JOURNAL_DATA_KEY]!) as JournalRecord[]);
    await eventually(() => Promise.resolve([...view.orphans(Date.now(), leader).values()].flat().length === left.length), 10_000, 'the view to see the replayed batches');
    await sweeper.sweep();
    expect((await getReservation(admin, ns, 'crash-a')).status?.checkins).toBe(4);
    expect((await getReservation(admin, ns, 'crash-b')).status?.checkins).toBe(4);

    // Batches and then the dead shard's Lease go.
    await eventually(
      async () => {
        await sweeper.sweep();
        return (await batches(ns, crashed)).length === 0 && (await shardLease(ns, crashed)) === undefined;
      },
      20_000,
      'the batches and the dead Lease to be deleted',
    );
    expect((await getReservation(admin, ns, 'crash-b')).status?.checkins).toBe(4);
  });
});

describe('the check-in journal in the operator', () => {
  const running: Operator[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((op) => op.stop()));
  });

  async function operator(ns: string, overrides = {}): Promise<Operator> {
    const op = await startOperator(ns, overrides);
    running.push(op);
    await eventually(() => Promise.resolve(op.isLeader), 15_000, 'leadership');
    return op;
  }

  async function pendingDeadline(ns: string, name: string): Promise<number> {
    const r = await eventually(async () => {
      const current = await getReservation(admin, ns, name);
      return current.status?.state === 'Pending' && current.status.deadline ? current : undefined;
    }, 15_000, `${name} to be Pending with a deadline`);
    return Date.parse(r.status!.deadline!);
  }

  it('does not judge Missed a run whose check-in is acknowledged in a live replica\'s journal, and counts it once folded', async () => {
    const ns = await freshNamespace('journal-judge');
    const op = await operator(ns);
    // every 2s: the first run is due 2s after creation, its deadline 15s later.
    await createReservation(admin, ns, 'journaled', { every: '2s', grace: '15s' });
    await createReservation(admin, ns, 'control', { every: '2s', grace: '15s' });
    const deadline = await pendingDeadline(ns, 'journaled');
    const controlDeadline = await pendingDeadline(ns, 'control');

    // Another replica, alive, acknowledged a success just before the deadline and has not folded it.
    const shard = id('foreign');
    const time = deadline - 1000;
    await createLease(ns, shard, Date.now(), 300);
    await createBatch(ns, shard, [{ key: `${ns}/journaled`, seq: 1, time: new Date(time).toISOString(), input: { signal: 'success', runId: 'foreign-1', source: 'http' } }]);
    await eventually(() => Promise.resolve(op.journalView.unfolded(`${ns}/journaled`, undefined).length === 1), 10_000, 'the operator to see the batch');
    // The setup is meaningful only if it was in place before the deadline.
    expect(Date.now()).toBeLessThan(time);

    // The control, with no check-in anywhere, is judged Missed at its deadline ...
    await eventually(async () => (await getReservation(admin, ns, 'control')).status?.state === 'Missed', controlDeadline - Date.now() + 15_000, 'control to be Missed');
    // ... and the journaled one is not, for as long as we look (past its deadline: the verdict is put off, not just late).
    const seen = new Set<string>();
    await eventually(
      async () => {
        const r = await getReservation(admin, ns, 'journaled');
        seen.add(`${r.status?.state}/${r.status?.checkins ?? 0}`);
        return Date.now() > Math.max(deadline, controlDeadline) + 2_000;
      },
      Math.max(deadline, controlDeadline) - Date.now() + 10_000,
      'two seconds past the deadline',
    );
    expect([...seen]).toEqual(['Pending/0']);
    expect((await events(ns, 'journaled')).map((e) => e.reason)).not.toContain('Missed');

    // The replica dies: the leader folds its batch, and status counts the check-in.
    await expireLease(ns, shard);
    const folded = await eventually(async () => {
      const r = await getReservation(admin, ns, 'journaled');
      return (r.status?.checkins ?? 0) > 0 ? r : undefined;
    }, 20_000, 'the leader to fold the dead replica\'s batch');
    // Folded in time, so never Missed: its next deadline is 16s after the check-in.
    expect(Date.now()).toBeLessThan(time + 17_000);
    expect(folded.status).toMatchObject({ checkins: 1, state: 'Healthy', consecutiveFailures: 0 });
    expect(Date.parse(folded.status!.lastSuccessTime!)).toBe(time);
    expect(mark(folded, shard)).toBe(1);
    expect((await events(ns, 'journaled')).map((e) => e.reason)).not.toContain('Missed');
    await eventually(
      async () => (await batches(ns, shard)).length === 0 && (await shardLease(ns, shard)) === undefined,
      20_000,
      'the folded batch and the dead Lease to be deleted',
    );
    expect((await getReservation(admin, ns, 'journaled')).status?.checkins).toBe(1);
  });

  it('folds every journaled check-in on a clean stop and leaves no batch and no Lease of its shard', async () => {
    const ns = await freshNamespace('journal-stop');
    const op = await operator(ns, { checkinStatusWritesPerSecond: 1 });
    const shard = op.shard;
    const names = ['stop-0', 'stop-1', 'stop-2', 'stop-3'];
    for (const name of names) await createReservation(admin, ns, name, { every: '1h', anonymous: true });
    await eventually(() => Promise.resolve(names.every((n) => op.reservations.get(`${ns}/${n}`))), 10_000, 'the operator to see the Reservations');

    // The burst of status writes (50) is spent one check-in at a time; then check-ins are journaled.
    let warm = 0;
    for (;;) {
      const a = await checkin(op.url!, ns, 'stop-0', `warm-${warm++}`);
      expect(a.status).toBe(200);
      if (a.body.storedIn === 'journal') break;
      expect(warm).toBeLessThan(60);
    }
    const answers = await Promise.all(names.flatMap((name) => Array.from({ length: 5 }, (_, j) => checkin(op.url!, ns, name, `${name}-run-${j}`))));
    expect(answers.map((a) => a.status)).toEqual(Array.from({ length: 20 }, () => 200));
    expect(answers.filter((a) => a.body.storedIn === 'journal').length).toBeGreaterThan(0);
    expect((await batches(ns, shard)).length).toBeGreaterThan(0);
    expect(await shardLease(ns, shard)).toMatchObject({ spec: { holderIdentity: op.config.identity } });
    const before = await Promise.all(names.map((n) => getReservation(admin, ns, n)));
    const expected = [warm + 5, 5, 5, 5];
    expect(before.map((r) => r.status?.checkins ?? 0)).not.toEqual(expected);

    running.splice(running.indexOf(op), 1);
    await op.stop();
    const after = await Promise.all(names.map((n) => getReservation(admin, ns, n)));
    expect(after.map((r) => r.status?.checkins ?? 0)).toEqual(expected);
    expect(runIds(after[1]!)).toEqual(['stop-1-run-0', 'stop-1-run-1', 'stop-1-run-2', 'stop-1-run-3', 'stop-1-run-4']);
    expect(await batches(ns, shard)).toEqual([]);
    expect(await shardLease(ns, shard)).toBeUndefined();
  });
});
