// The shared status writer against a real apiserver: concurrent mutations are all stored, batched
// into fewer writes, and a stale copy (409 Conflict) is read again and retried, losing nothing.
import { beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION, type Reservation, type ReservationStatus } from '../../src/api/reservation.ts';
import { KubeApiError, KubeRest } from '../../src/k8s/rest.ts';
import { StatusWriter, mergePatch, reservationPath } from '../../src/k8s/status-writer.ts';
import { clients, freshNamespace, kubeConfig } from './helpers.ts';

const kc = kubeConfig();
const rest = new KubeRest(kc);
let namespace: string;

beforeAll(async () => {
  namespace = await freshNamespace('writer');
});

async function create(name: string): Promise<Reservation> {
  return (await clients(kc).custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: PLURAL,
    body: { apiVersion: API_VERSION, kind: KIND, metadata: { name }, spec: { every: '5m' } },
  })) as Reservation;
}

const increment = (r: Reservation): ReservationStatus => ({ ...r.status, checkins: (r.status?.checkins ?? 0) + 1 });

describe('StatusWriter', () => {
  it('stores every one of 50 concurrent mutations, in fewer writes', async () => {
    await create('concurrent');
    const writes: number[] = [];
    const writer = new StatusWriter(rest, { onWrite: (_key, size) => writes.push(size) });
    const results = await Promise.all(Array.from({ length: 50 }, () => writer.update(namespace, 'concurrent', increment)));
    const stored = await rest.request<Reservation>({ method: 'GET', path: reservationPath(namespace, 'concurrent') });
    expect(stored.status?.checkins).toBe(50);
    expect(writes.reduce((a, b) => a + b, 0)).toBe(50);
    expect(writes.length).toBeLessThan(50);
    // Every caller saw its own mutation stored.
    expect(Math.max(...results.map((r) => r.status?.checkins ?? 0))).toBe(50);
  });

  it('reads again and retries when its copy is stale (409), losing no update', async () => {
    const created = await create('stale');
    const writer = new StatusWriter(rest);
    await writer.update(namespace, 'stale', increment);
    // Someone else writes meanwhile; the writer's remembered copy is now stale.
    const other = new StatusWriter(rest);
    await other.update(namespace, 'stale', (r) => ({ ...r.status, checkins: (r.status?.checkins ?? 0) + 10 }));
    writer.observe(created); // an even older copy: must not win
    const result = await writer.update(namespace, 'stale', increment);
    expect(result.status?.checkins).toBe(12);
  });

  it('removes fields a mutation drops, and skips the write when nothing changed', async () => {
    await create('removal');
    const writes: number[] = [];
    const writer = new StatusWriter(rest, { onWrite: (_k, n) => writes.push(n) });
    await writer.update(namespace, 'removal', (r) => ({ ...r.status, state: 'Late', deadline: '2030-01-01T00:00:00Z' }));
    const after = await writer.update(namespace, 'removal', (r) => ({ ...r.status, state: 'Healthy', deadline: undefined }));
    expect(after.status?.state).toBe('Healthy');
    expect(after.status?.deadline).toBeUndefined();
    await writer.update(namespace, 'removal', () => null);
    expect(writes).toHaveLength(2);
  });

  it('rejects with 404 for a Reservation that does not exist', async () => {
    const writer = new StatusWriter(rest);
    const error = await writer.update(namespace, 'no-such-reservation', increment).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KubeApiError);
    expect((error as KubeApiError).code).toBe(404);
  });

  it('lets the apiserver refuse a status the schema forbids, without losing the stored one', async () => {
    await create('refused');
    const writer = new StatusWriter(rest);
    await writer.update(namespace, 'refused', (r) => ({ ...r.status, state: 'Healthy' }));
    const error = await writer
      .update(namespace, 'refused', (r) => ({ ...r.status, state: 'NotAState' as 'Healthy' }))
      .catch((e: unknown) => e);
    expect((error as KubeApiError).code).toBe(422);
    const stored = await rest.request<Reservation>({ method: 'GET', path: reservationPath(namespace, 'refused') });
    expect(stored.status?.state).toBe('Healthy');
  });
});

describe('mergePatch', () => {
  it('patches changed leaves, replaces arrays and nulls removed keys', () => {
    expect(mergePatch({ a: 1, b: { c: 2, d: 3 }, e: [1] }, { a: 1, b: { c: 4 }, e: [1, 2] })).toEqual({ b: { c: 4, d: null }, e: [1, 2] });
    expect(mergePatch({ a: 1 }, { a: 1 })).toBeUndefined();
  });
});

describe('the CRD status schema', () => {
  it('keeps every field the judging core writes (the apiserver prunes unknown ones)', async () => {
    const { applyCheckin, evaluate } = await import('../../src/core/index.ts');
    await rest.request({
      method: 'POST',
      path: `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`,
      body: { apiVersion: API_VERSION, kind: KIND, metadata: { name: 'roundtrip' }, spec: { every: '1s', grace: '1s', maxRuntime: '2s', renotifyInterval: '1m' } },
    });
    const writer = new StatusWriter(rest);
    let expected: ReservationStatus | undefined;
    const store = (mutate: (r: Reservation) => ReservationStatus): Promise<Reservation> =>
      writer.update(namespace, 'roundtrip', (r) => (expected = mutate(r)));
    const later = (s: number): Date => new Date(Date.now() + s * 1000);
    // A stream that exercises running runs, overrun, failure with exit code, alerts and the outbox.
    await store((r) => applyCheckin(r, { signal: 'start', runId: 'a' }, new Date()));
    await store((r) => evaluate(r, later(5)).status);
    await store((r) => applyCheckin(r, { signal: 'fail', runId: 'b', exitCode: 3, message: 'disk full' }, later(6)));
    const stored = await store((r) => evaluate(r, later(9)).status);
    expect(JSON.parse(JSON.stringify(stored.status))).toEqual(JSON.parse(JSON.stringify(expected)));
    expect(stored.status?.judging).toBeDefined();
    expect(stored.status?.lastResult).toBeDefined();
    expect(stored.status?.alert?.outbox?.length).toBeGreaterThan(0);
  });
});
