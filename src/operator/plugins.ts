// What the operator runs beside its reconcile loop, wired from the modules that own it: the alert
// outbox (src/alerts) and the check-in API (src/checkin). Check-ins share the reconciler's status
// writer, so a check-in and a verdict on one Reservation never race each other.
import { AlertDispatcher } from '../alerts/dispatcher.ts';
import { parseDefaultReceiver } from '../alerts/receivers.ts';
import { JobWatcher } from '../checkin/job-watcher.ts';
import { createCheckinRouter } from '../checkin/router.ts';
import type { OperatorPlugins } from './operator.ts';

export function operatorPlugins(): OperatorPlugins {
  return {
    outbox: ({ rest, writer, config, metrics, logger }) =>
      new AlertDispatcher({
        rest,
        writer,
        defaultReceiver: config.slackWebhookUrl ? parseDefaultReceiver(config.slackWebhookUrl) : undefined,
        clusterName: config.clusterName,
        metrics,
        logger,
      }),
    routers: ({ rest, writer, config, metrics, logger, reservations, resolveSpec }) => [
      createCheckinRouter({
        rest,
        writer,
        metrics,
        logger,
        resolveSpec,
        reservations: { get: (namespace, name) => reservations.get(`${namespace}/${name}`) },
        gotelApi: {
          enabled: config.extra.gotelApi === true,
          namespace: typeof config.extra.gotelApiNamespace === 'string' ? config.extra.gotelApiNamespace : undefined,
          anonymous: config.extra.gotelApiAnonymous === true,
        },
      }),
    ],
    // Jobs of a Reservation's CronJob check in by themselves; only the leader stores them.
    services: ({ rest, writer, config, metrics, logger, reservations, isLeader, resolveSpec }) => [
      new JobWatcher({ rest, writer, namespaces: config.namespaces, reservations, isLeader, logger, metrics, resolveSpec }),
    ],
  };
}
