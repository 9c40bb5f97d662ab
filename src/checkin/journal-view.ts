// Every replica's check-in journal as this replica sees it (list+watch of the journal ConfigMaps
// and shard Leases in GoTel's namespace): check-ins acknowledged but not yet folded into status,
// by Reservation, for the judge (it must not call a run Missed that has checked in) and for the
// leader's sweep of dead shards.
import type { Logger } from '../log.ts';
import { silentLogger } from '../log.ts';
import type { ReservationStatus } from '../api/reservation.ts';
import { Informer, type KubeObject } from '../k8s/informer.ts';
import type { KubeRest } from '../k8s/rest.ts';
import { markOf, type FoldItem } from '../core/index.ts';
import { JOURNAL_DATA_KEY, JOURNAL_LABEL, configMapPath, type JournalRecord } from './journal.ts';
import { leasePath } from '../k8s/leader-election.ts';

interface JournalConfigMap extends KubeObject {
  metadata: KubeObject['metadata'] & { labels?: Record<string, string>; creationTimestamp?: string };
  data?: Record<string, string>;
}

interface ShardLease extends KubeObject {
  metadata: KubeObject['metadata'] & { labels?: Record<string, string> };
  spec?: { renewTime?: string; leaseDurationSeconds?: number; holderIdentity?: string };
}

export interface JournalBatch {
  name: string;
  shard: string;
  records: JournalRecord[];
  /** When the apiserver created it (epoch ms; NaN if unknown). */
  created: number;
}

/**
 * A batch whose shard has no Lease in sight is taken for an orphan only this long after it was
 * written: our watch on Leases may show a new replica's Lease after its first batch, and the
 * leader must not fold a live shard. (A Lease seen expired needs no wait.)
 */
export const ORPHAN_MIN_AGE_MS = 15_000;

function isRecord(r: unknown): r is JournalRecord {
  if (typeof r !== 'object' || r === null) return false;
  const o = r as Record<string, unknown>;
  const input = o.input as Record<string, unknown> | null;
  return typeof o.key === 'string' && typeof o.seq === 'number' && typeof o.time === 'string' && typeof input === 'object' && input !== null && typeof input.signal === 'string';
}

/** The records of a journal ConfigMap; a batch that is not one (edited by hand) holds none. */
export function parseBatch(cm: JournalConfigMap): JournalBatch | undefined {
  const shard = cm.metadata.labels?.[JOURNAL_LABEL];
  const raw = cm.data?.[JOURNAL_DATA_KEY];
  if (!shard || !raw || !cm.metadata.name) return undefined;
  try {
    const parsed: unknown = JSON.parse(raw);
    if (!Array.isArray(parsed)) return undefined;
    const records = (parsed as unknown[]).filter(isRecord);
    return { name: cm.metadata.name, shard, records, created: Date.parse(cm.metadata.creationTimestamp ?? '') };
  } catch {
    return undefined;
  }
}

function byArrival(a: FoldItem, b: FoldItem): number {
  return a.now.getTime() - b.now.getTime() || a.seq - b.seq;
}

export interface JournalViewOptions {
  namespace: string;
  logger?: Logger;
  /**
   * This replica's own journal: its batches are not watched (the apiserver would send each one
   * back, to be parsed again), its unfolded check-ins come from it instead.
   */
  own?: { shard: string; unfolded: (key: string, status: ReservationStatus | undefined) => FoldItem[] };
}

export class JournalView {
  private readonly batches: Informer<JournalConfigMap>;
  private readonly leases: Informer<ShardLease>;
  private readonly parsed = new Map<string, JournalBatch>();
  /** Reservation key -> batch names holding records for it. */
  private readonly byKey = new Map<string, Set<string>>();
  private readonly own?: JournalViewOptions['own'];

  constructor(rest: KubeRest, options: JournalViewOptions) {
    const selector = `?labelSelector=${encodeURIComponent(JOURNAL_LABEL)}`;
    const logger = options.logger ?? silentLogger;
    this.own = options.own;
    // Every shard's batches but ours (`key,key!=value`: has the label, with another value).
    const others = options.own ? `?labelSelector=${encodeURIComponent(`${JOURNAL_LABEL},${JOURNAL_LABEL}!=${options.own.shard}`)}` : selector;
    this.batches = new Informer<JournalConfigMap>(rest, { path: configMapPath(options.namespace) + others, onChange: (key) => this.reindex(key), logger });
    this.leases = new Informer<ShardLease>(rest, { path: leasePath(options.namespace) + selector, onChange: () => {}, logger });
  }

  get informers(): Informer<KubeObject>[] {
    return [this.batches, this.leases] as Informer<KubeObject>[];
  }

  /** Records of other check-ins for `key` that `status` does not hold yet, by time of arrival. */
  unfolded(key: string, status: ReservationStatus | undefined): FoldItem[] {
    const items: FoldItem[] = this.own?.unfolded(key, status) ?? [];
    for (const name of this.byKey.get(key) ?? []) {
      const batch = this.parsed.get(name);
      if (!batch) continue;
      const mark = markOf(status, batch.shard);
      for (const r of batch.records) if (r.key === key && r.seq > mark) items.push({ shard: batch.shard, seq: r.seq, now: new Date(r.time), input: r.input });
    }
    return items.length > 1 ? items.sort(byArrival) : items;
  }

  /**
   * The batches of each shard that has no live Lease (its process is gone); `except` is ours. All
   * of a shard's batches or none: they are folded together, in sequence order per Reservation (a
   * record journaled again after a failed write sits in a later batch than higher numbers).
   */
  orphans(nowMs: number, except: string): Map<string, JournalBatch[]> {
    const byShard = new Map<string, JournalBatch[]>();
    for (const batch of this.parsed.values()) {
      if (batch.shard === except) continue;
      let list = byShard.get(batch.shard);
      if (!list) byShard.set(batch.shard, (list = []));
      list.push(batch);
    }
    for (const [shard, batches] of byShard) {
      // No Lease seen at all: perhaps not seen *yet*; a young batch gets the benefit of the doubt.
      const tooYoung = !this.leaseOf(shard) && batches.some((b) => !(nowMs - b.created >= ORPHAN_MIN_AGE_MS));
      if (this.alive(shard, nowMs) || tooYoung) byShard.delete(shard);
    }
    return byShard;
  }

  /** Shard Leases with no batch left whose process is gone (for the sweep to delete). */
  deadLeases(nowMs: number): string[] {
    const withBatches = new Set([...this.parsed.values()].map((b) => b.shard));
    return this.leases
      .list()
      .filter((l) => {
        const shard = l.metadata.labels?.[JOURNAL_LABEL];
        return shard && !withBatches.has(shard) && !this.alive(shard, nowMs);
      })
      .map((l) => l.metadata.name!)
      .filter(Boolean);
  }

  private leaseOf(shard: string): ShardLease | undefined {
    return this.leases.list().find((l) => l.metadata.labels?.[JOURNAL_LABEL] === shard);
  }

  private alive(shard: string, nowMs: number): boolean {
    const lease = this.leaseOf(shard);
    const renewed = Date.parse(lease?.spec?.renewTime ?? '');
    if (!Number.isFinite(renewed)) return false;
    // Twice the duration: a replica's clock and ours may disagree by a few seconds.
    return nowMs - renewed < 2 * (lease?.spec?.leaseDurationSeconds ?? 30) * 1000;
  }

  private reindex(cmKey: string): void {
    const name = cmKey.split('/')[1] ?? cmKey;
    const before = this.parsed.get(name);
    const cm = this.batches.get(cmKey);
    const after = cm ? parseBatch(cm) : undefined;
    if (before) {
      for (const r of before.records) {
        const names = this.byKey.get(r.key);
        names?.delete(name);
        if (names?.size === 0) this.byKey.delete(r.key);
      }
      this.parsed.delete(name);
    }
    if (after) {
      this.parsed.set(name, after);
      for (const r of after.records) {
        let names = this.byKey.get(r.key);
        if (!names) this.byKey.set(r.key, (names = new Set()));
        names.add(name);
      }
    }
  }
}
