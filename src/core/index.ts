// The judging core: pure (no network, no file system, no clock: time is passed in).
export { ScheduleError, type SpecErrorReason } from './errors.ts';
export { parseDuration, formatDuration, humanizeDuration } from './duration.ts';
export { checkTimeZone, offsetAt, toWall, fromWall, formatOffset, type WallTime } from './zone.ts';
export { parseCronFields, MACROS, type CronFields } from './cron.ts';
export { parseSchedule, CronSchedule, EverySchedule, type Schedule, type ScheduleSpec } from './schedule.ts';
export { iso } from './time.ts';
