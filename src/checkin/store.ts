// Storing one check-in durably: the judging core folds it into status (applyCheckinDetailed, which
// also drops a repeated (runId, signal)) and judges the result (evaluate), and the shared
// StatusWriter writes it (one write in flight per Reservation, batching, resourceVersion, 409
// retry). The promise resolves only once the apiserver has stored it.
import type { Checkin, Reservation, State } from '../api/reservation.ts';
import { applyCheckinDetailed, evaluate, type CheckinInput } from '../core/index.ts';
import type { StatusWriter } from '../k8s/status-writer.ts';

export interface StoredCheckin {
  /** The Reservation as stored after this check-in. */
  reservation: Reservation;
  /** The same (runId, signal) had been stored before: nothing changed. */
  duplicate: boolean;
  checkin: Checkin;
}

export interface Verdict {
  state?: State;
  nextExpectedTime?: string;
  deadline?: string;
  checkins: number;
}

/**
 * The Reservation as the judge sees it. The operator passes its own (a Reservation that follows a
 * CronJob takes that CronJob's schedule); without one, a Reservation with neither schedule nor
 * every is recorded but not judged here (the reconciler judges it).
 */
export type ResolveSpec = (reservation: Reservation) => Reservation;

export async function storeCheckin(
  writer: StatusWriter,
  namespace: string,
  name: string,
  input: CheckinInput,
  now: Date,
  resolve?: ResolveSpec,
): Promise<StoredCheckin> {
  let duplicate = false;
  let checkin: Checkin | undefined;
  const reservation = await writer.update(namespace, name, (current) => {
    // Pure in `current`: on a 409 the writer calls it again with the fresh object.
    const effective = resolve ? resolve(current) : current;
    const result = applyCheckinDetailed(effective, input, now);
    duplicate = result.duplicate;
    checkin = result.checkin;
    if (result.duplicate) return null;
    if (!effective.spec?.schedule && !effective.spec?.every) return result.status;
    return evaluate({ ...effective, status: result.status }, now).status;
  });
  return { reservation, duplicate, checkin: checkin as Checkin };
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
