// What the operator runs beside its reconcile loop, wired from the modules that own it: the alert
// outbox (src/alerts) and the check-in API (src/checkin). Check-ins share the reconciler's status
// writer, so a check-in and a verdict on one Reservation never race each other.
import { AlertDispatcher } from '../alerts/dispatcher.ts';
import { parseDefaultReceiver } from '../alerts/receivers.ts';
import { JobWatcher } from '../checkin/job-watcher.ts';
import { ShardJournal } from '../checkin/journal.ts';
import { JournalSweeper } from '../checkin/journal-sweeper.ts';
import { createCheckinRouter } from '../checkin/router.ts';
import { CheckinStore } from '../checkin/store.ts';
import type { OperatorPlugins, SharedParts } from './operator.ts';
import { peerServices } from '../ha/index.ts';

/** This replica's check-in journal and the store that uses it, one pair per operator. */
const checkins = new WeakMap<SharedParts, { journal: ShardJournal; store: CheckinStore }>();

function checkinsOf(parts: SharedParts): { journal: ShardJournal; store: CheckinStore } {
  let c = checkins.get(parts);
  if (!c) {
    const { rest, writer, config, logger, metrics, shard, resolveSpec } = parts;
    const journal = new ShardJournal(rest, {
      namespace: config.leaderElectionNamespace,
      shard,
      identity: config.identity,
      // The shard Lease lasts as long as the leader's: one knob for "how soon a dead replica is noticed".
      leaseDurationSeconds: Math.max(1, Math.ceil(config.leaseDurationMs / 1000)),
      logger,
      onWrite: (op) => metrics.journalBatches.inc({ op }),
    });
    const store = new CheckinStore({
      writer,
      journal,
      statusWritesPerSecond: config.checkinStatusWritesPerSecond,
      resolveSpec,
      // Another replica's older, unfolded check-ins for a Reservation go first (see CheckinStore.foldLimit).
      foreignUnfolded: (key, status) => parts.journalView.unfolded(key, status),
    });
    c = { journal, store };
    metrics.unfoldedCheckins.read = () => store.unfolded;
    checkins.set(parts, c);
  }
  return c;
}

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
    routers: (parts) => [
      createCheckinRouter({
        rest: parts.rest,
        writer: parts.writer,
        metrics: parts.metrics,
        logger: parts.logger,
        resolveSpec: parts.resolveSpec,
        store: checkinsOf(parts).store,
        reservations: { get: (namespace, name) => parts.reservations.get(`${namespace}/${name}`) },
        gotelApi: {
          enabled: parts.config.extra.gotelApi === true,
          namespace: typeof parts.config.extra.gotelApiNamespace === 'string' ? parts.config.extra.gotelApiNamespace : undefined,
          anonymous: parts.config.extra.gotelApiAnonymous === true,
        },
      }),
    ],
    services: (parts) => {
      const { rest, writer, config, metrics, logger, reservations, isLeader, resolveSpec, shard, journalView } = parts;
      const { journal, store } = checkinsOf(parts);
      return [
        // Jobs of a Reservation's CronJob check in by themselves; only the leader stores them.
        new JobWatcher({ rest, writer, namespaces: config.namespaces, reservations, isLeader, logger, metrics, resolveSpec }),
        // The journal's Lease says this replica lives; on stop, what was accepted is folded first.
        {
          start: () => void journal.start().catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'check-in journal unavailable: check-ins wait for their status writes')),
          stop: async () => {
            await store.flush();
            await journal.stop(store.unfolded === 0);
          },
        },
        // The leader folds the journal of a replica that died.
        new JournalSweeper({ rest, writer, view: journalView, namespace: config.leaderElectionNamespace, shard, isLeader, resolveSpec, logger }),
        // Who monitors the monitors: the heartbeat Lease, the watch of Peers, the dead man's switch (src/ha).
        peerServices(parts),
      ];
    },
  };
}
