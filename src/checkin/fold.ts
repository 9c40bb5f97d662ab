// Folding check-ins into a Reservation's status: pure functions shared by the check-in store (its
// own check-ins), the journal sweeper (check-ins of a replica that died) and the reconciler (a
// view of acknowledged check-ins not yet folded, so it never judges a run Missed that has checked
// in).
//
// Every check-in a replica accepts gets a sequence number in that replica's journal *shard* (one
// shard per process). Status keeps, per shard, the highest sequence number folded into it (a
// `JournalMark`): a write retried after a lost answer, or a journal replayed after a crash, counts
// nothing twice. Only a shard's owner folds its check-ins while it lives, in sequence order, so
// "every check-in up to the mark is in" holds.
import { LIMITS, type Checkin, type JournalMark, type Reservation, type ReservationStatus } from '../api/reservation.ts';
import { applyCheckinDetailed, evaluate, type CheckinInput } from '../core/index.ts';

/** The Reservation as the judge sees it (the operator resolves a jobRef to its CronJob's schedule). */
export type ResolveSpec = (reservation: Reservation) => Reservation;

export interface FoldItem {
  shard: string;
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
 * Applies `items` in the given order to `current` and judges once (evaluate costs far more than
 * recording a check-in). Returns the new status (null when nothing changed) and each item's
 * outcome, in the items' order. Pure, unless `inPlace` says `current.status` is the caller's own
 * copy to change.
 */
export function foldCheckins(
  current: Reservation,
  items: readonly FoldItem[],
  resolve?: ResolveSpec,
  options: { inPlace?: boolean } = {},
): { status: ReservationStatus | null; outcomes: FoldOutcome[] } {
  const effective = resolve ? resolve(current) : current;
  let status = effective.status;
  /** Whether `status` is our own copy, changed in place: after the first clone, or the caller's own (`inPlace`). */
  let owned = options.inPlace === true && status !== undefined;
  let changed = false;
  let last: Date | undefined;
  const highest = new Map<string, number>();
  const outcomes = items.map((item): FoldOutcome => {
    if (item.seq > 0 && item.seq <= markOf(current.status, item.shard)) return { alreadyFolded: true, duplicate: false };
    const result = applyCheckinDetailed({ ...effective, ...(status ? { status } : {}) }, item.input, item.now, { inPlace: owned });
    owned ||= !result.duplicate;
    if (result.duplicate) return { alreadyFolded: false, duplicate: true, checkin: result.checkin };
    status = result.status;
    changed = true;
    last = item.now;
    if (item.seq > 0) highest.set(item.shard, Math.max(item.seq, highest.get(item.shard) ?? 0));
    return { alreadyFolded: false, duplicate: false, checkin: result.checkin };
  });
  if (!changed || !status) return { status: null, outcomes };
  let marks = status.journal;
  for (const [shard, seq] of highest) marks = raiseMark(marks, shard, seq, last ?? new Date());
  if (marks) status = { ...status, journal: marks };
  if (!effective.spec?.schedule && !effective.spec?.every) return { status, outcomes };
  return { status: evaluate({ ...effective, status }, last ?? new Date(), { inPlace: owned }).status, outcomes };
}
