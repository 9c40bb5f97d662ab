// What the peer watch says: the heartbeat's health from the Reservations' AlertDelivery
// conditions, a Peer alert's Slack message, and the takeover's message listing what it cannot watch.
import { describe, expect, it } from 'vitest';
import type { Peer } from '../../../src/api/peer.ts';
import type { OutboxEntry, Reservation } from '../../../src/api/reservation.ts';
import { deliveryHealth } from '../../../src/ha/heartbeat.ts';
import { peerHeadline, renderPeerSlackMessage } from '../../../src/ha/render.ts';
import { takeoverMessage } from '../../../src/ha/takeover-control.ts';

const peer: Peer = {
  apiVersion: 'gotel.io/v1alpha1',
  kind: 'Peer',
  metadata: { name: 'beta', namespace: 'gotel' },
  spec: { kubeconfigSecretRef: { name: 'k' } },
  status: { state: 'Stale', peerClusterName: 'eu-west', lastSeenTime: '2026-12-01T12:00:00Z' },
};
const rsv = (name: string, condition?: { status: 'True' | 'False'; reason: string }): Reservation => ({
  apiVersion: 'gotel.io/v1alpha1',
  kind: 'Reservation',
  metadata: { name, namespace: 'data' },
  spec: { every: '5m' },
  status: condition ? { conditions: [{ type: 'AlertDelivery', ...condition, message: 'slack: HTTP 404 no_service', lastTransitionTime: '2026-12-01T12:00:00Z' }] } : {},
});

describe('deliveryHealth', () => {
  it('is failing only for a receiver that refused for good', () => {
    expect(deliveryHealth([rsv('a'), rsv('b', { status: 'False', reason: 'Retrying' })])).toEqual({ deliveryFailing: false });
    const failing = deliveryHealth([rsv('a', { status: 'True', reason: 'Delivered' }), rsv('b', { status: 'False', reason: 'ReceiverRejected' })]);
    expect(failing.deliveryFailing).toBe(true);
    expect(failing.deliveryMessage).toBe('Reservation data/b: slack: HTTP 404 no_service');
  });
});

describe('Peer alert messages', () => {
  const entry: OutboxEntry = { id: 'stale-1', kind: 'alert', reason: 'Stale', dueTime: '2026-12-01T12:01:00Z', createdTime: '2026-12-01T12:01:00Z', message: 'GoTel in cluster "eu-west" stopped its heartbeat' };

  it('names the peer cluster and what went wrong, differently for each state', () => {
    expect(peerHeadline(peer, entry)).toBe('Stale: GoTel in cluster "eu-west" stopped its heartbeat');
    expect(peerHeadline(peer, { ...entry, reason: 'Unreachable' })).toBe('Unreachable: GoTel in cluster "eu-west" cannot be reached');
    expect(peerHeadline(peer, { ...entry, reason: 'Degraded' })).toBe('Degraded: GoTel in cluster "eu-west" cannot deliver its alerts');
    expect(peerHeadline(peer, { ...entry, kind: 'recovery' })).toBe('Recovered: GoTel in cluster "eu-west" is Up again (was Stale)');
    const msg = renderPeerSlackMessage(peer, entry, { clusterName: 'us-east' });
    expect(msg.text).toContain('stopped its heartbeat');
    expect(JSON.stringify(msg.blocks)).toContain('watching from cluster us-east');
    expect(JSON.stringify(msg.blocks)).toContain('`gotel/beta`');
  });

  it('lists the Reservations a takeover cannot watch', () => {
    const notWatched = Array.from({ length: 23 }, (_, i) => `data/job-${i}`);
    const text = takeoverMessage(peer, 'us-east', { leading: true, reservationsJudged: 2, alertsSent: 0, notWatched, handedBack: false });
    expect(text).toContain('GoTel in cluster "us-east" took over judging for cluster "eu-west"');
    expect(text).toContain('2 Reservations with a jobRef are judged as usual');
    expect(text).toContain('23 Reservations depending on HTTP check-ins are not watched until it returns: data/job-0, data/job-1');
    expect(text).toContain('and 3 more');
  });
});
