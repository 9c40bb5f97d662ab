// The peer judge, with a fake clock: stale is measured on the local clock from the last change
// seen, never from the peer's renewTime; unreachable and stale are told apart; a new term waits.
import { describe, expect, it } from 'vitest';
import type { Peer } from '../../../src/api/peer.ts';
import { judgePeer, newMemory, type HeartbeatView, type Observation, type PeerMemory } from '../../../src/ha/judge.ts';

const T0 = Date.parse('2026-12-01T12:00:00Z');
const base = (spec: Partial<Peer['spec']> = {}): Peer => ({
  apiVersion: 'gotel.io/v1alpha1',
  kind: 'Peer',
  metadata: { name: 'beta', namespace: 'gotel', generation: 1 },
  spec: { kubeconfigSecretRef: { name: 'beta-kubeconfig' }, timeout: '10s', ...spec },
});
const lease = (rv: number, renewTime: number, extra: Partial<HeartbeatView> = {}): Observation => ({
  kind: 'lease',
  lease: { resourceVersion: String(rv), renewTime: new Date(renewTime).toISOString(), holderIdentity: 'beta-0', clusterName: 'beta', ...extra },
});

/** Runs observations at the given local times, carrying status and memory like the watch does. */
function run(peer: Peer, steps: [number, Observation][], memory: PeerMemory = newMemory(T0)) {
  let p = peer;
  let mem = memory;
  const entries: { kind: string; reason: string; message?: string }[] = [];
  for (const [at, obs] of steps) {
    const v = judgePeer(p, obs, mem, at);
    p = { ...p, status: v.status };
    mem = v.memory;
    if (v.entry) entries.push(v.entry);
  }
  return { peer: p, entries };
}

describe('judgePeer', () => {
  it('is Pending until the Lease is seen changing, then Up, without alerting', () => {
    const { peer, entries } = run(base(), [
      [T0, lease(1, T0)],
      [T0 + 1000, lease(1, T0)],
      [T0 + 2000, lease(2, T0 + 2000)],
    ]);
    expect(peer.status?.state).toBe('Up');
    expect(peer.status?.lastSeenTime).toBe('2026-12-01T12:00:02Z');
    expect(peer.status?.peerClusterName).toBe('beta');
    expect(entries).toEqual([]);
  });

  it('keeps a peer whose renewTime is ten minutes ahead Up while it renews, and shows the skew', () => {
    const skew = 10 * 60_000;
    const steps: [number, Observation][] = [];
    for (let i = 0; i < 30; i++) steps.push([T0 + i * 1000, lease(i + 1, T0 + i * 1000 + skew)]);
    const { peer, entries } = run(base(), steps);
    expect(peer.status?.state).toBe('Up');
    expect(peer.status?.observedSkewSeconds).toBe(600);
    expect(entries).toEqual([]);
  });

  it('goes Stale once, timeout after the last change seen locally, and recovers once', () => {
    const { peer, entries } = run(base(), [
      [T0, lease(1, T0 - 3_600_000)],
      [T0 + 1000, lease(2, T0 - 3_600_000 + 1000)],
      [T0 + 10_999, lease(2, T0 - 3_600_000 + 1000)],
      [T0 + 11_000, lease(2, T0 - 3_600_000 + 1000)],
      [T0 + 20_000, lease(2, T0 - 3_600_000 + 1000)],
      [T0 + 21_000, lease(3, T0)],
    ]);
    expect(entries.map((e) => `${e.kind}:${e.reason}`)).toEqual(['alert:Stale', 'recovery:Stale']);
    expect(entries[0]!.message).toContain('cluster "beta"');
    expect(entries[0]!.message).toContain('stopped its heartbeat');
    expect(peer.status?.state).toBe('Up');
    expect(peer.status?.alert?.firing).toBe(false);
  });

  it('waits a whole timeout after starting before calling a never-changing Lease Stale', () => {
    const early = run(base(), [
      [T0, lease(1, T0)],
      [T0 + 9_000, lease(1, T0)],
    ]);
    expect(early.peer.status?.state).toBe('Pending');
    const late = run(early.peer, [[T0 + 10_000, lease(1, T0)]], judgePeer(base(), lease(1, T0), newMemory(T0), T0).memory);
    expect(late.peer.status?.state).toBe('Stale');
  });

  it('says Unreachable (with the error), not Stale, when the apiserver cannot be read for timeout', () => {
    const down: Observation = { kind: 'unreachable', error: 'connect ECONNREFUSED 127.0.0.1:6443' };
    const { peer, entries } = run(base(), [
      [T0, lease(1, T0)],
      [T0 + 1000, lease(2, T0 + 1000)],
      [T0 + 2000, down],
      [T0 + 10_000, down],
      [T0 + 11_000, down],
      [T0 + 30_000, down],
      [T0 + 31_000, lease(3, T0 + 31_000)],
    ]);
    expect(entries.map((e) => `${e.kind}:${e.reason}`)).toEqual(['alert:Unreachable', 'recovery:Unreachable']);
    expect(entries[0]!.message).toContain('ECONNREFUSED');
    expect(peer.status?.state).toBe('Up');
  });

  it('gives a peer back from an outage a timeout to renew before calling it Stale', () => {
    const { entries } = run(base(), [
      [T0, lease(1, T0)],
      [T0 + 1000, lease(2, T0 + 1000)],
      [T0 + 2000, { kind: 'unreachable', error: 'timeout' }],
      [T0 + 5000, lease(2, T0 + 1000)],
      [T0 + 14_000, lease(2, T0 + 1000)],
      [T0 + 14_500, lease(3, T0 + 14_500)],
    ]);
    expect(entries).toEqual([]);
  });

  it('alerts Degraded when the peer renews but says its alert delivery fails', () => {
    const { peer, entries } = run(base(), [
      [T0, lease(1, T0)],
      [T0 + 1000, lease(2, T0 + 1000, { deliveryFailing: true, deliveryMessage: 'slack: HTTP 404 no_service' })],
    ]);
    expect(peer.status?.state).toBe('Degraded');
    expect(entries).toHaveLength(1);
    expect(entries[0]!.message).toContain('no_service');
  });

  it('does not alert again after a restart finds the peer still Stale, and recovers when it renews', () => {
    const stale = run(base(), [
      [T0, lease(1, T0)],
      [T0 + 1000, lease(2, T0 + 1000)],
      [T0 + 12_000, lease(2, T0 + 1000)],
    ]);
    expect(stale.entries).toHaveLength(1);
    // A new term (restart, new leader): fresh memory, durable status.
    const after = run(stale.peer, [
      [T0 + 60_000, lease(2, T0 + 1000)],
      [T0 + 90_000, lease(2, T0 + 1000)],
      [T0 + 91_000, lease(3, T0 + 91_000)],
    ], newMemory(T0 + 60_000));
    expect(after.entries.map((e) => e.kind)).toEqual(['recovery']);
  });

  it('reports a configuration problem as Ready=False with an Event, and does not alert', () => {
    const v = judgePeer(base(), { kind: 'misconfigured', reason: 'SecretNotFound', error: 'Secret gotel/beta-kubeconfig (spec.kubeconfigSecretRef) not found' }, newMemory(T0), T0);
    expect(v.status.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'SecretNotFound' });
    expect(v.events.map((e) => [e.type, e.reason])).toEqual([['Warning', 'SecretNotFound']]);
    expect(v.events[0]!.message).toContain('not found');
    expect(v.entry).toBeUndefined();
  });

  it('repeats a standing alert every renotifyInterval', () => {
    const { entries } = run(base({ renotifyInterval: '1m' }), [
      [T0, lease(1, T0)],
      [T0 + 1000, lease(2, T0 + 1000)],
      [T0 + 11_000, lease(2, T0 + 1000)],
      [T0 + 60_000, lease(2, T0 + 1000)],
      [T0 + 71_000, lease(2, T0 + 1000)],
    ]);
    expect(entries.map((e) => e.kind)).toEqual(['alert', 'renotify']);
  });
});
