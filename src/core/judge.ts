// judge(reservation, now, inputs): the one place where GoTel decides what a Reservation's status
// is. The check-in path, the journal fold and sweep and the reconciler all call it inside their
// status write; none of them changes a status in any other way (docs/architecture.md, "The
// judge"). Pure: what the shell observed comes in as `inputs`, time as `now`.
//
// What it does, in order:
// 1. the Reservation as judged: a followed CronJob's schedule and time zone filled in, or the
//    reason there is nothing to judge by;
// 2. check-ins arriving now recorded in order, each judged against the runs due before it, with
//    the journal marks that make a replay count once;
// 3. the verdict at `now` (evaluate: state, conditions, missed runs, alert transitions), and the
//    AlertDelivery condition its outbox implies; a run due while GoTel itself could not accept
//    check-ins (inputs.outages) waits for the catch-up and is then CheckedIn or Unknown, not Missed;
// 4. whether that verdict must wait: acknowledged check-ins not yet folded (in another replica's
//    journal) that would contradict it, e.g. a run called missed that checked in.
import type { Reservation, ReservationStatus, State } from '../api/reservation.ts';
import { withAlertDelivery } from './delivery.ts';
import { canonical, evaluate, sameJson, type Evaluation, type Transition } from './evaluate.ts';
import { foldInto, type Folded, type FoldItem, type FoldOutcome } from './fold.ts';
import { effectiveReservation, type FollowedCronJob } from './job-ref.ts';
import type { JudgeOutages } from './checkin.ts';
import type { OutageWindow } from './outage.ts';

export interface JudgeInputs {
  /**
   * The CronJob a Reservation follows (jobRef kind CronJob, no schedule or every): null when it
   * does not exist. Not needed for other Reservations.
   */
  cronJob?: FollowedCronJob | null;
  /**
   * Check-ins arriving now, in arrival order. When given and none of them is new (all repeats or
   * already folded), nothing is stored: a retried check-in does not move the verdict on its own.
   */
  checkins?: readonly FoldItem[];
  /** Acknowledged check-ins not folded into this status yet (other replicas' journals). */
  unfolded?: readonly FoldItem[];
  /** How long a verdict waits for unfolded check-ins at most (past it, judging beats silence). */
  foldWaitMs?: number;
  /**
   * GoTel's own outages (src/core/outage.ts): a run whose deadline falls in one, or in the
   * `catchUpMs` after it, waits for the catch-up and is then CheckedIn or Unknown, never Missed.
   * Ignored for a `jobRef` Reservation: its evidence (Job status) is in the apiserver.
   */
  outages?: readonly OutageWindow[];
  catchUpMs?: number;
  /** `reservation.status` is the caller's own copy: change it in place (the hot check-in path). */
  inPlace?: boolean;
}

export interface Judgement {
  /** The status to store; null when nothing changes or the verdict waits. */
  status: ReservationStatus | null;
  state: State;
  /** When to look again, in ms from `now`; null when time alone changes nothing. */
  requeueAfterMs: number | null;
  /** The verdict waits for unfolded check-ins that contradict it (see JudgeInputs.unfolded). */
  waiting: boolean;
  /** Per check-in in `inputs.checkins`, in order. */
  outcomes: FoldOutcome[];
  /** Alert transitions made (their entries are in the new status's outbox). */
  transitions: Transition[];
  /** The verdict in full; absent when check-ins were given and none was new (nothing judged). */
  evaluation?: Evaluation;
}

/** How long, by default, a verdict waits for unfolded check-ins (a live replica folds within 20 s). */
export const FOLD_WAIT_MS = 60_000;
/** How soon a verdict put off for unfolded check-ins is looked at again. */
export const WAIT_RETRY_MS = 1_000;

/** Judges `reservation` at `now` with what the shell observed. */
export function judge(reservation: Reservation, now: Date, inputs: JudgeInputs = {}): Judgement {
  const { reservation: effective, problem, unknown } = effectiveReservation(reservation, inputs.cronJob);
  const before = reservation.status ?? {};
  const outages = outagesFor(reservation, inputs);
  const folded = inputs.checkins ? foldInto(effective, inputs.checkins, inputs.inPlace === true, outages) : undefined;
  if (folded && (!folded.status || unknown)) return recordedOnly(before, folded);
  // The status evaluate changes in place: the fold's own copy, the caller's, or a fresh clone.
  const own = inputs.inPlace === true && reservation.status !== undefined;
  const status = folded?.status ?? (own ? before : structuredClone(before));
  const evaluation = evaluate({ ...effective, status }, now, { inPlace: true, ...outages, ...(problem ? { specError: problem } : {}) });
  const conditions = withAlertDelivery(evaluation.status, now.getTime(), reservation.metadata?.generation).conditions;
  if (conditions) evaluation.status.conditions = conditions;
  recordSchedule(evaluation.status, problem ? undefined : effective.spec);
  const changed = own || folded !== undefined || !sameJson(evaluation.status, before);
  const waiting = changed && !folded && contradicted(reservation, evaluation, now, inputs);
  return {
    status: changed && !waiting ? evaluation.status : null,
    state: evaluation.state,
    requeueAfterMs: waiting ? WAIT_RETRY_MS : wakeupAfter(evaluation, now),
    waiting,
    outcomes: folded?.outcomes ?? [],
    transitions: evaluation.transitions,
    evaluation,
  };
}

/** The outages that apply: none for a jobRef Reservation, judged by Job status in the apiserver. */
function outagesFor(reservation: Reservation, inputs: JudgeInputs): JudgeOutages {
  if (!inputs.outages || inputs.outages.length === 0 || reservation.spec?.jobRef) return {};
  return { outages: inputs.outages, catchUpMs: inputs.catchUpMs ?? 0 };
}

/**
 * Nothing judged: no check-in was new (the stored status stands), or the schedule is unknown to
 * the caller (the check-ins are recorded; the reconciler, which knows the CronJob, judges).
 */
function recordedOnly(before: ReservationStatus, folded: Folded): Judgement {
  const state = folded.status?.state ?? before.state ?? 'Pending';
  return { status: folded.status, state, requeueAfterMs: null, waiting: false, outcomes: folded.outcomes, transitions: [] };
}

function wakeupAfter(evaluation: Evaluation, now: Date): number | null {
  return evaluation.nextWakeup ? Math.max(0, evaluation.nextWakeup.getTime() - now.getTime()) : null;
}

/** Records (in place) the schedule judged by, so `kubectl get` shows it for jobRef Reservations too. */
function recordSchedule(status: ReservationStatus, spec: Reservation['spec'] | undefined): void {
  const schedule = spec?.schedule ? (spec.timeZone ? `${spec.schedule} (${spec.timeZone})` : spec.schedule) : spec?.every ? `every ${spec.every}` : undefined;
  if (schedule) status.schedule = schedule;
  else delete status.schedule;
}

/** The parts of a verdict that unfolded check-ins must not contradict: state and alert. */
function verdictKey(e: Evaluation): string {
  return canonical({ state: e.state, firing: e.status.alert?.firing ?? false, outbox: e.status.alert?.outbox?.length ?? 0 });
}

/**
 * Whether acknowledged check-ins not yet folded (arrived by `now`, within the wait) would make
 * the verdict different: then it waits for them rather than cry wolf.
 */
function contradicted(reservation: Reservation, evaluation: Evaluation, now: Date, inputs: JudgeInputs): boolean {
  const waitMs = inputs.foldWaitMs ?? FOLD_WAIT_MS;
  const items = inputs.unfolded?.filter((i) => i.now <= now && now.getTime() - i.now.getTime() < waitMs) ?? [];
  if (items.length === 0) return false;
  const withThem = judge(reservation, now, { cronJob: inputs.cronJob, checkins: items, ...outagesFor(reservation, inputs) });
  return withThem.evaluation !== undefined && withThem.status !== null && verdictKey(withThem.evaluation) !== verdictKey(evaluation);
}
