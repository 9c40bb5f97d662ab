// The informer against a real apiserver, through a proxy that can cut the connection: it follows
// adds, changes and deletes; it recovers on its own after the apiserver was unreachable; and a
// watch that goes quiet is replaced without missing anything.
import { afterEach, describe, expect, it } from 'vitest';
import { Informer, type KubeObject } from '../../src/k8s/informer.ts';
import { KubeRest } from '../../src/k8s/rest.ts';
import { TcpProxy } from './checkin-helpers.ts';
import { eventually, freshNamespace, kubeConfig } from './helpers.ts';

const direct = new KubeRest(kubeConfig());
const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

const configMap = (namespace: string, name: string, value: string): Promise<unknown> =>
  direct.request({ method: 'POST', path: `/api/v1/namespaces/${namespace}/configmaps`, body: { metadata: { name }, data: { value } } });

function start(rest: KubeRest, namespace: string, options: { idleMs?: number; pageSize?: number } = {}): { informer: Informer<KubeObject & { data?: Record<string, string> }>; changes: string[] } {
  const changes: string[] = [];
  const informer = new Informer<KubeObject & { data?: Record<string, string> }>(rest, {
    path: `/api/v1/namespaces/${namespace}/configmaps`,
    onChange: (key) => changes.push(key),
    maxBackoffMs: 500,
    ...options,
  });
  informer.start();
  stops.push(() => informer.stop());
  return { informer, changes };
}

describe('Informer', () => {
  it('follows adds, changes and deletes', async () => {
    const ns = await freshNamespace('informer');
    await configMap(ns, 'before', '1');
    const { informer, changes } = start(direct, ns);
    await informer.waitForSync();
    expect(informer.synced).toBe(true);
    expect(informer.get(`${ns}/before`)?.data?.value).toBe('1');
    await configMap(ns, 'after', '2');
    await eventually(() => Promise.resolve(informer.get(`${ns}/after`)));
    await direct.request({ method: 'PATCH', path: `/api/v1/namespaces/${ns}/configmaps/after`, contentType: 'application/merge-patch+json', body: { data: { value: '3' } } });
    await eventually(() => Promise.resolve(informer.get(`${ns}/after`)?.data?.value === '3'));
    await direct.request({ method: 'DELETE', path: `/api/v1/namespaces/${ns}/configmaps/before` });
    await eventually(() => Promise.resolve(!informer.get(`${ns}/before`)));
    expect(changes.filter((k) => k === `${ns}/after`).length).toBeGreaterThanOrEqual(2);
  });

  it('lists in pages and keeps no managedFields, on the list and on the watch', async () => {
    const ns = await freshNamespace('informer-pages');
    for (let i = 0; i < 5; i++) await configMap(ns, `c${i}`, String(i));
    const { informer } = start(direct, ns, { pageSize: 2 });
    await informer.waitForSync();
    expect(informer.keys().sort()).toEqual([0, 1, 2, 3, 4].map((i) => `${ns}/c${i}`));
    await configMap(ns, 'later', 'x');
    await eventually(() => Promise.resolve(informer.get(`${ns}/later`)));
    const stored = await direct.request<{ metadata: { managedFields?: unknown[] } }>({ method: 'GET', path: `/api/v1/namespaces/${ns}/configmaps/later` });
    expect(stored.metadata.managedFields?.length).toBeGreaterThan(0);
    for (const obj of informer.list()) expect(obj.metadata).not.toHaveProperty('managedFields');
  });

  it('recovers by itself after the apiserver was unreachable, and catches up on what changed meanwhile', async () => {
    const ns = await freshNamespace('informer-cut');
    const proxy = await TcpProxy.start(kubeConfig().getCurrentCluster()!.server);
    stops.push(() => proxy.pause());
    const { informer } = start(new KubeRest(proxy.kubeConfig(kubeConfig())), ns);
    await informer.waitForSync();
    await proxy.pause();
    await configMap(ns, 'while-cut', 'x');
    await eventually(() => Promise.resolve(informer.restarts > 0), 10_000, 'the informer to notice');
    await proxy.resume();
    await eventually(() => Promise.resolve(informer.get(`${ns}/while-cut`)), 15_000, 'the informer to catch up');
    expect(informer.synced).toBe(true);
  });

  it('replaces a watch that has gone quiet, missing nothing', async () => {
    const ns = await freshNamespace('informer-quiet');
    const { informer } = start(direct, ns, { idleMs: 300 });
    await informer.waitForSync();
    await eventually(() => Promise.resolve(informer.restarts >= 2), 10_000, 'quiet watches to be replaced');
    await configMap(ns, 'later', 'y');
    await eventually(() => Promise.resolve(informer.get(`${ns}/later`)), 10_000);
  });
});
