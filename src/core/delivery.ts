// The AlertDelivery condition: what the outbox (status.alert.outbox) says about delivery. Part of
// the judgement (every status the judge writes carries it), derived only from the outbox entries
// that the alert sender marks delivered or failed (src/alerts/outbox.ts).
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

