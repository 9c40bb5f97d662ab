// Pure helpers over the outbox (status.alert.outbox): which entry is next, bounding its size, and
// the AlertDelivery condition derived from it.
import type { OutboxEntry, ReservationStatus } from '../api/reservation.ts';
import { isPending } from '../core/delivery.ts';

export { ALERT_DELIVERY, alertDeliveryCondition, isPending, pruneOutbox } from '../core/delivery.ts';

/** The oldest pending entry (entries are appended in creation order and sent in that order). */
export function nextPending(status: ReservationStatus | undefined): OutboxEntry | undefined {
  return status?.alert?.outbox?.find(isPending);
}
