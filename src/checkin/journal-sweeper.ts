// The leader folds the journal of a replica that is gone: a process that died after
// acknowledging check-ins left them in its journal batches, and its shard Lease stops being
// renewed. Each batch's check-ins are folded into their Reservations' status above the shard's
// mark (so a batch folded twice counts once), then the batch is deleted; a dead shard's Lease goes
// once it has no batch left.
import { systemClock, type Clock } from '../util/clock.ts';
import type { Logger } from '../log.ts';
import { silentLogger } from '../log.ts';
import { KubeApiError, type KubeRest } from '../k8s/rest.ts';
import type { StatusWriter } from '../k8s/status-writer.ts';
import { judge, lastArrival, type CronJobOf, type FoldItem, type JudgeInputs } from '../core/index.ts';
import { configMapPath } from './journal.ts';
import { leasePath } from '../k8s/leader-election.ts';
import type { JournalBatch, JournalView } from './journal-view.ts';

export interface JournalSweeperDeps {
  rest: KubeRest;
  writer: StatusWriter;
  view: JournalView;
  namespace: string;
  /** This process's shard: never swept by itself. */
  shard: string;
  isLeader: () => boolean;
  cronJobOf?: CronJobOf;
  /** GoTel's own outages, for judging runs due before the folded check-ins (src/core/outage.ts). */
  outages?: () => Pick<JudgeInputs, 'outages' | 'catchUpMs'>;
  logger?: Logger;
  /** How often the leader looks for dead shards (default 5 s). */
  intervalMs?: number;
  clock?: Clock;
}

/**
 * Folds batches' check-ins into their Reservations, per Reservation in sequence order (a shard's
 * batches together: see JournalView.orphans); a Reservation that is gone takes none.
 */
export async function foldBatch(writer: StatusWriter, batch: JournalBatch | JournalBatch[], cronJobOf?: CronJobOf, outages?: () => Pick<JudgeInputs, 'outages' | 'catchUpMs'>): Promise<number> {
  const byKey = new Map<string, FoldItem[]>();
  for (const b of Array.isArray(batch) ? batch : [batch]) {
    for (const r of b.records) {
      const now = new Date(r.time);
      if (!Number.isFinite(now.getTime())) continue; // not a record GoTel wrote
      let items = byKey.get(r.key);
      if (!items) byKey.set(r.key, (items = []));
      items.push({ shard: b.shard, seq: r.seq, now, input: r.input });
    }
  }
  let folded = 0;
  for (const [key, all] of byKey) {
    const [namespace, name] = key.split('/') as [string, string];
    if (!namespace || !name) continue;
    all.sort((a, b) => a.seq - b.seq);
    // A record journaled again after a write that failed on our side but not the server's: once.
    const items = all.filter((it, i) => i === 0 || it.seq !== all[i - 1]!.seq);
    let counted = 0;
    try {
      await writer.update(namespace, name, (current) => {
        const result = judge(current, lastArrival(items), { checkins: items, cronJob: cronJobOf?.(current), ...outages?.() });
        counted = result.outcomes.filter((o) => !o.alreadyFolded && !o.duplicate).length;
        return result.status;
      });
      folded += counted;
    } catch (err) {
      if (!(err instanceof KubeApiError && err.code === 404)) throw err;
    }
  }
  return folded;
}

export class JournalSweeper {
  private readonly d: JournalSweeperDeps;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private readonly log: Logger;

  constructor(deps: JournalSweeperDeps) {
    this.d = deps;
    this.log = deps.logger ?? silentLogger;
  }

  start(): void {
    this.timer = setInterval(() => void this.sweep(), this.d.intervalMs ?? 5_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One pass (also called by tests); passes never overlap. */
  sweep(): Promise<void> {
    this.running ??= this.sweepOnce().finally(() => (this.running = undefined));
    return this.running;
  }

  private async sweepOnce(): Promise<void> {
    if (!this.d.isLeader()) return;
    const now = (this.d.clock ?? systemClock)().getTime();
    for (const [shard, batches] of this.d.view.orphans(now, this.d.shard)) {
      if (!this.d.isLeader()) return;
      try {
        const folded = await foldBatch(this.d.writer, batches, this.d.cronJobOf, this.d.outages);
        for (const batch of batches) {
          await this.d.rest.request({ method: 'DELETE', path: configMapPath(this.d.namespace, batch.name) }).catch((err: unknown) => {
            if (!(err instanceof KubeApiError && err.code === 404)) throw err;
          });
        }
        const records = batches.reduce((n, b) => n + b.records.length, 0);
        this.log.info({ shard, batches: batches.length, records, folded }, 'folded the check-in journal of a replica that is gone');
      } catch (err) {
        // The next pass tries again; other shards go on meanwhile.
        this.log.warn({ shard, err: (err as Error).message }, 'check-in journal of a gone replica not folded yet');
      }
    }
    for (const lease of this.d.view.deadLeases(now)) {
      await this.d.rest.request({ method: 'DELETE', path: leasePath(this.d.namespace, lease) }).catch(() => {});
    }
  }
}
