// A Reservation whose jobRef names a CronJob and that sets neither schedule nor every follows the
// CronJob's schedule and time zone. The reconciler judges this "effective" Reservation; when the
// CronJob is missing, the Reservation is Invalid with a Ready condition that says so.
import type { Reservation } from '../api/reservation.ts';
import { canonical, cronJobSchedule, type Evaluation } from '../core/index.ts';

export interface CronJob {
  metadata: { name?: string; namespace?: string; uid?: string };
  spec?: { schedule?: string; timeZone?: string; suspend?: boolean };
}

export interface CronJobLookup {
  get(key: string): CronJob | undefined;
}

function followsCronJob(r: Reservation): boolean {
  return r.spec.jobRef?.kind === 'CronJob' && !r.spec.schedule && !r.spec.every;
}

export function resolveJobRefSchedule(r: Reservation, cronJobs: CronJobLookup): Reservation {
  if (!followsCronJob(r)) return r;
  const cronJob = cronJobs.get(`${r.metadata.namespace}/${r.spec.jobRef!.name}`);
  if (!cronJob?.spec?.schedule) return r;
  // As the CronJob controller reads them: a TZ= prefix in the schedule wins over spec.timeZone.
  const { schedule, timeZone } = cronJobSchedule(cronJob.spec.schedule, cronJob.spec.timeZone);
  return { ...r, spec: { ...r.spec, schedule, timeZone: timeZone ?? r.spec.timeZone } };
}

/** The problem with a Reservation's jobRef that only the operator can see, if any. */
export function jobRefProblem(r: Reservation, cronJobs: CronJobLookup): string | undefined {
  if (!followsCronJob(r)) return undefined;
  const ref = `${r.metadata.namespace}/${r.spec.jobRef!.name}`;
  const cronJob = cronJobs.get(ref);
  if (!cronJob) return `spec.jobRef: CronJob ${ref} not found; create it or set spec.schedule`;
  if (!cronJob.spec?.schedule) return `spec.jobRef: CronJob ${ref} has no schedule`;
  return undefined;
}

/** Rewrites an Invalid evaluation's Ready condition to name the jobRef problem. */
export function withJobRefProblem(evaluation: Evaluation, problem: string, previous: Reservation['status']): Evaluation {
  const conditions = evaluation.status.conditions?.map((c) =>
    c.type === 'Ready' ? { ...c, reason: 'CronJobNotFound', message: problem } : c,
  );
  const status = { ...evaluation.status, state: 'Invalid' as const, conditions };
  return { ...evaluation, state: 'Invalid', status, conditions: conditions ?? [], changed: canonical(status) !== canonical(previous ?? {}) };
}
