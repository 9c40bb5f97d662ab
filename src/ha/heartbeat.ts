// The heartbeat at home: while this replica leads, it renews the Lease `gotel-heartbeat` in its
// own namespace every few seconds, saying who it is (holderIdentity, --cluster-name, version) and
// how healthy it is (caches synced, alert delivery failing). Peers in other clusters read it
// (src/ha/peer-watch.ts). Only the leader writes it, so it needs no election of its own; a new
// leader simply takes it over.
import { HEARTBEAT_ANNOTATIONS, HEARTBEAT_LEASE } from '../api/peer.ts';
import type { Reservation } from '../api/reservation.ts';
import { leasePath, microTime, type Lease } from '../k8s/leader-election.ts';
import { KubeApiError, type KubeRest } from '../k8s/rest.ts';
import { silentLogger, type Logger } from '../log.ts';

export interface Health {
  cachesSynced: boolean;
  deliveryFailing: boolean;
  deliveryMessage?: string;
}

export interface HeartbeatOptions {
  rest: KubeRest;
  namespace: string;
  identity: string;
  clusterName: string;
  version: string;
  /** How often the leader renews it. */
  periodMs: number;
  health: () => Health;
  isLeader: () => boolean;
  logger?: Logger;
  now?: () => number;
}

type AnnotatedLease = Lease & { metadata: Lease['metadata'] & { annotations?: Record<string, string> } };

/**
 * Whether this cluster's alert delivery is failing: some Reservation's AlertDelivery condition is
 * False because a receiver refused for good (a broken webhook, a missing Secret); retries are not.
 */
export function deliveryHealth(reservations: Reservation[]): Pick<Health, 'deliveryFailing' | 'deliveryMessage'> {
  for (const r of reservations) {
    const c = r.status?.conditions?.find((x) => x.type === 'AlertDelivery');
    if (c?.status === 'False' && c.reason === 'ReceiverRejected') {
      return { deliveryFailing: true, deliveryMessage: `Reservation ${r.metadata.namespace}/${r.metadata.name}: ${c.message}`.slice(0, 512) };
    }
  }
  return { deliveryFailing: false };
}

export class Heartbeat {
  private readonly o: HeartbeatOptions;
  private readonly log: Logger;
  private readonly now: () => number;
  private timer?: NodeJS.Timeout;
  private round?: Promise<void>;

  constructor(options: HeartbeatOptions) {
    this.o = options;
    this.log = options.logger ?? silentLogger;
    this.now = options.now ?? Date.now;
  }

  start(): void {
    const loop = (): void => {
      this.round = this.renew().finally(() => {
        if (this.timer) this.timer = setTimeout(loop, this.o.periodMs);
      });
    };
    this.timer = setTimeout(loop, 0);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.round;
  }

  /** One renewal (nothing unless leading). Errors are logged; the next period tries again. */
  async renew(): Promise<void> {
    if (!this.o.isLeader()) return;
    const { rest, namespace, identity } = this.o;
    const now = this.now();
    const health = this.o.health();
    const annotations: Record<string, string> = {
      [HEARTBEAT_ANNOTATIONS.clusterName]: this.o.clusterName,
      [HEARTBEAT_ANNOTATIONS.version]: this.o.version,
      [HEARTBEAT_ANNOTATIONS.cachesSynced]: String(health.cachesSynced),
      [HEARTBEAT_ANNOTATIONS.alertDeliveryFailing]: String(health.deliveryFailing),
    };
    if (health.deliveryMessage) annotations[HEARTBEAT_ANNOTATIONS.alertDeliveryMessage] = health.deliveryMessage;
    const seconds = Math.max(1, Math.ceil((this.o.periodMs * 3) / 1000));
    try {
      let lease: AnnotatedLease;
      try {
        lease = await rest.request<AnnotatedLease>({ method: 'GET', path: leasePath(namespace, HEARTBEAT_LEASE), timeoutMs: this.o.periodMs });
      } catch (err) {
        if (!(err instanceof KubeApiError && err.code === 404)) throw err;
        await rest.request({
          method: 'POST',
          path: leasePath(namespace),
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name: HEARTBEAT_LEASE, namespace, annotations },
            spec: { holderIdentity: identity, leaseDurationSeconds: seconds, acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 },
          },
          timeoutMs: this.o.periodMs,
        });
        return;
      }
      const taken = lease.spec.holderIdentity !== identity;
      const spec = {
        ...lease.spec,
        holderIdentity: identity,
        leaseDurationSeconds: seconds,
        renewTime: microTime(now),
        ...(taken ? { acquireTime: microTime(now), leaseTransitions: (lease.spec.leaseTransitions ?? 0) + 1 } : {}),
      };
      const metadata = { ...lease.metadata, annotations: { ...lease.metadata.annotations, ...annotations } };
      if (!health.deliveryMessage) delete metadata.annotations[HEARTBEAT_ANNOTATIONS.alertDeliveryMessage];
      await rest.request({ method: 'PUT', path: leasePath(namespace, HEARTBEAT_LEASE), body: { ...lease, metadata, spec }, timeoutMs: this.o.periodMs });
    } catch (err) {
      this.log.warn({ err: (err as Error).message, lease: `${namespace}/${HEARTBEAT_LEASE}` }, 'heartbeat lease not renewed');
    }
  }
}
