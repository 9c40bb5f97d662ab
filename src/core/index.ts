// The judging core: pure (no network, no file system, no clock: time is passed in).
export { ScheduleError, type SpecErrorReason } from './errors.ts';
export { parseDuration, formatDuration, humanizeDuration } from './duration.ts';
export { checkTimeZone, offsetAt, toWall, fromWall, formatOffset, type WallTime } from './zone.ts';
export { parseCronFields, MACROS, type CronFields } from './cron.ts';
export { parseSchedule, cronJobSchedule, CronSchedule, EverySchedule, type Schedule, type ScheduleSpec } from './schedule.ts';
export { QuietCalendar, parseInstant } from './quiet.ts';
export { compileSpec, validateSpec, DEFAULTS, EARLY_MS, FUTURE_TOLERANCE_MS, MAX_JUDGED_PER_CALL, type Compiled } from './spec.ts';
export { evaluate, canonical, type Evaluation, type EvaluateOptions, type Transition } from './evaluate.ts';
export { applyCheckin, applyCheckinDetailed, normalizeCheckin, CheckinError, type CheckinInput, type CheckinResult } from './checkin.ts';
export { mergeConditions, findCondition, CONDITION_TYPES, type ConditionInput } from './conditions.ts';
export { iso } from './time.ts';
