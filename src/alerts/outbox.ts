// The outbox as the alert sender sees it: the pure state changes of src/core/delivery.ts (creating
// an entry, marking it per receiver, the AlertDelivery condition, lastNotifiedTime) and which entry
// goes next.
import type { OutboxEntry, ReservationStatus } from '../api/reservation.ts';
import { isPending } from '../core/delivery.ts';

export {
  ALERT_DELIVERY,
  addEntry,
  alertDeliveryCondition,
  closeEntry,
  isPending,
  markDelivered,
  markRefused,
  markRetrying,
  pruneOutbox,
  withAlertDelivery,
  type DeliveryMark,
  type FailureMark,
  type RefusalMark,
} from '../core/delivery.ts';

/** The oldest pending entry (entries are appended in creation order and sent in that order). */
export function nextPending(status: ReservationStatus | undefined): OutboxEntry | undefined {
  return status?.alert?.outbox?.find(isPending);
}
