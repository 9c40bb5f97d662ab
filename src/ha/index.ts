// The peer watch, assembled from the operator's parts: the heartbeat Lease at home, the watch of
// Peers, and the dead man's switch. One service (start/stop) the operator runs.
import { createRequire } from 'node:module';
import { parseDefaultReceiver } from '../alerts/receivers.ts';
import { createEventRecorder } from '../k8s/events.ts';
import type { Reservation } from '../api/reservation.ts';
import type { KubeRest } from '../k8s/rest.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { OperatorConfig } from '../operator/config.ts';

/** What the peer watch takes from the operator. */
export interface PeerParts {
  rest: KubeRest;
  config: OperatorConfig;
  metrics: Metrics;
  logger: Logger;
  isLeader: () => boolean;
  reservations: { list(): Reservation[] };
  /** Whether every cache is synced with the apiserver (the heartbeat reports it). */
  cachesSynced: () => boolean;
}
import { DeadManSwitch } from './deadman.ts';
import { Heartbeat, deliveryHealth } from './heartbeat.ts';
import { registerHaMetrics } from './metrics.ts';
import { PeerWatch } from './peer-watch.ts';

export function gotelVersion(): string {
  try {
    return (createRequire(import.meta.url)('../../package.json') as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export interface Service {
  start(): void;
  stop(): Promise<void>;
}

export function peerServices(parts: PeerParts): Service {
  const { rest, config, metrics, logger, isLeader, reservations, cachesSynced } = parts;
  const ha = config.heartbeat;
  const log = logger.child({ component: 'peers' });
  const watch = new PeerWatch({
    rest,
    namespace: config.leaderElectionNamespace,
    events: createEventRecorder(rest, config.identity, log),
    isLeader,
    defaultReceiver: config.slackWebhookUrl ? parseDefaultReceiver(config.slackWebhookUrl) : undefined,
    clusterName: config.clusterName,
    identity: config.identity,
    leaseDurationMs: config.leaseDurationMs,
    metrics,
    logger: log,
  });
  const haMetrics = registerHaMetrics(metrics.registry, () => watch.list());
  const heartbeat = new Heartbeat({
    rest,
    namespace: config.leaderElectionNamespace,
    identity: config.identity,
    clusterName: config.clusterName,
    version: gotelVersion(),
    // As often as the leader renews its own Lease: "every few seconds" (5 s with the default 15 s).
    periodMs: Math.max(200, Math.floor(config.leaseDurationMs / 3)),
    health: () => ({ cachesSynced: cachesSynced(), ...deliveryHealth(reservations.list()) }),
    isLeader,
    logger: log,
  });
  const deadman = ha.heartbeatUrl
    ? new DeadManSwitch({ url: ha.heartbeatUrl, intervalMs: ha.heartbeatIntervalMs, healthy: () => isLeader() && cachesSynced(), pings: haMetrics.pings, logger: log })
    : undefined;
  return {
    start: () => {
      heartbeat.start();
      watch.start();
      deadman?.start();
    },
    stop: async () => {
      await deadman?.stop();
      await Promise.all([watch.stop(), heartbeat.stop()]);
    },
  };
}
