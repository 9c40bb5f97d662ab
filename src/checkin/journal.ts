// A replica's check-in journal: the durable place for a check-in when its Reservation's status
// cannot be written at once (the apiserver takes a few hundred Reservation status writes a second
// on two cores; one journal write carries every check-in that arrived during the previous one,
// for any number of Reservations).
//
// - One *shard* per process: ConfigMaps `gotel-checkins-<shard>-<n>` (n counts batches) in GoTel's own
//   namespace, each holding one batch of check-ins as JSON, created once and deleted once all of
//   its check-ins are folded into status (never rewritten: etcd keeps every revision until
//   compaction, and a growing object rewritten 50 times a second would fill it).
// - A Lease `gotel-checkins-<shard>` renewed while the process lives: the leader folds the
//   batches of a shard whose Lease is gone or expired (src/checkin/journal-sweeper.ts).
// - Group commit: one write in flight carries everything that arrived during the previous one, so
//   the batch grows with the load instead of the number of writes (etcd's fsync, not our cadence,
//   sets the pace). A second write starts only once the one in flight has taken `overlapAfterMs`
//   (a write the apiserver is slow to answer does not hold up the next), at most `maxInFlight`,
//   and at least `intervalMs` between the starts of two writes.
// - Batches fill up: once a write is answered, the next waits (at most `lingerMs`) for the
//   clients it answered to send their next check-in. Without that wait the clients split into two
//   groups taking turns, each write carrying half of them; and on two cores the apiserver's cost
//   per write, not per check-in, bounds the rate (docs/throughput.md). The wait ends as soon as
//   they are back, so its bound is paid only when they do not come (a burst of one-shot check-ins:
//   once, by the first check-in after it).
import type { Logger } from '../log.ts';
import { silentLogger } from '../log.ts';
import { markOf, type CheckinInput, type FoldItem } from '../core/index.ts';
import type { ReservationStatus } from '../api/reservation.ts';
import { leasePath, microTime } from '../k8s/leader-election.ts';
import { KubeApiError, type KubeRest } from '../k8s/rest.ts';

export const JOURNAL_LABEL = 'gotel.io/checkin-journal';
export const JOURNAL_DATA_KEY = 'checkins.json';
const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'gotel' };

/** One check-in as the journal stores it. */
export interface JournalRecord {
  /** `namespace/name` of the Reservation. */
  key: string;
  seq: number;
  /** The server's time of arrival (RFC 3339): the check-in's stored time. */
  time: string;
  input: CheckinInput;
}

export function batchName(shard: string, n: number): string {
  return `gotel-checkins-${shard}-${n}`;
}

export function leaseName(shard: string): string {
  return `gotel-checkins-${shard}`;
}

export function configMapPath(namespace: string, name = ''): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps${name ? `/${encodeURIComponent(name)}` : ''}`;
}


export interface ShardJournalOptions {
  /** GoTel's own namespace (where its leader Lease lives). */
  namespace: string;
  /** This process's shard id: a DNS label fragment, unique per process. */
  shard: string;
  /** This replica's identity, written on the shard's Lease for people reading it. */
  identity: string;
  /** Least time between the starts of two journal writes (default 2 ms). */
  intervalMs?: number;
  /**
   * A write in flight this long lets the next one start beside it (default 25 ms). Before that,
   * check-ins wait for it to finish and go together in the next write: two writes in flight
   * each carry half as many, and on two cores the apiserver's writes per second, not their
   * size, bound the rate.
   */
  overlapAfterMs?: number;
  /**
   * Journal writes in flight at once (default 2): a write the apiserver is slow to answer does
   * not hold up the next batch.
   */
  maxInFlight?: number;
  /**
   * After a write is answered, the next one waits up to this long (default 20 ms) for as many
   * check-ins as that write carried plus those waiting then: its clients' next check-ins. It
   * starts at once when they are all there, and at once when nothing was written just before.
   * On two cores, 50 clients took about 8 ms to come back and often longer (answers written,
   * their next requests read): with a bound of 8 ms a write carried 28-33 of them, with 20 ms
   * 48 (docs/throughput.md).
   */
  lingerMs?: number;
  /** A batch is cut at about this many bytes of JSON (default 512 kB; a ConfigMap holds 1 MiB). */
  maxBatchBytes?: number;
  /** The shard Lease's duration (default 30 s); it is renewed every third of it. */
  leaseDurationSeconds?: number;
  logger?: Logger;
  /** Called after each journal object written or deleted (benchmarks, metrics). */
  onWrite?: (kind: 'create' | 'delete', records: number) => void;
}

interface Waiting {
  record: JournalRecord;
  /** The record as JSON, made once: it sizes the batch and is its text. */
  json: string;
  resolve: (batch: string) => void;
  reject: (err: unknown) => void;
}

interface Batch {
  /** Records not yet folded; the batch is deleted when it reaches 0 after being created. */
  remaining: number;
  created: boolean;
  /**
   * Its records by Reservation key: unfolded() runs for every status write and every judgement,
   * and with a fold lag of seconds hundreds of batches are open, each holding dozens of keys.
   */
  byKey: Map<string, JournalRecord[]>;
}

export class ShardJournal {
  readonly shard: string;
  readonly namespace: string;
  private readonly rest: KubeRest;
  private readonly o: Required<Omit<ShardJournalOptions, 'onWrite'>> & Pick<ShardJournalOptions, 'onWrite'>;
  private waiting: Waiting[] = [];
  private inFlight = 0;
  private lastStart = 0;
  /** Start times of the writes in flight, oldest first. */
  private readonly starts: number[] = [];
  private timer?: NodeJS.Timeout;
  /** When `timer` fires (epoch ms). */
  private timerAt = 0;
  /** Check-ins expected soon after the last write was answered, and until when to wait for them. */
  private expected = 0;
  private lingerUntil = 0;
  private renewTimer?: NodeJS.Timeout;
  private readonly batches = new Map<string, Batch>();
  /** Reservation key -> this shard's batches holding records for it (see unfolded). */
  private readonly byKey = new Map<string, Set<string>>();
  /** DELETEs of folded batches under way: a clean stop waits for them (it leaves no batch behind). */
  private readonly removing = new Set<Promise<void>>();
  private leaseReady?: Promise<void>;
  private batchCount = 0;
  /** When the shard Lease was last written (epoch ms; 0 before the first time). */
  private renewedAt = 0;
  private stopped = false;

  constructor(rest: KubeRest, options: ShardJournalOptions) {
    this.rest = rest;
    this.shard = options.shard;
    this.namespace = options.namespace;
    this.o = { intervalMs: 2, overlapAfterMs: 25, maxInFlight: 2, lingerMs: 20, maxBatchBytes: 512 * 1024, leaseDurationSeconds: 30, logger: silentLogger, ...options };
  }

  /** Creates the shard's Lease (before any batch, so no live shard ever looks dead) and renews it. */
  start(): Promise<void> {
    this.leaseReady ??= this.renewLease().then(
      () => {
        this.renewTimer = setInterval(() => {
          this.renewLease().catch((err: unknown) => this.o.logger.warn({ err: (err as Error).message, shard: this.shard }, 'check-in journal lease not renewed'));
        }, (this.o.leaseDurationSeconds * 1000) / 3);
        this.renewTimer.unref();
      },
      (err: unknown) => {
        // Not for good: the next write (or start) tries again.
        this.leaseReady = undefined;
        throw err;
      },
    );
    return this.leaseReady;
  }

  /** Resolves with the batch's name once `record` is stored in the apiserver. */
  append(record: JournalRecord): Promise<string> {
    if (this.stopped) return Promise.reject(new Error('the check-in journal is stopped'));
    // A shard whose Lease has lapsed may be taken for dead and swept: take nothing more into it
    // (check-ins then wait for their status writes) until the Lease is renewed.
    if (this.renewedAt > 0 && Date.now() - this.renewedAt > this.o.leaseDurationSeconds * 1000) {
      return Promise.reject(new Error('the check-in journal\'s Lease has lapsed'));
    }
    const json = JSON.stringify(record);
    const promise = new Promise<string>((resolve, reject) => this.waiting.push({ record, json, resolve, reject }));
    this.kick();
    return promise;
  }

  /** One record of `batch` is folded into status; the batch goes once all of its records are. */
  settle(batch: string): void {
    const b = this.batches.get(batch);
    if (!b) return;
    b.remaining--;
    if (b.remaining <= 0 && b.created) this.remove(batch);
  }

  /**
   * This shard's acknowledged check-ins for `key` that `status` does not hold yet (JournalView
   * watches only the other shards' batches: ours are known here without reading them back).
   */
  unfolded(key: string, status: ReservationStatus | undefined): FoldItem[] {
    const names = this.byKey.get(key);
    if (!names) return [];
    const mark = markOf(status, this.shard);
    const items: FoldItem[] = [];
    for (const name of names) {
      for (const r of this.batches.get(name)?.byKey.get(key) ?? []) {
        if (r.seq > mark) items.push({ shard: this.shard, seq: r.seq, now: new Date(r.time), input: r.input });
      }
    }
    return items;
  }

  /** Batches written and not yet fully folded. */
  get open(): number {
    return this.batches.size;
  }

  /**
   * Stops renewing. With `release`, deletes the Lease too: only when every batch is folded (the
   * leader folds a shard without a Lease, so a Lease must not go while a batch still needs it).
   */
  async stop(release: boolean): Promise<void> {
    this.stopped = true;
    clearInterval(this.renewTimer);
    clearTimeout(this.timer);
    for (const w of this.waiting.splice(0)) w.reject(new Error('the check-in journal is stopped'));
    await Promise.all([...this.removing]);
    if (release && this.batches.size === 0 && this.leaseReady) {
      await this.rest.request({ method: 'DELETE', path: leasePath(this.namespace, leaseName(this.shard)), timeoutMs: 5_000 }).catch(() => {});
    }
  }

  private kick(): void {
    if (this.inFlight >= this.o.maxInFlight || this.waiting.length === 0) return;
    const newest = this.starts.at(-1);
    let at = Math.max(this.lastStart + this.o.intervalMs, newest === undefined ? 0 : newest + this.o.overlapAfterMs);
    // Between writes: the clients just answered are on their way back (see lingerMs).
    if (this.inFlight === 0 && this.waiting.length < this.expected) at = Math.max(at, this.lingerUntil);
    const wait = at - Date.now();
    if (wait <= 0) {
      clearTimeout(this.timer);
      this.timer = undefined;
      void this.writeNext();
      return;
    }
    if (this.timer && this.timerAt === at) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.kick();
    }, wait);
  }

  private async writeNext(): Promise<void> {
    this.inFlight++;
    this.lastStart = Date.now();
    const started = this.lastStart;
    this.starts.push(started);
    let bytes = 0;
    let n = 0;
    while (n < this.waiting.length && (n === 0 || bytes + this.waiting[n]!.json.length + 1 <= this.o.maxBatchBytes)) bytes += this.waiting[n++]!.json.length + 1;
    const batch = this.waiting.splice(0, n);
    const records = batch.length;
    this.expected = 0;
    // Never reused, even for a record journaled again after a failed write: a name taken means
    // someone else's batch, never ours.
    const name = batchName(this.shard, ++this.batchCount);
    try {
      await (this.leaseReady ?? this.start());
      await this.rest.request({
        method: 'POST',
        path: configMapPath(this.namespace),
        body: {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name, labels: { ...MANAGED_BY, [JOURNAL_LABEL]: this.shard } },
          // JSON.stringify(records), from the records' JSON made in append().
          data: { [JOURNAL_DATA_KEY]: `[${batch.map((w) => w.json).join(',')}]` },
        },
      });
      const byKey = new Map<string, JournalRecord[]>();
      for (const w of batch) {
        const forKey = byKey.get(w.record.key);
        if (forKey) forKey.push(w.record);
        else byKey.set(w.record.key, [w.record]);
        let names = this.byKey.get(w.record.key);
        if (!names) this.byKey.set(w.record.key, (names = new Set()));
        names.add(name);
      }
      this.batches.set(name, { remaining: records, created: true, byKey });
      this.o.onWrite?.('create', records);
      for (const w of batch) w.resolve(name);
      if (this.inFlight === 1) {
        this.expected = records + this.waiting.length;
        this.lingerUntil = Date.now() + this.o.lingerMs;
      }
    } catch (err) {
      for (const w of batch) w.reject(err);
    } finally {
      this.inFlight--;
      this.starts.splice(this.starts.indexOf(started), 1);
      // A write started on the overlap timer is not what waits now: look again.
      clearTimeout(this.timer);
      this.timer = undefined;
      this.kick();
    }
  }

  private remove(batch: string): void {
    for (const key of this.batches.get(batch)?.byKey.keys() ?? []) {
      const names = this.byKey.get(key);
      names?.delete(batch);
      if (names?.size === 0) this.byKey.delete(key);
    }
    this.batches.delete(batch);
    const done: Promise<void> = this.rest
      .request({ method: 'DELETE', path: configMapPath(this.namespace, batch) })
      .then(() => this.o.onWrite?.('delete', 0))
      .catch((err: unknown) => {
        // Left for the leader's sweep, which deletes a folded batch once its shard is gone.
        if (!(err instanceof KubeApiError && err.code === 404)) this.o.logger.warn({ batch, err: (err as Error).message }, 'folded check-in batch not deleted');
      })
      .finally(() => this.removing.delete(done));
    this.removing.add(done);
  }

  private async renewLease(): Promise<void> {
    const path = leasePath(this.namespace, leaseName(this.shard));
    const now = Date.now();
    const spec = { holderIdentity: this.o.identity, leaseDurationSeconds: this.o.leaseDurationSeconds, renewTime: microTime(now) };
    try {
      await this.rest.request({ method: 'PATCH', path, contentType: 'application/merge-patch+json', body: { spec } });
      this.renewedAt = now;
    } catch (err) {
      if (!(err instanceof KubeApiError && err.code === 404)) throw err;
      await this.rest.request({
        method: 'POST',
        path: leasePath(this.namespace),
        body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: leaseName(this.shard), labels: { ...MANAGED_BY, [JOURNAL_LABEL]: this.shard } }, spec: { ...spec, acquireTime: microTime(now) } },
      });
      this.renewedAt = now;
    }
  }
}
