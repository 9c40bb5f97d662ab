// The judging parameters of a Reservation, validated once: schedule, grace, runtime limits,
// thresholds, renotify, quiet periods. Anything wrong becomes one ScheduleError naming the field.
import type { Reservation } from '../api/reservation.ts';
import { parseDuration } from './duration.ts';
import { ScheduleError } from './errors.ts';
import { QuietCalendar } from './quiet.ts';
import { CronSchedule, EverySchedule, parseSchedule } from './schedule.ts';

/** What an unset field means. The CRD documents the same values. */
export const DEFAULTS = {
  grace: '5m',
  failureThreshold: 1,
  recoveryThreshold: 1,
  timeZone: 'UTC',
} as const;

/** A check-in up to this long before an expected run still counts for it (clock skew). */
export const EARLY_MS = 60_000;
/** A check-in stamped more than this far after `now` is treated as a clock error and ignored. */
export const FUTURE_TOLERANCE_MS = 5 * 60_000;
/** At most this many expected runs are judged one by one in a call; older ones are skipped. */
export const MAX_JUDGED_PER_CALL = 1000;

export interface Compiled {
  schedule: CronSchedule | EverySchedule;
  graceMs: number;
  earlyMs: number;
  maxRuntimeMs?: number;
  minRuntimeMs?: number;
  failureThreshold: number;
  recoveryThreshold: number;
  renotifyMs?: number;
  suspend: boolean;
  quiet: QuietCalendar;
  /** Changes when the expectations change (schedule, every, timeZone, suspend). */
  key: string;
}

function optDuration(value: string | undefined, field: string, min: number, minText: string): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const ms = parseDuration(value, field);
  if (ms < min) throw new ScheduleError(field, 'InvalidDuration', `"${value}" must be ${minText}`);
  return ms;
}

function threshold(value: number | undefined, field: string, def: number): number {
  if (value === undefined || value === null) return def;
  if (!Number.isInteger(value) || value < 1 || value > 1000) {
    throw new ScheduleError(field, 'InvalidSpec', `must be a whole number from 1 to 1000, got ${String(value)}`);
  }
  return value;
}

// Compiled specs by their JSON: compiling parses cron expressions and zones, and the operator
// evaluates the same specs over and over. Bounded; a pure memo (same spec, same result).
const compiled = new Map<string, Compiled | ScheduleError>();
const MAX_COMPILED = 2000;

/** Validates and compiles the spec; throws ScheduleError. */
export function compileSpec(res: Reservation): Compiled {
  const key = JSON.stringify(res.spec ?? {});
  const hit = compiled.get(key);
  if (hit instanceof ScheduleError) throw hit;
  if (hit) return hit;
  try {
    const c = compileUncached(res);
    remember(key, c);
    return c;
  } catch (e) {
    if (e instanceof ScheduleError) remember(key, e);
    throw e;
  }
}

function remember(key: string, value: Compiled | ScheduleError): void {
  if (compiled.size >= MAX_COMPILED) compiled.delete(compiled.keys().next().value as string);
  compiled.set(key, value);
}

function compileUncached(res: Reservation): Compiled {
  const spec = res.spec ?? {};
  const schedule = parseSchedule(spec);
  const graceMs = optDuration(spec.grace, 'spec.grace', 0, 'zero or more') ?? parseDuration(DEFAULTS.grace);
  const maxRuntimeMs = optDuration(spec.maxRuntime, 'spec.maxRuntime', 1000, 'at least 1s');
  const minRuntimeMs = optDuration(spec.minRuntime, 'spec.minRuntime', 0, 'zero or more');
  if (maxRuntimeMs !== undefined && minRuntimeMs !== undefined && minRuntimeMs >= maxRuntimeMs) {
    throw new ScheduleError('spec.minRuntime', 'InvalidSpec', `must be less than spec.maxRuntime (${spec.maxRuntime})`);
  }
  const renotifyMs = optDuration(spec.renotifyInterval, 'spec.renotifyInterval', 60_000, 'at least 1m');
  const quiet = QuietCalendar.parse(spec.snoozeUntil, spec.maintenanceWindows, schedule.timeZone);
  const suspend = spec.suspend === true;
  const key = JSON.stringify([schedule.kind, schedule.expression, schedule.timeZone, suspend]);
  return {
    schedule,
    graceMs,
    earlyMs: schedule.kind === 'cron' ? EARLY_MS : 0,
    ...(maxRuntimeMs !== undefined ? { maxRuntimeMs } : {}),
    ...(minRuntimeMs !== undefined ? { minRuntimeMs } : {}),
    failureThreshold: threshold(spec.failureThreshold, 'spec.failureThreshold', DEFAULTS.failureThreshold),
    recoveryThreshold: threshold(spec.recoveryThreshold, 'spec.recoveryThreshold', DEFAULTS.recoveryThreshold),
    ...(renotifyMs !== undefined ? { renotifyMs } : {}),
    suspend,
    quiet,
    key,
  };
}
