// The status page's router built from the operator's shared parts (wired in src/operator/plugins.ts).
import type { Router } from 'express';
import type { SharedParts } from '../operator/operator.ts';
import { statusConfig } from './config.ts';
import { createStatusRouter } from './router.ts';

/** Throws ConfigError for a bad --status-page or --badges, so the operator refuses to start. */
export function statusRouter(parts: SharedParts): Router {
  return createStatusRouter({
    config: statusConfig(parts.config.extra),
    reservations: parts.reservations,
    rest: parts.rest,
    peersNamespace: parts.config.leaderElectionNamespace,
    clusterName: parts.config.clusterName,
  });
}
