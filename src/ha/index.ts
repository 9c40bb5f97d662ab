// The peer watch, assembled from the operator's shared parts: the heartbeat Lease at home, the
// watch of Peers, and the dead man's switch. One service (start/stop) for the operator's plugins.
import { createRequire } from 'node:module';
import { parseDefaultReceiver } from '../alerts/receivers.ts';
import { createEventRecorder } from '../k8s/events.ts';
import type { SharedParts } from '../operator/operator.ts';
import { haConfig } from './config.ts';
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

/** Throws ConfigError on a bad --heartbeat-url or --heartbeat-interval (at start-up). */
export function peerServices(parts: SharedParts): Service {
  const { rest, config, metrics, logger, isLeader, reservations } = parts;
  const ha = haConfig(config.extra);
  const log = logger.child({ component: 'peers' });
  const cachesSynced = parts.cachesSynced ?? (() => true);
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
