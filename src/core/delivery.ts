// The outbox (status.alert.outbox) as a state machine of pure functions: an entry is created (by
// the judge, with the verdict: addEntry), then marked per receiver as delivered or failed (by the
// alert sender after each answer: markDelivered, markRetrying, markRefused, closeEntry). Each change
// returns the whole new status in one patch: the entry, `alert.lastNotifiedTime` (owned here alone:
// set when a notification is made, moved to when the first receiver accepted it) and the
// `AlertDelivery` condition that follows from the outbox. The sender (src/alerts/dispatcher.ts)
// only sends and stores what these return (docs/architecture.md, promise 2). It lives in the core
// because the judge creates entries, and the core imports nothing outside it.
import { LIMITS, type Condition, type OutboxEntry, type ReservationStatus } from '../api/reservation.ts';
import { clip } from './text.ts';
import { iso } from './time.ts';

/** Still to send: not delivered and not given up. */
export function isPending(entry: OutboxEntry): boolean {
  return entry.deliveredTime === undefined && !entry.failedPermanently;
}

/**
 * The outbox kept within `limit` entries: the oldest delivered or given-up entries go first; only
 * when every entry is still pending does the oldest pending one go (the CRD allows no more).
 * Order is kept; the input is not modified.
 */
export function pruneOutbox(entries: readonly OutboxEntry[], limit: number = LIMITS.outboxEntries): OutboxEntry[] {
  const kept = [...entries];
  const max = Math.max(0, limit);
  while (kept.length > max) {
    const i = kept.findIndex((e) => !isPending(e));
    kept.splice(i >= 0 ? i : 0, 1);
  }
  return kept;
}

export const ALERT_DELIVERY = 'AlertDelivery';

/**
 * The `AlertDelivery` condition (metav1.Condition) the outbox implies:
 * - a pending entry with an error (a receiver's answer, an unreadable Secret): False/`Retrying`;
 * - else the newest finished entry: False/`ReceiverRejected` (its lastError names the receiver and
 *   what it said, e.g. `slack: HTTP 404 no_service (…)`) or True/`Delivered`;
 * - pending entries not tried yet: Unknown/`Pending`; an empty outbox: True/`NothingToSend`.
 * `lastTransitionTime` is kept from the previous AlertDelivery condition in `status.conditions`
 * unless the status flips.
 */
export function alertDeliveryCondition(status: ReservationStatus | undefined, now: number, observedGeneration?: number): Condition {
  const outbox = status?.alert?.outbox ?? [];
  const retrying = outbox.find((e) => isPending(e) && e.lastError);
  let c: Pick<Condition, 'status' | 'reason' | 'message'>;
  if (retrying) {
    const n = retrying.attempts ?? 0;
    const after = n > 0 ? `after ${n} attempt${n === 1 ? '' : 's'}` : 'yet';
    c = { status: 'False', reason: 'Retrying', message: clip(`${retrying.kind} ${retrying.reason} (${retrying.id}) not delivered ${after}, retrying: ${retrying.lastError}`) };
  } else {
    const finished = [...outbox].reverse().find((e) => !isPending(e));
    const pending = outbox.filter(isPending).length;
    if (finished?.failedPermanently) {
      c = { status: 'False', reason: 'ReceiverRejected', message: clip(`${finished.kind} ${finished.reason} (${finished.id}) was not delivered: ${finished.lastError ?? 'a receiver refused it'}`) };
    } else if (pending > 0) {
      c = { status: 'Unknown', reason: 'Pending', message: `${pending} notification${pending === 1 ? '' : 's'} waiting to be sent` };
    } else if (finished) {
      const to = finished.deliveredTo?.length ? ` to ${finished.deliveredTo.join(', ')}` : '';
      c = { status: 'True', reason: 'Delivered', message: clip(`${finished.kind} ${finished.reason} delivered${to} at ${finished.deliveredTime}`) };
    } else {
      c = { status: 'True', reason: 'NothingToSend', message: 'no notification has been due' };
    }
  }
  const previous = status?.conditions?.find((x) => x.type === ALERT_DELIVERY);
  const lastTransitionTime = previous && previous.status === c.status ? previous.lastTransitionTime : iso(Math.floor(now / 1000) * 1000);
  return { type: ALERT_DELIVERY, ...c, lastTransitionTime, ...(observedGeneration !== undefined ? { observedGeneration } : {}) };
}


/**
 * The status with its AlertDelivery condition brought in line with the outbox, once there has
 * been something to send (a status that never alerted carries none). Not modified in place.
 */
export function withAlertDelivery(status: ReservationStatus, now: number, observedGeneration?: number): ReservationStatus {
  const hasOutbox = (status.alert?.outbox?.length ?? 0) > 0 || status.conditions?.some((c) => c.type === ALERT_DELIVERY);
  if (!hasOutbox) return status;
  const delivery = alertDeliveryCondition(status, now, observedGeneration);
  return { ...status, conditions: [...(status.conditions ?? []).filter((c) => c.type !== ALERT_DELIVERY), delivery] };
}

/**
 * The status with `entry` appended to the outbox (bounded by the CRD: the oldest finished entries
 * go first). An alert or a reminder counts as told from its creation, so the next reminder is
 * timed from here even before a receiver answers. The judge adds AlertDelivery to its verdict.
 */
export function addEntry(status: ReservationStatus, entry: OutboxEntry): ReservationStatus {
  const alert = status.alert ?? { firing: false };
  const outbox = pruneOutbox([...(alert.outbox ?? []), entry]);
  const told = entry.kind === 'recovery' ? {} : { lastNotifiedTime: entry.createdTime };
  return { ...status, alert: { ...alert, ...told, outbox } };
}

/** A delivery the receiver accepted that is not stored in status yet. */
export interface DeliveryMark {
  entryId: string;
  receiver: string;
  time: number;
  /** Every receiver of the entry at send time, and those that refused it: to close the entry in the same write. */
  receivers: string[];
  rejected: [string, string][];
  /** The alert group (README "Alert grouping") that delivered it, when it went out in one. */
  group?: string;
  /** How that group knows the entry (its run, for alerts: runKeyOf in src/alerts/group.ts). */
  runKey?: string;
}

/** What a receiver's refusal or failure was, and when it answered. */
export interface FailureMark {
  entryId: string;
  /** `receiver: what it said`, shown in lastError and AlertDelivery. */
  error: string;
  time: number;
  /** A send was made (counted in attempts); false when the receiver could not even be resolved. */
  attempted: boolean;
}

/** A refusal for good: also closes the entry when every other receiver has answered. */
export interface RefusalMark extends FailureMark {
  receivers: string[];
  rejected: [string, string][];
}

/**
 * Records that `mark.receiver` accepted the entry: adds it to deliveredTo and counts the attempt;
 * closes the entry when every receiver has answered (deliveredTime, or failedPermanently when one
 * refused); moves alert.lastNotifiedTime to when the first receiver accepted it. Null when already
 * recorded (by another replica, or a write whose answer was lost) or the entry is gone.
 */
export function markDelivered(status: ReservationStatus | undefined, mark: DeliveryMark, generation?: number): ReservationStatus | null {
  const before = status?.alert?.outbox?.find((e) => e.id === mark.entryId);
  if (!status?.alert || !before || before.deliveredTime !== undefined || before.deliveredTo?.includes(mark.receiver)) return null;
  const next = updateEntry(status, mark.entryId, (entry) => {
    const withThis: OutboxEntry = { ...entry, attempts: (entry.attempts ?? 0) + 1, deliveredTo: [...(entry.deliveredTo ?? []), mark.receiver], ...(mark.group ? { group: mark.group } : {}) };
    return finish(withThis, mark.receivers, new Map(mark.rejected), mark.time) ?? withThis;
  });
  if (next?.alert && (before.deliveredTo?.length ?? 0) === 0) {
    const last = next.alert.lastNotifiedTime ? Date.parse(next.alert.lastNotifiedTime) : NaN;
    if (!(last >= mark.time)) next.alert = { ...next.alert, lastNotifiedTime: iso(mark.time) };
  }
  return next && withAlertDelivery(next, mark.time, generation);
}

/** A transient failure (429, 5xx, no answer, a Secret not readable yet): counted, shown, retried. */
export function markRetrying(status: ReservationStatus | undefined, mark: FailureMark, generation?: number): ReservationStatus | null {
  const next = updateEntry(status, mark.entryId, (e) => (isPending(e) ? { ...e, ...(mark.attempted ? { attempts: (e.attempts ?? 0) + 1 } : {}), lastError: clip(mark.error) } : null));
  return next && withAlertDelivery(next, mark.time, generation);
}

/** A receiver refused for good: counted and shown; the entry closes once every receiver answered. */
export function markRefused(status: ReservationStatus | undefined, mark: RefusalMark, generation?: number): ReservationStatus | null {
  const next = updateEntry(status, mark.entryId, (e) => {
    if (!isPending(e)) return null;
    const tried: OutboxEntry = { ...e, attempts: (e.attempts ?? 0) + (mark.attempted ? 1 : 0), lastError: clip(mark.error) };
    return finish(tried, mark.receivers, new Map(mark.rejected), mark.time) ?? tried;
  });
  return next && withAlertDelivery(next, mark.time, generation);
}

/**
 * Closes an entry every receiver has answered (or that has no receiver): delivered, or
 * failedPermanently with `error` or the refusals. Null when it is closed already or still open.
 */
export function closeEntry(status: ReservationStatus | undefined, entryId: string, receivers: string[], rejected: [string, string][], time: number, error?: string, generation?: number): ReservationStatus | null {
  const next = updateEntry(status, entryId, (e) => finish(e, receivers, new Map(rejected), time, error));
  return next && withAlertDelivery(next, time, generation);
}

/** The status with one outbox entry changed, or null when the entry is gone or unchanged. */
function updateEntry(status: ReservationStatus | undefined, entryId: string, change: (e: OutboxEntry) => OutboxEntry | null): ReservationStatus | null {
  const outbox = status?.alert?.outbox;
  const i = outbox?.findIndex((e) => e.id === entryId) ?? -1;
  if (!status?.alert || !outbox || i < 0) return null;
  const next = change(outbox[i]!);
  if (!next) return null;
  const copy = [...outbox];
  copy[i] = next;
  return { ...status, alert: { ...status.alert, outbox: copy } };
}

/** Closes an entry whose receivers all answered: delivered, or failedPermanently with the refusals. */
function finish(entry: OutboxEntry, receivers: string[], rejected: Map<string, string>, now: number, error?: string): OutboxEntry | null {
  if (!isPending(entry)) return null;
  const delivered = new Set(entry.deliveredTo ?? []);
  if (receivers.length > 0 && receivers.every((r) => delivered.has(r))) {
    const next: OutboxEntry = { ...entry, deliveredTime: iso(now) };
    delete next.lastError;
    return next;
  }
  if (receivers.length > 0 && !receivers.every((r) => delivered.has(r) || rejected.has(r))) return null;
  return { ...entry, failedPermanently: true, lastError: clip(error ?? ([...rejected.values()].join('; ') || 'refused by every receiver')) };
}
