// Judging a peer, pure: from the Peer (spec, durable status), what this poll saw of the peer's
// heartbeat Lease, what this leadership term remembers, and the local clock, the next status, the
// notification to record (if any) and the Events to emit. No I/O.
//
// The rule that matters: a peer is Stale when its Lease has not *changed* for spec.timeout as
// measured on the local clock since this GoTel last saw it change. The peer's renewTime (its own
// clock) is shown, never compared with local time: clusters' clocks may disagree by minutes.
import { pruneOutbox, alertDeliveryCondition } from '../alerts/outbox.ts';
import { BAD_PEER_STATES, HEARTBEAT_LEASE, PEER_DEFAULTS, type Peer, type PeerState, type PeerStatus } from '../api/peer.ts';
import type { OutboxEntry } from '../api/reservation.ts';
import { mergeConditions } from '../core/conditions.ts';
import { humanizeDuration, parseDuration } from '../core/duration.ts';
import { iso } from '../core/time.ts';

/** What the peer's heartbeat Lease says (src/ha/heartbeat.ts writes it). */
export interface HeartbeatView {
  resourceVersion?: string;
  renewTime?: string;
  holderIdentity?: string;
  clusterName?: string;
  version?: string;
  cachesSynced?: boolean;
  deliveryFailing?: boolean;
  deliveryMessage?: string;
}

/** One poll of the peer. */
export type Observation =
  | { kind: 'lease'; lease: HeartbeatView }
  /** The apiserver answered, and there is no heartbeat Lease. */
  | { kind: 'absent' }
  /** The apiserver could not be read (refused, TLS, 401, timeout, 5xx). */
  | { kind: 'unreachable'; error: string }
  /** This Peer cannot be used as configured (Secret, kubeconfig, 403): Ready=False. */
  | { kind: 'misconfigured'; reason: string; error: string };

/** What one leadership term remembers of a peer (never stored: a new term starts afresh). */
export interface PeerMemory {
  /** When this term started watching (local clock). */
  since: number;
  /** The Lease's resourceVersion and renewTime as last seen. */
  key?: string;
  /** When the Lease last changed (local clock); `since` until it first does. */
  changedAt: number;
  /** Whether the Lease changed at least once in this term (the peer was seen alive). */
  seenAlive: boolean;
  /** When the peer's apiserver was last read (local clock). */
  reachableAt: number;
  /** The last poll failed to reach the apiserver. */
  outage: boolean;
}

export interface PeerEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface PeerVerdict {
  status: PeerStatus;
  memory: PeerMemory;
  /** The notification recorded in status.alert.outbox by this verdict, if any. */
  entry?: OutboxEntry;
  events: PeerEvent[];
}

export function newMemory(now: number): PeerMemory {
  return { since: now, changedAt: now, seenAlive: false, reachableAt: now, outage: false };
}

export function peerTimeoutMs(peer: Peer): number {
  try {
    return Math.max(1000, parseDuration(peer.spec.timeout ?? PEER_DEFAULTS.timeout, 'spec.timeout'));
  } catch {
    return parseDuration(PEER_DEFAULTS.timeout);
  }
}

/** The namespace of the peer's GoTel (its heartbeat Lease). */
export function peerNamespace(peer: Peer): string {
  return peer.spec.namespace || peer.metadata.namespace || 'default';
}

/** How the peer is named to people: its --cluster-name once seen, else the Peer's name. */
export function peerLabel(peer: Peer, status: PeerStatus = peer.status ?? {}): string {
  return status.peerClusterName ? `cluster "${status.peerClusterName}"` : `peer ${peer.metadata.namespace}/${peer.metadata.name}`;
}

const isBad = (s: PeerState | undefined): boolean => s !== undefined && BAD_PEER_STATES.includes(s);

export function judgePeer(peer: Peer, obs: Observation, memory: PeerMemory, now: number): PeerVerdict {
  const prev = peer.status ?? {};
  const mem = { ...memory };
  const st: PeerStatus = { ...prev, observedGeneration: peer.metadata.generation };
  const timeout = peerTimeoutMs(peer);
  const events: PeerEvent[] = [];
  let state: PeerState = prev.state ?? 'Pending';
  let detail = '';
  let ready = { status: 'True' as 'True' | 'False', reason: 'PeerReadable', message: `the peer's apiserver and Lease ${peerNamespace(peer)}/${HEARTBEAT_LEASE} can be read` };

  if (obs.kind === 'misconfigured') {
    ready = { status: 'False', reason: obs.reason, message: obs.error };
    st.lastError = clip(obs.error);
  } else if (obs.kind === 'unreachable') {
    mem.outage = true;
    st.unreachableSince ??= iso(now);
    st.lastError = clip(obs.error);
    if (now - mem.reachableAt >= timeout) {
      state = 'Unreachable';
      detail = obs.error;
    }
  } else {
    const key = obs.kind === 'lease' ? `${obs.lease.resourceVersion ?? ''}|${obs.lease.renewTime ?? ''}` : 'absent';
    // Back from an outage: the peer could not renew meanwhile either, so its stand-still clock starts again.
    if (mem.outage) mem.changedAt = now;
    mem.outage = false;
    mem.reachableAt = now;
    delete st.unreachableSince;
    delete st.lastError;
    if (mem.key !== undefined && key !== mem.key && obs.kind === 'lease') {
      mem.changedAt = now;
      mem.seenAlive = true;
      st.lastSeenTime = iso(now);
      const renew = obs.lease.renewTime ? Date.parse(obs.lease.renewTime) : NaN;
      if (Number.isFinite(renew)) st.observedSkewSeconds = Math.round((renew - now) / 100) / 10;
    }
    mem.key = key;
    if (obs.kind === 'lease') copyLease(st, obs.lease);
    if (now - mem.changedAt >= timeout) {
      state = 'Stale';
      detail = obs.kind === 'absent' ? 'absent' : '';
    } else if (mem.seenAlive) {
      state = obs.kind === 'lease' && obs.lease.deliveryFailing ? 'Degraded' : 'Up';
      if (state === 'Degraded') detail = (obs.kind === 'lease' && obs.lease.deliveryMessage) || 'its AlertDelivery condition is False';
    }
  }
  st.state = state;
  st.conditions = mergeConditions(prev.conditions, [{ type: 'Ready', ...ready }], peer.metadata.generation, now);
  const readyBefore = prev.conditions?.find((c) => c.type === 'Ready');
  if (ready.status === 'False' && readyBefore?.reason !== ready.reason) events.push({ type: 'Warning', reason: ready.reason, message: ready.message });
  if (ready.status === 'True' && readyBefore?.status === 'False') events.push({ type: 'Normal', reason: ready.reason, message: ready.message });

  const entry = peer.spec.suspend ? undefined : notification(peer, prev, st, detail, timeout, now);
  if (entry) {
    st.alert = withEntry(st, entry, now);
    events.push({ type: entry.kind === 'recovery' ? 'Normal' : 'Warning', reason: entry.kind === 'recovery' ? 'PeerRecovered' : `Peer${entry.reason}`, message: entry.message ?? entry.reason });
  }
  const delivery = alertDeliveryCondition({ alert: st.alert, conditions: st.conditions }, now, peer.metadata.generation);
  if (st.alert?.outbox?.length) st.conditions = [...st.conditions.filter((c) => c.type !== delivery.type), delivery];
  return { status: st, memory: mem, entry, events };
}

function copyLease(st: PeerStatus, lease: HeartbeatView): void {
  if (lease.renewTime) st.peerRenewTime = lease.renewTime;
  if (lease.holderIdentity) st.peerIdentity = lease.holderIdentity;
  if (lease.clusterName) st.peerClusterName = lease.clusterName;
  if (lease.version) st.peerVersion = lease.version;
}

/** The outbox entry this verdict calls for: an alert on going bad (or bad another way), a recovery, a repeat. */
function notification(peer: Peer, prev: PeerStatus, st: PeerStatus, detail: string, timeout: number, now: number): OutboxEntry | undefined {
  const before = prev.state;
  const after = st.state;
  const make = (kind: OutboxEntry['kind'], reason: string, message: string): OutboxEntry => ({ id: `${reason.toLowerCase()}-${now.toString(36)}`, kind, reason, dueTime: iso(now), createdTime: iso(now), message: clip(message, 4096) });
  if (isBad(after) && after !== before) return make('alert', after!, describe(peer, st, after!, detail, timeout));
  if (!isBad(after) && isBad(before) && after === 'Up') return make('recovery', before!, `${capital(peerLabel(peer, st))} is Up again: its heartbeat Lease is renewing (was ${before}${prev.alert?.since ? ` since ${prev.alert.since}` : ''}).`);
  const every = peer.spec.renotifyInterval ? safeDuration(peer.spec.renotifyInterval) : undefined;
  const last = Date.parse(prev.alert?.lastNotifiedTime ?? prev.alert?.since ?? '');
  if (isBad(after) && after === before && every && Number.isFinite(last) && now - last >= every) return make('renotify', after!, `Still ${after}: ${describe(peer, st, after!, detail, timeout)}`);
  return undefined;
}

function describe(peer: Peer, st: PeerStatus, state: PeerState, detail: string, timeout: number): string {
  const who = peerLabel(peer, st);
  const lease = `${peerNamespace(peer)}/${HEARTBEAT_LEASE}`;
  const wait = humanizeDuration(timeout);
  if (state === 'Unreachable') return `The apiserver of ${who} could not be read for ${wait}, so GoTel there cannot be watched: ${detail}`;
  if (state === 'Degraded') return `GoTel in ${who} is alive but cannot deliver its alerts (this GoTel relays this through its own receivers): ${detail}`;
  if (detail === 'absent') return `${capital(who)} has no heartbeat Lease ${lease} for ${wait}: is GoTel running there (in namespace ${peerNamespace(peer)})?`;
  const seen = st.lastSeenTime ? `it last changed at ${st.lastSeenTime} (this cluster's clock)` : 'it has not changed since this GoTel started watching';
  return `GoTel in ${who} stopped its heartbeat: Lease ${lease} has not changed for ${wait}; ${seen}${st.peerIdentity ? `, held by ${st.peerIdentity}` : ''}. GoTel there, or the whole cluster, may be down, and its jobs are not being watched.`;
}

function withEntry(st: PeerStatus, entry: OutboxEntry, now: number): NonNullable<PeerStatus['alert']> {
  const alert = { ...(st.alert ?? { firing: false }) };
  if (entry.kind === 'recovery') {
    alert.firing = false;
    alert.resolvedTime = iso(now);
  } else {
    if (entry.kind === 'alert') {
      alert.since = iso(now);
      alert.notifications = 0;
    }
    alert.firing = true;
    alert.reason = entry.reason;
    alert.notifications = (alert.notifications ?? 0) + 1;
  }
  alert.outbox = pruneOutbox([...(alert.outbox ?? []), entry]);
  return alert;
}

function safeDuration(text: string): number | undefined {
  try {
    return parseDuration(text);
  } catch {
    return undefined;
  }
}

const capital = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

function clip(text: string, max = 1024): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
