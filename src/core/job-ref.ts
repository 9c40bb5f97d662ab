// A Reservation whose jobRef names a CronJob and that sets neither schedule nor every follows the
// CronJob's schedule and time zone: it is judged as if it had them. When the CronJob is missing or
// has no schedule there is nothing to judge by, and the Reservation is Invalid with a Ready
// condition that says why (CronJobNotFound).
import type { Reservation } from '../api/reservation.ts';
import { ScheduleError } from './errors.ts';
import { cronJobSchedule } from './schedule.ts';

/** The followed CronJob as the shell sees it: its schedule and time zone. */
export interface FollowedCronJob {
  schedule?: string;
  timeZone?: string;
}

/** Whether the Reservation takes its schedule from a CronJob. */
export function followsCronJob(r: Reservation): boolean {
  return r.spec?.jobRef?.kind === 'CronJob' && !r.spec.schedule && !r.spec.every;
}

/**
 * The Reservation as the judge sees it (the CronJob's schedule filled in) and the problem that
 * keeps it from being judged, if any. `cronJob` is null when the CronJob does not exist and
 * undefined when the caller did not look it up (then `unknown`: check-ins are recorded, not judged).
 */
export function effectiveReservation(r: Reservation, cronJob: FollowedCronJob | null | undefined): { reservation: Reservation; problem?: ScheduleError; unknown?: true } {
  if (!followsCronJob(r)) return { reservation: r };
  // Not looked up: the schedule is unknown here, which is no reason to call the Reservation Invalid.
  if (cronJob === undefined) return { reservation: r, unknown: true };
  const ref = `${r.metadata.namespace}/${r.spec.jobRef!.name}`;
  if (!cronJob) return { reservation: r, problem: new ScheduleError('spec.jobRef', 'CronJobNotFound', `CronJob ${ref} not found; create it or set spec.schedule`) };
  if (!cronJob.schedule) return { reservation: r, problem: new ScheduleError('spec.jobRef', 'CronJobNotFound', `CronJob ${ref} has no schedule`) };
  // As the CronJob controller reads them: a TZ= prefix in the schedule wins over its timeZone.
  const { schedule, timeZone } = cronJobSchedule(cronJob.schedule, cronJob.timeZone);
  return { reservation: { ...r, spec: { ...r.spec, schedule, timeZone: timeZone ?? r.spec.timeZone } } };
}

/** How the shell tells the judge which CronJob a Reservation follows (see effectiveReservation). */
export type CronJobOf = (r: Reservation) => FollowedCronJob | null | undefined;
