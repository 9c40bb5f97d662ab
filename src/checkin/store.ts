// Storing check-ins durably. A check-in is acknowledged only once the apiserver holds it: in its
// Reservation's status, or, when that write cannot happen soon, in this replica's check-in
// journal (src/checkin/journal.ts), which is folded into status moments later.
//
// - Check-ins for one Reservation are gathered: one status write (one evaluation) stores all that
//   arrived while the previous one was in flight, through the shared StatusWriter (resourceVersion,
//   409 retry).
// - Status writes for check-ins share a token bucket (`statusWritesPerSecond`, raised when many
//   Reservations wait so none waits past `maxFoldLagMs`). A check-in whose
//   Reservation waits for a token, or that has waited `journalAfterMs` behind its Reservation's
//   write in flight, is appended to the journal and acknowledged once that is stored. It stays in
//   line for its status write, which folds it (and lets its journal batch go). One journal write
//   carries check-ins for any number of Reservations, so a hundred Reservations checking in at
//   once cost a few journal writes, not a hundred status writes.
// - Without load nothing is journaled: a 2xx then means the check-in is in status already.
// - Each check-in has a sequence number in this process's journal shard, and status keeps the
//   highest one folded (src/core/fold.ts): a write retried after a lost answer, or a journal
//   replayed by the leader after a crash, counts nothing twice.
import type { Checkin, Reservation, ReservationStatus, State } from '../api/reservation.ts';
import { judge, lastArrival, normalizeCheckin, type CheckinInput, type CronJobOf, type FoldItem, type FoldOutcome, type JudgeInputs } from '../core/index.ts';
import { KubeApiError } from '../k8s/rest.ts';
import { newer, type StatusWriter } from '../k8s/status-writer.ts';
import type { ShardJournal } from './journal.ts';
import type { CheckinAvailability } from './availability.ts';
import { backoffDelay } from '../util/backoff.ts';
import { TokenBucket } from '../util/token-bucket.ts';

export interface StoredCheckin {
  /** The Reservation as stored after this check-in (or as it will be once its journal entry is folded). */
  reservation: Reservation;
  /** The same (runId, signal) had been stored before: nothing changed. */
  duplicate: boolean;
  checkin: Checkin;
  /** Where the apiserver holds it now: the Reservation's status, or the check-in journal. */
  storedIn: 'status' | 'journal';
}

export interface Verdict {
  state?: State;
  nextExpectedTime?: string;
  deadline?: string;
  checkins: number;
}

export interface CheckinStoreOptions {
  writer: StatusWriter;
  /** Without one, every check-in waits for its status write (no token bucket either). */
  journal?: ShardJournal;
  /**
   * Status writes per second for check-ins before they go through the journal (default 5, with a
   * burst of 50): a Reservation status write costs the apiserver several times a journal write,
   * and at 25/s on two cores they held journal writes up by hundreds of milliseconds.
   */
  statusWritesPerSecond?: number;
  /** Status writes allowed at once after a quiet spell (default 50). */
  statusWriteBurst?: number;
  /**
   * Reservations waiting for their status write are all written within about this long, whatever
   * the rate (more Reservations in line raise it): the journal is a buffer, not a backlog (default 20 s).
   */
  maxFoldLagMs?: number;
  /** A check-in waiting this long behind its Reservation's write in flight is journaled (default 50 ms). */
  journalAfterMs?: number;
  /** The CronJob a Reservation follows, for the judge (a jobRef without a schedule of its own). */
  cronJobOf?: CronJobOf;
  /** A status write failed for the last time: how long until the next try grows to this (default 5 s). */
  maxRetryMs?: number;
  /** GoTel's own outages, for judging runs due before a check-in (src/core/outage.ts). */
  outages?: () => Pick<JudgeInputs, 'outages' | 'catchUpMs'>;
  /** Check-ins other replicas acknowledged for a Reservation and have not folded (their journals). */
  foreignUnfolded?: (key: string, status: ReservationStatus | undefined) => FoldItem[];
  /** How long this replica's check-ins wait for another's older ones to be folded (default 60 s). */
  foreignWaitMs?: number;
  /** HTTP check-ins only: refused at once while the apiserver is known down, answered 503 past a bound (availability.ts). */
  availability?: CheckinAvailability;
}

interface Item {
  seq: number;
  input: CheckinInput;
  now: Date;
  resolve: (s: StoredCheckin) => void;
  reject: (err: unknown) => void;
  settled: boolean;
  inflight: boolean;
  /** A status write that carried it failed without an answer: it may be stored. */
  maybeStored: boolean;
  statusFailed: boolean;
  journal: 'no' | 'writing' | 'done';
  batch?: string;
  folded: boolean;
  timer?: NodeJS.Timeout;
}

interface KeyState {
  namespace: string;
  name: string;
  /** Waiting for the next status write, in arrival (sequence) order. */
  pending: Item[];
  inflight: Item[];
  writing: boolean;
  /** Waiting in line for a status-write token. */
  queued: boolean;
  failures: number;
  lastError?: Error;
  retryTimer?: NodeJS.Timeout;
  /** The latest copy known (stored, or the caller's), to project a journaled check-in's verdict. */
  base?: Reservation;
  /** `base` with the check-ins in line up to `through` applied; grown by each journal batch, dropped when `base` moves. */
  projection?: { through: number; reservation: Reservation; outcomes: Map<number, FoldOutcome> };
}

/** After this many failed status writes in a row for a Reservation, its new check-ins get the error at once. */
const MAX_FAILURES_BEFORE_REFUSING = 5;

export class CheckinStore {
  private readonly o: CheckinStoreOptions;
  private readonly keys = new Map<string, KeyState>();
  private readonly line: KeyState[] = [];
  private seq = 0;
  private readonly tokens: TokenBucket;
  /** Set by flush(): every write goes at once. */
  private unlimited: boolean;
  private readonly baseRate: number;
  private tokenTimer?: NodeJS.Timeout;

  constructor(options: CheckinStoreOptions) {
    this.o = options;
    this.baseRate = options.statusWritesPerSecond ?? 5;
    // Without a journal a check-in can only wait for its status write: no bucket.
    this.unlimited = !options.journal;
    this.tokens = new TokenBucket(Math.max(1, options.statusWriteBurst ?? 50), Date.now());
  }

  /** Writes per second now: the configured rate, or more when that would leave a Reservation unfolded past maxFoldLagMs. */
  private get rate(): number {
    return Math.max(this.baseRate, (this.line.length * 1000) / (this.o.maxFoldLagMs ?? 20_000));
  }

  /** Check-ins accepted and not yet folded into status (memory, and what a clean stop waits for). */
  get unfolded(): number {
    let n = 0;
    for (const k of this.keys.values()) n += k.pending.length + k.inflight.length;
    return n;
  }

  /** Stores one check-in; resolves once the apiserver holds it. `known` is the caller's copy, if any. */
  submit(namespace: string, name: string, input: CheckinInput, now: Date, known?: Reservation): Promise<StoredCheckin> {
    const availability = this.o.availability;
    if (!availability) return this.accept(namespace, name, input, now, known);
    const refusal = availability.refusal();
    return refusal ? Promise.reject(refusal) : availability.bound(this.accept(namespace, name, input, now, known));
  }

  private accept(namespace: string, name: string, input: CheckinInput, now: Date, known?: Reservation): Promise<StoredCheckin> {
    const key = `${namespace}/${name}`;
    let k = this.keys.get(key);
    if (!k) {
      k = { namespace, name, pending: [], inflight: [], writing: false, queued: false, failures: 0 };
      this.keys.set(key, k);
    }
    // The freshest copy at hand: the writer's last stored one outlives this key's entry here.
    for (const copy of [this.o.writer.latestCopy(namespace, name), known]) if (copy && newer(copy, k.base)) this.rebase(k, copy);
    const state = k;
    // Status writes for it keep failing: take no more into memory and the journal than its client can retry.
    if (k.failures >= MAX_FAILURES_BEFORE_REFUSING && k.lastError) return Promise.reject(k.lastError);
    return new Promise<StoredCheckin>((resolve, reject) => {
      const item: Item = { seq: this.o.journal ? ++this.seq : 0, input, now, resolve, reject, settled: false, inflight: false, maybeStored: false, statusFailed: false, journal: 'no', folded: false };
      state.pending.push(item);
      if (this.o.journal) {
        if (state.queued) this.toJournal(state, item);
        else {
          item.timer = setTimeout(() => {
            item.timer = undefined;
            if (!item.settled && !item.inflight && item.journal === 'no') this.toJournal(state, item);
          }, this.o.journalAfterMs ?? 50);
          item.timer.unref();
        }
      }
      this.pump(key, state);
    });
  }

  /**
   * Writes what is waiting without the token bucket and resolves once nothing is left to fold (or
   * after `timeoutMs`): a clean stop leaves no journal batch for the leader to sweep.
   */
  async flush(timeoutMs = 10_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    this.unlimited = true;
    // A timer armed at the old rate would hold the Reservations in line until it fires.
    clearTimeout(this.tokenTimer);
    this.tokenTimer = undefined;
    for (const [key, k] of this.keys) this.pump(key, k);
    this.armTokenTimer();
    while (this.unfolded > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  }

  private pump(key: string, k: KeyState): void {
    if (k.writing || k.queued || k.retryTimer || k.pending.length === 0) {
      if (k.pending.length === 0 && !k.writing && !k.retryTimer) this.keys.delete(key);
      return;
    }
    if (this.takeToken()) {
      void this.write(key, k);
      return;
    }
    k.queued = true;
    this.line.push(k);
    for (const item of k.pending) if (item.journal === 'no') this.toJournal(k, item);
    this.armTokenTimer();
  }

  private takeToken(): boolean {
    return this.unlimited || this.tokens.take(Date.now(), this.rate);
  }

  private armTokenTimer(): void {
    if (this.tokenTimer || this.line.length === 0) return;
    const waitMs = this.unlimited ? 0 : Math.max(1, Math.ceil(this.tokens.waitMs(this.rate)));
    this.tokenTimer = setTimeout(() => {
      this.tokenTimer = undefined;
      while (this.line.length > 0 && this.takeToken()) {
        const k = this.line.shift()!;
        k.queued = false;
        // The token is taken: write now (pump would take another).
        if (!k.writing && !k.retryTimer && k.pending.length > 0) void this.write(`${k.namespace}/${k.name}`, k);
        else this.pump(`${k.namespace}/${k.name}`, k);
      }
      this.armTokenTimer();
    }, waitMs);
  }

  /** The judge with these check-ins arriving, at the last one's arrival. */
  private judgeWith(current: Reservation, items: FoldItem[], inPlace = false): { status: ReservationStatus | null; outcomes: FoldOutcome[] } {
    return judge(current, lastArrival(items), { checkins: items, cronJob: this.o.cronJobOf?.(current), inPlace, ...this.o.outages?.() });
  }

  private foldItems(items: Item[]): FoldItem[] {
    const shard = this.o.journal?.shard ?? '';
    return items.map((i) => ({ shard, seq: i.seq, now: i.now, input: i.input }));
  }

  /**
   * The arrival time from which this replica's check-ins for `k` must wait: the oldest check-in
   * another replica acknowledged for it and has not folded yet. Folding ours past it would judge
   * the runs between without it (a run "missed" that checked in elsewhere). The replica holding
   * the oldest check-in can always fold, so replicas take turns, never wait on each other.
   */
  private foldLimit(key: string, k: KeyState): number {
    const own = this.o.journal?.shard;
    const nowMs = Date.now();
    let limit = Infinity;
    for (const item of this.o.foreignUnfolded?.(key, k.base?.status) ?? []) {
      const t = item.now.getTime();
      if (item.shard !== own && nowMs - t < (this.o.foreignWaitMs ?? 60_000)) limit = Math.min(limit, t);
    }
    return limit;
  }

  private async write(key: string, k: KeyState): Promise<void> {
    const limit = this.foldLimit(key, k);
    const hold = Number.isFinite(limit) ? k.pending.filter((item) => item.now.getTime() > limit) : [];
    if (hold.length > 0) {
      // Held back until the other replica's older check-in is folded: durable meanwhile.
      for (const item of hold) if (item.journal === 'no') this.toJournal(k, item);
      if (hold.length === k.pending.length) {
        k.retryTimer = setTimeout(() => {
          k.retryTimer = undefined;
          this.pump(key, k);
        }, 1_000);
        k.retryTimer.unref();
        return;
      }
    }
    k.writing = true;
    const batch = k.pending.filter((item) => !hold.includes(item));
    k.pending = hold;
    k.inflight = batch;
    for (const item of batch) {
      item.inflight = true;
      clearTimeout(item.timer);
    }
    let outcomes: FoldOutcome[] = [];
    try {
      const stored = await this.o.writer.update(k.namespace, k.name, (current) => {
        const judged = this.judgeWith(current, this.foldItems(batch));
        outcomes = judged.outcomes;
        return judged.status;
      });
      this.rebase(k, stored);
      k.failures = 0;
      k.lastError = undefined;
      batch.forEach((item, i) => this.folded(k, item, stored, outcomes[i]!));
    } catch (err) {
      this.writeFailed(k, batch, err);
    } finally {
      k.inflight = [];
      for (const item of batch) item.inflight = false;
      k.writing = false;
      this.pump(key, k);
    }
  }

  private folded(k: KeyState, item: Item, stored: Reservation, o: FoldOutcome): void {
    // Below the mark without ever having been durable: a sweep took this shard for dead and
    // moved past it. It is not stored; the client's retry (a 503) will be.
    if (o.alreadyFolded && item.journal !== 'done' && !item.maybeStored) {
      this.fail(k, item, new KubeApiError(503, 'ServiceUnavailable', 'the check-in journal moved past this check-in; retry', null));
      return;
    }
    item.folded = true;
    if (item.batch) this.o.journal?.settle(item.batch);
    this.settle(item, { reservation: stored, duplicate: o.duplicate, checkin: o.checkin ?? normalizeCheckin(item.input, item.now), storedIn: 'status' });
  }

  private writeFailed(k: KeyState, batch: Item[], err: unknown): void {
    const gone = err instanceof KubeApiError && err.code === 404;
    const ambiguous = !(err instanceof KubeApiError);
    const keep: Item[] = [];
    for (const item of batch) {
      item.maybeStored ||= ambiguous;
      item.statusFailed = true;
      if (gone) {
        // The Reservation is gone: nothing to fold into. A journaled check-in's batch may go.
        item.folded = true;
        if (item.batch) this.o.journal?.settle(item.batch);
        if (!item.settled) this.fail(k, item, err);
      } else if (item.journal === 'no') this.fail(k, item, err);
      else keep.push(item); // durable (or about to be) in the journal: retried until folded
    }
    if (keep.length === 0) return;
    k.pending.unshift(...keep);
    k.failures++;
    k.lastError = err instanceof Error ? err : new Error(String(err));
    const delay = backoffDelay(k.failures + 1, { initialMs: 100, maxMs: this.o.maxRetryMs ?? 5_000 });
    k.retryTimer = setTimeout(() => {
      k.retryTimer = undefined;
      this.pump(`${k.namespace}/${k.name}`, k);
    }, delay);
    k.retryTimer.unref();
  }

  private toJournal(k: KeyState, item: Item): void {
    const journal = this.o.journal;
    if (!journal || item.journal !== 'no') return;
    clearTimeout(item.timer);
    item.journal = 'writing';
    journal.append({ key: `${k.namespace}/${k.name}`, seq: item.seq, time: item.now.toISOString(), input: item.input }).then(
      (batch) => {
        item.journal = 'done';
        item.batch = batch;
        // Folded already, or answered with an error (its client will retry): nothing keeps the batch.
        if (item.folded || item.settled) journal.settle(batch);
        if (item.folded || item.settled) return;
        let answer: StoredCheckin;
        try {
          answer = this.projected(k, item);
        } catch {
          // Only the answer's verdict is lost: the check-in is stored.
          answer = { reservation: placeholder(k), duplicate: false, checkin: normalizeCheckin(item.input, item.now), storedIn: 'journal' };
        }
        this.settle(item, answer);
      },
      (err: unknown) => {
        item.journal = 'no';
        // Neither place holds it: the client hears so (and retries).
        if (!item.settled && item.statusFailed && !item.inflight) this.fail(k, item, err);
      },
    );
  }

  private rebase(k: KeyState, reservation: Reservation): void {
    k.base = reservation;
    k.projection = undefined;
  }

  /**
   * What GoTel will think once this journaled check-in is folded: the check-ins in line for its
   * Reservation applied to the latest copy. Grown incrementally (each check-in is applied once
   * per copy of the Reservation, not once per journal batch).
   */
  private projected(k: KeyState, item: Item): StoredCheckin {
    const base = k.base;
    if (!base) return { reservation: placeholder(k), duplicate: false, checkin: normalizeCheckin(item.input, item.now), storedIn: 'journal' };
    // The projection's status is its own copy (cloned from `base` once), grown in place.
    const p = (k.projection ??= { through: 0, reservation: { ...base, status: structuredClone(base.status ?? {}) }, outcomes: new Map<number, FoldOutcome>() });
    if (item.seq > p.through) {
      const fresh = [...k.inflight, ...k.pending].filter((it) => it.seq > p.through);
      const folded = this.judgeWith(p.reservation, this.foldItems(fresh), true);
      if (folded.status) p.reservation = { ...p.reservation, status: folded.status };
      fresh.forEach((it, i) => p.outcomes.set(it.seq, folded.outcomes[i]!));
      p.through = fresh.at(-1)?.seq ?? p.through;
    }
    const o = p.outcomes.get(item.seq);
    p.outcomes.delete(item.seq);
    // A snapshot of the top level: the projection goes on changing in place.
    const reservation = { ...p.reservation, status: { ...p.reservation.status } };
    return { reservation, duplicate: o?.duplicate ?? false, checkin: o?.checkin ?? normalizeCheckin(item.input, item.now), storedIn: 'journal' };
  }

  private settle(item: Item, stored: StoredCheckin): void {
    if (item.settled) return;
    item.settled = true;
    clearTimeout(item.timer);
    item.resolve(stored);
  }

  private fail(k: KeyState, item: Item, err: unknown): void {
    clearTimeout(item.timer);
    const i = k.pending.indexOf(item);
    if (i >= 0) k.pending.splice(i, 1);
    if (item.settled) return;
    item.settled = true;
    item.reject(err);
  }
}

function placeholder(k: KeyState): Reservation {
  return { apiVersion: 'gotel.io/v1alpha1', kind: 'Reservation', metadata: { name: k.name, namespace: k.namespace }, spec: {} };
}

/** What GoTel now thinks of a Reservation, for a check-in's answer. */
export function verdictOf(reservation: Reservation): Verdict {
  const st = reservation.status ?? {};
  return {
    ...(st.state ? { state: st.state } : {}),
    ...(st.nextExpectedTime ? { nextExpectedTime: st.nextExpectedTime } : {}),
    ...(st.deadline ? { deadline: st.deadline } : {}),
    checkins: st.checkins ?? 0,
  };
}
