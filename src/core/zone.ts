// Time zones by IANA name, from the zone data built into the JavaScript runtime (Intl). Pure:
// nothing here reads the clock or the file system.
//
// Wall-clock times are handled as "wall milliseconds": the instant the wall time would be if the
// zone were UTC (Date.UTC(y, m - 1, d, h, mi, s)). An offset is wall - utc, in milliseconds.
import { ScheduleError } from './errors.ts';

const HOUR = 3_600_000;

interface ZoneData {
  fmt: Intl.DateTimeFormat;
  /** Offset at the start of each UTC hour (key: hour number since the epoch). */
  hourly: Map<number, number>;
}

const zones = new Map<string, ZoneData>();
const MAX_CACHED_HOURS = 200_000;

/**
 * Checks a zone name the way the CronJob controller's `time.LoadLocation` would see it: an IANA
 * name (or `UTC`), spelled with the right case. Throws ScheduleError naming the zone.
 */
export function checkTimeZone(name: string, field = 'spec.timeZone'): string {
  const known = checked.get(name);
  if (known === true) return name;
  if (known !== undefined) throw known.at(field);
  try {
    checkZoneUncached(name, field);
    checked.set(name, true);
    return name;
  } catch (e) {
    if (e instanceof ScheduleError && checked.size < 1000) checked.set(name, e);
    throw e;
  }
}

/** Zone names already checked: true, or the problem. */
const checked = new Map<string, true | ScheduleError>();

function checkZoneUncached(name: string, field: string): void {
  if (typeof name !== 'string' || name.trim() === '') {
    throw new ScheduleError(field, 'UnknownTimeZone', 'time zone must be an IANA name such as "Europe/Berlin"');
  }
  if (/^[+-]|^\d/.test(name) || /\s/.test(name)) {
    throw new ScheduleError(field, 'UnknownTimeZone', `unknown time zone "${name}": use an IANA name such as "Europe/Berlin"`);
  }
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    throw new ScheduleError(field, 'UnknownTimeZone', `unknown time zone "${name}"`);
  }
  if (resolved !== name && resolved.toLowerCase() === name.toLowerCase()) {
    throw new ScheduleError(field, 'UnknownTimeZone', `unknown time zone "${name}" (did you mean "${resolved}"?)`);
  }
}

function zoneData(zone: string): ZoneData {
  let z = zones.get(zone);
  if (!z) {
    checkTimeZone(zone);
    z = {
      fmt: new Intl.DateTimeFormat('en-US', {
        timeZone: zone,
        hourCycle: 'h23',
        era: 'short',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      }),
      hourly: new Map(),
    };
    zones.set(zone, z);
  }
  return z;
}

function exactOffset(z: ZoneData, utc: number): number {
  const whole = Math.floor(utc / 1000) * 1000;
  let year = 0, month = 1, day = 1, hour = 0, minute = 0, second = 0, bc = false;
  for (const p of z.fmt.formatToParts(whole)) {
    switch (p.type) {
      case 'year': year = Number(p.value); break;
      case 'month': month = Number(p.value); break;
      case 'day': day = Number(p.value); break;
      case 'hour': hour = Number(p.value); break;
      case 'minute': minute = Number(p.value); break;
      case 'second': second = Number(p.value); break;
      case 'era': bc = p.value.startsWith('B'); break;
      default: break;
    }
  }
  const wall = wallMs(bc ? 1 - year : year, month, day, hour, minute, second);
  return wall - whole;
}

function hourOffset(z: ZoneData, h: number): number {
  let o = z.hourly.get(h);
  if (o === undefined) {
    if (z.hourly.size > MAX_CACHED_HOURS) z.hourly.clear();
    o = exactOffset(z, h * HOUR);
    z.hourly.set(h, o);
  }
  return o;
}

/** The zone's UTC offset (ms) in effect at the instant `utc` (ms since the epoch). */
export function offsetAt(zone: string, utc: number): number {
  const z = zoneData(zone);
  const h = Math.floor(utc / HOUR);
  const a = hourOffset(z, h);
  const b = hourOffset(z, h + 1);
  // Offsets change at most once within an hour (in any zone data of this century), so equal
  // offsets at both ends of the hour mean the offset is constant inside it.
  return a === b ? a : exactOffset(z, utc);
}

/** Wall milliseconds for a civil date and time (proleptic Gregorian, any year). */
export function wallMs(year: number, month: number, day: number, hour = 0, minute = 0, second = 0): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, 0);
  return d.getTime();
}

export interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** 0 = Sunday. */
  weekday: number;
  /** Offset from UTC in ms. */
  offset: number;
}

/** The wall-clock reading in `zone` at the instant `utc`. */
export function toWall(zone: string, utc: number): WallTime {
  const offset = offsetAt(zone, utc);
  const d = new Date(utc + offset);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    weekday: d.getUTCDay(),
    offset,
  };
}

/**
 * The instants at which the zone's clocks read the wall time `wall`: none in a spring-forward
 * gap, two in a fall-back overlap (earliest first), else one.
 */
export function fromWall(zone: string, wall: number): number[] {
  const offsets = new Set<number>();
  // Any instant showing this wall time lies within ±15 h of it; the offsets in effect over that
  // span are those at its ends (zones change offset at most once in 30 hours).
  offsets.add(offsetAt(zone, wall - 15 * HOUR));
  offsets.add(offsetAt(zone, wall));
  offsets.add(offsetAt(zone, wall + 15 * HOUR));
  const out: number[] = [];
  for (const o of offsets) {
    const utc = wall - o;
    if (offsetAt(zone, utc) === o && !out.includes(utc)) out.push(utc);
  }
  return out.sort((x, y) => x - y);
}

/** `+05:45`, `-04:00`, `+00:00`. */
export function formatOffset(offset: number): string {
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(Math.round(offset / 60_000));
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}
