// The leader folds the journal of a replica that is gone: a process that died after
// acknowledging check-ins left them in its journal batches, and its shard Lease stops being
// renewed. Each batch's check-ins are folded into their Reservations' status above the shard's
// mark (so a batch folded twice counts once), then the batch is deleted; a dead shard's Lease goes
// once it has no batch left.
import type { Logger } from '../log.ts';
import { silentLogger } from '../log.ts';
import { KubeApiError, type KubeRest } from '../k8s/rest.ts';
import type { StatusWriter } from '../k8s/status-writer.ts';
import { foldCheckins, type FoldItem, type ResolveSpec } from './fold.ts';
import { configMapPath, leasePath } from './journal.ts';
import type { JournalBatch, JournalView } from './journal-view.ts';

export interface JournalSweeperDeps {
  rest: KubeRest;
  writer: StatusWriter;
  view: JournalView;
  namespace: string;
  /** This process's shard: never swept by itself. */
  shard: string;
  isLeader: () => boolean;
  resolveSpec?: ResolveSpec;
  logger?: Logger;
  /** How often the leader looks for dead shards (default 5 s). */
  intervalMs?: number;
  now?: () => number;
}

/** Folds one batch's check-ins into their Reservations; a Reservation that is gone takes none. */
export async function foldBatch(writer: StatusWriter, batch: JournalBatch, resolveSpec?: ResolveSpec): Promise<number> {
  const byKey = new Map<string, FoldItem[]>();
  for (const r of batch.records) {
    let items = byKey.get(r.key);
    if (!items) byKey.set(r.key, (items = []));
    items.push({ shard: batch.shard, seq: r.seq, now: new Date(r.time), input: r.input });
  }
  let folded = 0;
  for (const [key, items] of byKey) {
    const [namespace, name] = key.split('/') as [string, string];
    items.sort((a, b) => a.seq - b.seq);
    let counted = 0;
    try {
      await writer.update(namespace, name, (current) => {
        const result = foldCheckins(current, items, resolveSpec);
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
    const now = (this.d.now ?? Date.now)();
    for (const batch of this.d.view.orphans(now, this.d.shard)) {
      if (!this.d.isLeader()) return;
      try {
        const folded = await foldBatch(this.d.writer, batch, this.d.resolveSpec);
        await this.d.rest.request({ method: 'DELETE', path: configMapPath(this.d.namespace, batch.name) }).catch((err: unknown) => {
          if (!(err instanceof KubeApiError && err.code === 404)) throw err;
        });
        this.log.info({ batch: batch.name, shard: batch.shard, records: batch.records.length, folded }, 'folded the check-in journal of a replica that is gone');
      } catch (err) {
        this.log.warn({ batch: batch.name, err: (err as Error).message }, 'check-in journal batch not folded; retrying');
        return;
      }
    }
    for (const lease of this.d.view.deadLeases(now)) {
      await this.d.rest.request({ method: 'DELETE', path: leasePath(this.d.namespace, lease) }).catch(() => {});
    }
  }
}
