// The Peer custom resource (gotel.io/v1alpha1): one GoTel watching another cluster's GoTel through
// its heartbeat Lease. The OpenAPI schema in crds/gotel.io_peers.yaml (built in src/api/peer-crd.ts)
// is the contract the apiserver enforces; these types mirror it.
import type { AlertStatus, Condition, Duration, Instant, NotifyTarget, ObjectMeta } from './reservation.ts';
import { API_VERSION } from './reservation.ts';

export const PEER_KIND = 'Peer';
export const PEER_PLURAL = 'peers';
export { API_VERSION };

/** The Lease a leader renews in its own namespace, and peers read. */
export const HEARTBEAT_LEASE = 'gotel-heartbeat';

/** Annotations on the heartbeat Lease: who renews it and how healthy it says it is. */
export const HEARTBEAT_ANNOTATIONS = {
  clusterName: 'gotel.io/cluster-name',
  version: 'gotel.io/version',
  cachesSynced: 'gotel.io/caches-synced',
  alertDeliveryFailing: 'gotel.io/alert-delivery-failing',
  /** Why delivery fails (the first failing Reservation's AlertDelivery message), clipped. */
  alertDeliveryMessage: 'gotel.io/alert-delivery-message',
} as const;

export interface PeerSpec {
  kubeconfigSecretRef: { name: string; key?: string };
  /** Where the peer's GoTel runs; default: the Peer's own namespace name. */
  namespace?: string;
  /** How long the heartbeat may stand still (default 60s). */
  timeout?: Duration;
  notify?: NotifyTarget[];
  renotifyInterval?: Duration;
  suspend?: boolean;
  takeover?: boolean;
}

export const PEER_STATES = ['Pending', 'Up', 'Stale', 'Unreachable', 'Degraded'] as const;
export type PeerState = (typeof PEER_STATES)[number];
/** The states that alert. */
export const BAD_PEER_STATES: readonly PeerState[] = ['Stale', 'Unreachable', 'Degraded'];

export interface PeerStatus {
  observedGeneration?: number;
  state?: PeerState;
  /** Local time at which this GoTel last saw the Lease change. */
  lastSeenTime?: Instant;
  /** The Lease's renewTime: the peer's own clock. */
  peerRenewTime?: Instant;
  /** peerRenewTime minus the local time it was seen at (includes up to one poll interval). */
  observedSkewSeconds?: number;
  peerIdentity?: string;
  peerClusterName?: string;
  peerVersion?: string;
  /** Since when (local clock) the peer's apiserver could not be read; unset while it can. */
  unreachableSince?: Instant;
  /** The last error reading the peer (unreachable or misconfigured). */
  lastError?: string;
  conditions?: Condition[];
  alert?: AlertStatus;
  /** What a takeover of the peer's judging is doing (spec.takeover). */
  takeover?: TakeoverStatus;
}

export interface TakeoverStatus {
  /** Running: a candidate in the peer's gotel-leader Lease, or judging when it holds it. */
  active: boolean;
  /** Holds the peer's gotel-leader Lease and judges there. */
  leading: boolean;
  since?: Instant;
  /** Reservations with a jobRef, judged fully. */
  reservationsJudged?: number;
  /** Alerts delivered on the peer's behalf. */
  alertsSent?: number;
  /** Reservations that depend on HTTP check-ins: not watched until the peer returns. */
  notWatched?: string[];
  /** When the takeover ended (the peer's GoTel back, or the peer Up again). */
  endedTime?: Instant;
}

export interface Peer {
  apiVersion: typeof API_VERSION;
  kind: typeof PEER_KIND;
  metadata: ObjectMeta;
  spec: PeerSpec;
  status?: PeerStatus;
}

export const PEER_DEFAULTS = { timeout: '60s', secretKey: 'kubeconfig' } as const;
