// Schedules: a cron expression in a time zone, or a fixed period (`every`, or a schedule's
// `@every`). One interface, with Date in and out for callers; the judging code uses the
// millisecond forms.
import { CronTimes, parseCronFields } from './cron.ts';
import { parseDuration, formatDuration } from './duration.ts';
import { ScheduleError } from './errors.ts';
import { checkTimeZone } from './zone.ts';

export interface ScheduleSpec {
  schedule?: string;
  every?: string;
  timeZone?: string;
}

export interface Schedule {
  readonly kind: 'cron' | 'every';
  /** The expression or period as given (trimmed). */
  readonly expression: string;
  readonly timeZone: string;
  /** For `every`: the period in ms. */
  readonly periodMs?: number;
  /** First expected instant strictly after `after`; null when there is none. */
  next(after: Date): Date | null;
  /** Last expected instant strictly before `before`; null when there is none. */
  previous(before: Date): Date | null;
  /** The next `count` expected instants strictly after `after`. */
  upcoming(after: Date, count: number): Date[];
  /** Millisecond forms of next/previous. */
  nextMs(after: number): number | null;
  previousMs(before: number): number | null;
}

const MIN_EVERY_MS = 1000;

abstract class BaseSchedule implements Schedule {
  abstract readonly kind: 'cron' | 'every';
  abstract readonly expression: string;
  abstract readonly timeZone: string;
  readonly periodMs?: number;
  abstract nextMs(after: number): number | null;
  abstract previousMs(before: number): number | null;

  next(after: Date): Date | null {
    const t = this.nextMs(after.getTime());
    return t === null ? null : new Date(t);
  }

  previous(before: Date): Date | null {
    const t = this.previousMs(before.getTime());
    return t === null ? null : new Date(t);
  }

  upcoming(after: Date, count: number): Date[] {
    const out: Date[] = [];
    let t: number | null = after.getTime();
    while (out.length < count) {
      t = this.nextMs(t);
      if (t === null) break;
      out.push(new Date(t));
    }
    return out;
  }
}

export class CronSchedule extends BaseSchedule {
  readonly kind = 'cron' as const;
  readonly expression: string;
  readonly timeZone: string;
  readonly times: CronTimes;

  constructor(expression: string, timeZone = 'UTC', field = 'spec.schedule', zoneField = 'spec.timeZone') {
    super();
    this.expression = expression.trim();
    this.timeZone = checkTimeZone(timeZone, zoneField);
    this.times = new CronTimes(parseCronFields(expression, field), this.timeZone);
  }

  nextMs(after: number): number | null {
    return this.times.next(after);
  }

  previousMs(before: number): number | null {
    return this.times.previous(before);
  }
}

/**
 * A fixed period. As a schedule it expects a run every `period` after an anchor (the last
 * check-in, or the creation time): next(after) = after + period.
 */
export class EverySchedule extends BaseSchedule {
  readonly kind = 'every' as const;
  readonly expression: string;
  readonly timeZone: string;
  override readonly periodMs: number;

  constructor(every: string, timeZone = 'UTC', field = 'spec.every') {
    super();
    this.expression = every.trim();
    this.timeZone = timeZone;
    this.periodMs = parseDuration(every, field);
    if (this.periodMs < MIN_EVERY_MS) {
      throw new ScheduleError(field, 'InvalidDuration', `period "${every}" is too short: at least 1s`);
    }
  }

  nextMs(after: number): number {
    return after + this.periodMs;
  }

  previousMs(before: number): number {
    return before - this.periodMs;
  }

  /** The k-th expectation after an anchor, for the smallest k >= 1 with the result > after. */
  slotAfter(anchor: number, after: number): number {
    if (after < anchor + this.periodMs) return anchor + this.periodMs;
    const k = Math.floor((after - anchor) / this.periodMs) + 1;
    return anchor + k * this.periodMs;
  }

  override toString(): string {
    return `every ${formatDuration(this.periodMs)}`;
  }
}

/**
 * Parses the schedule part of a spec: exactly one of `schedule` and `every`, an optional
 * `timeZone` (default UTC). Throws ScheduleError naming the field and the problem.
 */
export function parseSchedule(spec: ScheduleSpec): CronSchedule | EverySchedule {
  const hasSchedule = spec.schedule !== undefined && spec.schedule !== null && spec.schedule !== '';
  const hasEvery = spec.every !== undefined && spec.every !== null && spec.every !== '';
  const zone = spec.timeZone === undefined || spec.timeZone === null || spec.timeZone === '' ? 'UTC' : spec.timeZone;
  if (hasSchedule && hasEvery) {
    throw new ScheduleError('spec', 'InvalidSpec', 'set either spec.schedule or spec.every, not both');
  }
  if (!hasSchedule && !hasEvery) {
    throw new ScheduleError('spec', 'InvalidSpec', 'set spec.schedule (a cron expression) or spec.every (a period such as 5m)');
  }
  if (hasSchedule) return everyDescriptor(spec.schedule as string, zone) ?? new CronSchedule(spec.schedule as string, zone);
  checkTimeZone(zone);
  return new EverySchedule(spec.every as string, zone);
}

/**
 * A CronJob's schedule and zone as its controller reads them. The controller passes a schedule
 * that carries `TZ=` or `CRON_TZ=` (kept by CronJobs created before Kubernetes 1.27) as it is,
 * so that zone wins over spec.timeZone; robfig takes the zone up to the first space.
 */
export function cronJobSchedule(schedule: string, timeZone?: string): { schedule: string; timeZone?: string } {
  const m = /^(?:CRON_)?TZ=([^ ]*) (.*)$/s.exec(schedule);
  if (!m) return timeZone === undefined ? { schedule } : { schedule, timeZone };
  return { schedule: (m[2] ?? '').trim(), timeZone: m[1] ?? '' };
}

/**
 * `@every <Go duration>` as a schedule, which a CronJob takes too (robfig's ConstantDelaySchedule:
 * whole seconds, at least 1s, so `@every 500ms` is every second). A Reservation following such a
 * CronJob judges it as spec.every: a run is due one period after the last one.
 */
function everyDescriptor(schedule: string, zone: string): EverySchedule | undefined {
  const m = /^@every (.*)$/s.exec(schedule.trim());
  if (!m) return undefined;
  const text = m[1] ?? '';
  // Go's time.ParseDuration takes no white space ("@every  5m" is refused); parseDuration would.
  if (text.trim() !== text || text === '') {
    throw new ScheduleError('spec.schedule', 'InvalidDuration', `"${schedule}": @every takes one Go duration such as 5m or 1h30m`);
  }
  const ms = parseDuration(text, 'spec.schedule');
  checkTimeZone(zone);
  return new EverySchedule(formatDuration(Math.max(1000, Math.trunc(ms / 1000) * 1000)), zone, 'spec.schedule');
}
