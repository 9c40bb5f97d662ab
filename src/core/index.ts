// The judging core: pure (no network, no file system, no clock: time is passed in).
export { ScheduleError, type SpecErrorReason } from './errors.ts';
export { parseDuration, formatDuration, humanizeDuration } from './duration.ts';
export { checkTimeZone, offsetAt, toWall, fromWall, formatOffset, type WallTime } from './zone.ts';
export { parseCronFields, MACROS, type CronFields } from './cron.ts';
export { parseSchedule, cronJobSchedule, CronSchedule, EverySchedule, type Schedule, type ScheduleSpec } from './schedule.ts';
export { QuietCalendar, parseInstant } from './quiet.ts';
export { compileSpec, DEFAULTS, EARLY_MS, FUTURE_TOLERANCE_MS, MAX_JUDGED_PER_CALL, type Compiled } from './spec.ts';
export { evaluate, canonical, type Evaluation, type EvaluateOptions, type Transition } from './evaluate.ts';
export { applyCheckin, applyCheckinDetailed, normalizeCheckin, CheckinError, type CheckinInput, type CheckinResult } from './checkin.ts';
export { mergeConditions, type ConditionInput } from './conditions.ts';
export { iso } from './time.ts';
export { judge, FOLD_WAIT_MS, WAIT_RETRY_MS, type Judgement, type JudgeInputs } from './judge.ts';
export { foldInto, lastArrival, markOf, raiseMark, type FoldItem, type FoldOutcome, type Folded } from './fold.ts';
export { effectiveReservation, followsCronJob, type CronJobOf, type FollowedCronJob } from './job-ref.ts';
export { ALERT_DELIVERY, alertDeliveryCondition, isPending, pruneOutbox, withAlertDelivery } from './delivery.ts';
export { clip } from './text.ts';
export { catchUpEnd, leaderGap, mergeOutage, outageFor, outageId, windowsOf, type ObservedInterval, type OutageRecord, type OutageWindow } from './outage.ts';
