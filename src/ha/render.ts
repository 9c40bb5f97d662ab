// What a Peer alert says, in Slack and in the generic webhook's JSON. Pure. The Peer's alerts go
// through the same outbox, receivers and senders as a Reservation's (src/alerts); only the words
// differ: a peer is Stale, Unreachable or Degraded, and these mean different things to whoever
// is paged.
import type { OutboxEntry, Reservation } from '../api/reservation.ts';
import { API_VERSION } from '../api/reservation.ts';
import type { Peer } from '../api/peer.ts';
import type { Sender } from '../alerts/dispatcher.ts';
import { escapeMrkdwn, type RenderContext, type SlackMessage, type WebhookPayload } from '../alerts/render.ts';
import { sendSlack } from '../alerts/slack.ts';
import { sendWebhook } from '../alerts/webhook.ts';
import { peerLabel } from './judge.ts';

const TITLES: Record<string, string> = {
  Stale: 'stopped its heartbeat',
  Unreachable: 'cannot be reached',
  Degraded: 'cannot deliver its alerts',
};

export function peerHeadline(peer: Peer, entry: OutboxEntry): string {
  const who = `GoTel in ${peerLabel(peer)}`;
  if (entry.kind === 'recovery') return `Recovered: ${who} is Up again (was ${entry.reason})`;
  const what = `${entry.reason}: ${who} ${TITLES[entry.reason] ?? entry.reason}`;
  return entry.kind === 'renotify' ? `Still ${what}` : what;
}

const EMOJI = { alert: ':red_circle:', renotify: ':repeat:', recovery: ':large_green_circle:' } as const;

export function renderPeerSlackMessage(peer: Peer, entry: OutboxEntry, ctx: RenderContext = {}): SlackMessage {
  const st = peer.status ?? {};
  const title = peerHeadline(peer, entry);
  const fields: [string, string][] = [
    ['Peer', `\`${peer.metadata.namespace}/${peer.metadata.name}\``],
    ['Peer cluster', st.peerClusterName ?? '-'],
    ['Last seen (local clock)', st.lastSeenTime ?? 'never'],
    ['Peer renewTime (its clock)', st.peerRenewTime ?? '-'],
    ['Held by', st.peerIdentity ?? '-'],
    ['State', st.state ?? '-'],
  ];
  const footer = ['GoTel', ctx.clusterName ? `watching from cluster ${ctx.clusterName}` : undefined, `${entry.kind} ${entry.id}`].filter(Boolean).join(' · ');
  return {
    text: `[GoTel] ${title} — ${entry.message ?? ''}`.slice(0, 3000),
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: title.slice(0, 150), emoji: true } },
      { type: 'section', text: { type: 'mrkdwn', text: `${EMOJI[entry.kind]} ${escapeMrkdwn(entry.message ?? title)}`.slice(0, 3000) } },
      { type: 'section', fields: fields.map(([k, v]) => ({ type: 'mrkdwn' as const, text: `*${k}*\n${escapeMrkdwn(v)}`.slice(0, 2000) })) },
      { type: 'context', elements: [{ type: 'mrkdwn', text: escapeMrkdwn(footer) }] },
    ],
  };
}

/** The webhook body for a Peer notification: the Reservation payload's envelope, with `peer` for `reservation`. */
export function renderPeerWebhookPayload(peer: Peer, entry: OutboxEntry, ctx: RenderContext = {}): Record<string, unknown> {
  const st = peer.status ?? {};
  return {
    version: API_VERSION,
    kind: entry.kind,
    id: `${peer.metadata.uid ?? `${peer.metadata.namespace}/${peer.metadata.name}`}/${entry.id}`,
    reason: entry.reason,
    firing: entry.kind !== 'recovery',
    peer: { namespace: peer.metadata.namespace, name: peer.metadata.name, clusterName: st.peerClusterName, identity: st.peerIdentity, lastSeenTime: st.lastSeenTime, peerRenewTime: st.peerRenewTime },
    summary: peerHeadline(peer, entry),
    message: entry.message,
    state: st.state,
    dueTime: entry.dueTime,
    createdTime: entry.createdTime,
    ...(ctx.clusterName ? { cluster: ctx.clusterName } : {}),
    ...(ctx.receivers?.length ? { receivers: [...ctx.receivers] } : {}),
  };
}

/**
 * The dispatcher's Sender for Peers. The dispatcher is typed for Reservations; a Peer carries the
 * same spec.notify and status.alert.outbox, which is all it reads (src/ha/peer-watch.ts).
 */
export const peerSender: Sender = (receiver, object: Reservation, entry, ctx, options) => {
  const peer = object as unknown as Peer;
  return receiver.type === 'slack'
    ? sendSlack(receiver.url, renderPeerSlackMessage(peer, entry, ctx), options)
    : sendWebhook(receiver.url, renderPeerWebhookPayload(peer, entry, ctx) as unknown as WebhookPayload, options);
};
