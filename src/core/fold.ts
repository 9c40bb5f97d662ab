// Folding check-ins into a Reservation's status, before it is judged: recording them in order and
// keeping the journal marks that make a replayed check-in count once (docs/architecture.md, "The
// check-in journal").
//
// Every check-in a replica accepts gets a sequence number in that replica's journal *shard* (one
// shard per process). Status keeps, per shard, the highest sequence number folded into it (a
// `JournalMark`): a write retried after a lost answer, or a journal replayed after a crash, counts
// nothing twice. Only a shard's owner folds its check-ins while it lives, in sequence order, so
// "every check-in up to the mark is in" holds.
import { LIMITS, type Checkin, type JournalMark, type Reservation, type ReservationStatus } from '../api/reservation.ts';
import { applyCheckinDetailed, type CheckinInput, type JudgeOutages } from './checkin.ts';

export interface FoldItem {
  shard: string;
  /** Its sequence number in `shard`; 0 for a check-in that is not journaled. */
  seq: number;
  /** The server's time when the check-in arrived: its stored time. */
  now: Date;
  input: CheckinInput;
}

export interface FoldOutcome {
  /** Already in status: its sequence number is at or below the shard's mark. */
  alreadyFolded: boolean;
  /** The same (runId, signal) had been stored before: nothing changed. */
  duplicate: boolean;
  checkin?: Checkin;
}

export interface Folded {
  /** The status with every new check-in recorded; null when none was new. */
  status: ReservationStatus | null;
  outcomes: FoldOutcome[];
  /** The arrival time of the last new check-in. */
  last?: Date;
}

/** The highest sequence number of `shard` folded into `status` (0: none). */
export function markOf(status: ReservationStatus | undefined, shard: string): number {
  return status?.journal?.find((m) => m.shard === shard)?.seq ?? 0;
}

/** `marks` with `shard` raised to `seq`; the marks that moved longest ago go first past the CRD's bound. */
export function raiseMark(marks: JournalMark[] | undefined, shard: string, seq: number, time: Date): JournalMark[] {
  const others = (marks ?? []).filter((m) => m.shard !== shard);
  const next = [...others, { shard, seq: Math.max(seq, marks?.find((m) => m.shard === shard)?.seq ?? 0), time: time.toISOString() }];
  next.sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
  return next.slice(-LIMITS.journalMarks);
}

/**
 * Records `items` in the given order on `res` (each with the judging of the runs due before it,
 * see applyCheckinDetailed) and raises the marks. With `inPlace`, `res.status` is the caller's own
 * copy and is changed instead of cloned.
 */
export function foldInto(res: Reservation, items: readonly FoldItem[], inPlace = false, outages: JudgeOutages = {}): Folded {
  let status = res.status;
  // Whether `status` is our own copy, changed in place: after the first clone, or the caller's own.
  let owned = inPlace && status !== undefined;
  let last: Date | undefined;
  const highest = new Map<string, number>();
  const outcomes = items.map((item): FoldOutcome => {
    if (item.seq > 0 && item.seq <= markOf(res.status, item.shard)) return { alreadyFolded: true, duplicate: false };
    const result = applyCheckinDetailed({ ...res, ...(status ? { status } : {}) }, item.input, item.now, { ...outages, inPlace: owned });
    owned ||= !result.duplicate;
    if (result.duplicate) return { alreadyFolded: false, duplicate: true, checkin: result.checkin };
    status = result.status;
    last = item.now;
    if (item.seq > 0) highest.set(item.shard, Math.max(item.seq, highest.get(item.shard) ?? 0));
    return { alreadyFolded: false, duplicate: false, checkin: result.checkin };
  });
  if (!last || !status) return { status: null, outcomes };
  let marks = status.journal;
  for (const [shard, seq] of highest) marks = raiseMark(marks, shard, seq, last);
  if (marks) status.journal = marks;
  return { status, outcomes, last };
}

/** When the latest of `items` arrived: the instant a batch of check-ins is judged at. */
export function lastArrival(items: readonly FoldItem[]): Date {
  let last = items[0]?.now ?? new Date(0);
  for (const item of items) if (item.now > last) last = item.now;
  return last;
}
