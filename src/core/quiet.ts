// Quiet periods: snoozeUntil and maintenance windows. Nothing alerts inside one; an expected
// run that falls due inside one is not judged (the first expectation after it is).
import type { MaintenanceWindow } from '../api/reservation.ts';
import { parseDuration } from './duration.ts';
import { ScheduleError } from './errors.ts';
import { CronSchedule } from './schedule.ts';

export interface Window {
  schedule: CronSchedule;
  durationMs: number;
}

export interface QuietReason {
  kind: 'Snoozed' | 'InMaintenanceWindow';
  until: number;
}

export class QuietCalendar {
  readonly snoozeUntil: number | undefined;
  readonly windows: readonly Window[];

  constructor(snoozeUntil: number | undefined, windows: readonly Window[]) {
    this.snoozeUntil = snoozeUntil;
    this.windows = windows;
  }

  static parse(snoozeUntil: string | undefined, windows: MaintenanceWindow[] | undefined, zone: string): QuietCalendar {
    let snooze: number | undefined;
    if (snoozeUntil !== undefined && snoozeUntil !== null && snoozeUntil !== '') {
      snooze = parseInstant(snoozeUntil, 'spec.snoozeUntil');
    }
    const ws: Window[] = (windows ?? []).map((w, i) => {
      const f = `spec.maintenanceWindows[${i}]`;
      if (!w || typeof w !== 'object') throw new ScheduleError(f, 'InvalidSpec', 'expected {schedule, duration}');
      const durationMs = parseDuration(w.duration, `${f}.duration`);
      if (durationMs <= 0) throw new ScheduleError(`${f}.duration`, 'InvalidDuration', 'must be positive');
      const schedule = new CronSchedule(w.schedule, w.timeZone || zone, `${f}.schedule`, w.timeZone ? `${f}.timeZone` : 'spec.timeZone');
      return { schedule, durationMs };
    });
    return new QuietCalendar(snooze, ws);
  }

  get empty(): boolean {
    return this.snoozeUntil === undefined && this.windows.length === 0;
  }

  /** Why `t` is quiet and until when (the end of that one period), or undefined. */
  at(t: number): QuietReason | undefined {
    let best: QuietReason | undefined;
    if (this.snoozeUntil !== undefined && t < this.snoozeUntil) best = { kind: 'Snoozed', until: this.snoozeUntil };
    for (const w of this.windows) {
      const open = w.schedule.previousMs(t + 1);
      if (open !== null && t < open + w.durationMs) {
        const until = open + w.durationMs;
        if (!best || until > best.until) best = { kind: 'InMaintenanceWindow', until };
      }
    }
    return best;
  }

  /** The first instant >= t that is not quiet (t itself when it is not quiet). */
  endFrom(t: number): number {
    let e = t;
    for (let i = 0; i < 1000; i++) {
      const q = this.at(e);
      if (!q) return e;
      e = q.until;
    }
    return e;
  }

  /** Whether any quiet period touches [a, b]. */
  overlaps(a: number, b: number): boolean {
    if (this.at(a)) return true;
    for (const w of this.windows) {
      const open = w.schedule.nextMs(a);
      if (open !== null && open <= b) return true;
    }
    return false;
  }

  /** The next instant after t at which quiet begins or ends, or null. */
  nextBoundary(t: number): number | null {
    let best: number | null = null;
    const consider = (x: number | null | undefined) => {
      if (x !== null && x !== undefined && x > t && (best === null || x < best)) best = x;
    };
    consider(this.snoozeUntil);
    for (const w of this.windows) {
      const prev = w.schedule.previousMs(t + 1);
      if (prev !== null) consider(prev + w.durationMs);
      const next = w.schedule.nextMs(t);
      consider(next);
      if (next !== null) consider(next + w.durationMs);
    }
    return best;
  }
}

/** RFC 3339 instant to ms; throws ScheduleError. */
export function parseInstant(text: string | Date, field: string): number {
  if (text instanceof Date) return text.getTime();
  if (typeof text !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i.test(text.trim())) {
    throw new ScheduleError(field, 'InvalidSpec', `"${String(text)}" is not an RFC 3339 instant such as 2026-03-28T01:30:00Z`);
  }
  const t = Date.parse(text.trim());
  if (Number.isNaN(t)) throw new ScheduleError(field, 'InvalidSpec', `"${text}" is not a valid instant`);
  return t;
}
