// Cron expressions as a Kubernetes CronJob accepts them (robfig/cron v3 ParseStandard), expanded
// by croner, walked in a time zone with GoTel's DST policy.
//
// - 5 fields (minute hour day-of-month month day-of-week), names (JAN, mon), ranges, steps,
//   lists, `?` (= `*`), macros @yearly @annually @monthly @weekly @daily @midnight @hourly.
//   Day-of-week is 0-6 (7 is refused, as the CronJob API refuses it); croner's extensions
//   (L, W, #, seconds, years) are refused too.
// - Day-of-month and day-of-week: a day matches when either matches if both are restricted, and
//   when both match if either is unrestricted. A field is unrestricted when it starts with `*`
//   or `?` (Vixie cron: so `*/2` too) or when robfig marks it so (an element that is a bare `*`
//   or `*/1`). Where the two runners disagree (`*/2` with a restricted other field) the result
//   is the days both start a run on: GoTel never expects a run one of them would skip.
// - DST: a wall time that does not exist (spring forward) is not expected that day; a wall time
//   that occurs twice (fall back) is expected once, at its first occurrence.
import { CronPattern } from 'croner';
import { ScheduleError } from './errors.ts';
import { fromWall, offsetAt, wallMs } from './zone.ts';

const DAY = 86_400_000;
const HOUR = 3_600_000;
/** More than any backward (or forward) clock change in this century's zone data. */
const WALL_MARGIN = 3 * HOUR;
/** How far next()/previous() look before deciding a schedule never fires again. */
const SEARCH_YEARS = 40;

export const MACROS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

interface FieldDef {
  name: string;
  min: number;
  max: number;
  names?: Readonly<Record<string, number>>;
}

const FIELDS: readonly FieldDef[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  {
    name: 'month',
    min: 1,
    max: 12,
    names: { jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12 },
  },
  { name: 'day-of-week', min: 0, max: 6, names: { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 } },
];

export interface CronFields {
  minutes: number[];
  hours: number[];
  /** Days of the month, 1-31. */
  days: number[];
  /** Months, 1-12. */
  months: number[];
  /** Weekdays, 0 = Sunday. */
  weekdays: number[];
  /** Day-of-month unrestricted (see the header). */
  domStar: boolean;
  dowStar: boolean;
}

interface NormalizedField {
  text: string;
  vixieStar: boolean;
  robfigStar: boolean;
}

function normalizeField(raw: string, def: FieldDef, field: string): NormalizedField {
  const fail = (why: string): never => {
    throw new ScheduleError(field, 'InvalidSchedule', `${def.name} field "${raw}": ${why}`);
  };
  const value = (tok: string): number => {
    if (/^\d+$/.test(tok)) return Number(tok);
    const named = def.names?.[tok.toLowerCase()];
    if (named !== undefined) return named;
    if (/^(\d*[LW#]\d*)+$/i.test(tok) && (def.name === 'day-of-week' || def.name === 'day-of-month')) {
      return fail(`"${tok}" is not supported by the CronJob controller (no L, W or #)`);
    }
    if (/^[a-z]+$/i.test(tok)) {
      return fail(def.names ? `unknown name "${tok}"` : `names are not allowed here ("${tok}")`);
    }
    return fail(`"${tok}" is not a number`);
  };
  let robfigStar = false;
  const out: string[] = [];
  for (const el of raw.split(',')) {
    if (el === '') fail('empty list element');
    const slash = el.split('/');
    if (slash.length > 2) fail(`too many slashes in "${el}"`);
    const [base = '', stepText] = slash;
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText)) fail(`step "${stepText}" is not a number`);
      step = Number(stepText);
      if (step === 0) fail('step must be a positive number');
    }
    let lo: number;
    let hi: number;
    if (base === '*' || base === '?') {
      lo = def.min;
      hi = def.max;
      if (step <= 1) robfigStar = true;
    } else {
      const dash = base.split('-');
      if (dash.length > 2) fail(`too many hyphens in "${el}"`);
      lo = value(dash[0] ?? '');
      hi = dash.length === 2 ? value(dash[1] ?? '') : stepText !== undefined ? def.max : lo;
      if (lo < def.min || lo > def.max) fail(`${lo} is out of range ${def.min}-${def.max}`);
      if (hi < def.min || hi > def.max) fail(`${hi} is out of range ${def.min}-${def.max}`);
      if (lo > hi) fail(`range start ${lo} is beyond its end ${hi}`);
    }
    if (step > hi - lo) out.push(String(lo));
    else if (step === 1) out.push(lo === hi ? String(lo) : `${lo}-${hi}`);
    else out.push(`${lo}-${hi}/${step}`);
  }
  return { text: out.join(','), vixieStar: raw.startsWith('*') || raw.startsWith('?'), robfigStar };
}

function onIndexes(bits: readonly number[], offset: number): number[] {
  const out: number[] = [];
  bits.forEach((v, i) => {
    if (v) out.push(i + offset);
  });
  return out;
}

/** Parses a CronJob schedule; throws ScheduleError naming the problem. */
export function parseCronFields(expression: string, field = 'spec.schedule'): CronFields {
  if (typeof expression !== 'string' || expression.trim() === '') {
    throw new ScheduleError(field, 'InvalidSchedule', 'empty schedule');
  }
  let expr = expression.trim();
  if (/^(CRON_)?TZ=/.test(expr)) {
    throw new ScheduleError(field, 'InvalidSchedule', `"${expression}": set the zone in spec.timeZone, not in the schedule`);
  }
  if (expr.startsWith('@')) {
    if (expr.startsWith('@every')) {
      throw new ScheduleError(field, 'InvalidSchedule', `"${expression}": use spec.every for a fixed period`);
    }
    const macro = MACROS[expr];
    if (macro === undefined) {
      throw new ScheduleError(field, 'InvalidSchedule', `unknown macro "${expression}" (use @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly)`);
    }
    expr = macro;
  }
  const parts = expr.split(/\s+/);
  if (parts.length !== 5) {
    throw new ScheduleError(field, 'InvalidSchedule', `"${expression}" has ${parts.length} fields, expected 5 (minute hour day-of-month month day-of-week)`);
  }
  const norm = parts.map((p, i) => normalizeField(p, FIELDS[i] as FieldDef, field));
  let pattern: CronPattern;
  try {
    pattern = new CronPattern(norm.map((n) => n.text).join(' '), undefined, { mode: '5-part' });
  } catch (e) {
    throw new ScheduleError(field, 'InvalidSchedule', `"${expression}": ${(e as Error).message.replace(/^CronPattern: /, '')}`);
  }
  const dom = norm[2] as NormalizedField;
  const dow = norm[4] as NormalizedField;
  const fields: CronFields = {
    minutes: onIndexes(pattern.minute, 0),
    hours: onIndexes(pattern.hour, 0),
    days: onIndexes(pattern.day, 1),
    months: onIndexes(pattern.month, 1),
    weekdays: onIndexes(pattern.dayOfWeek, 0).map((d) => d % 7),
    domStar: dom.vixieStar || dom.robfigStar,
    dowStar: dow.vixieStar || dow.robfigStar,
  };
  fields.weekdays = [...new Set(fields.weekdays)].sort((a, b) => a - b);
  if (!firesEver(fields)) {
    throw new ScheduleError(field, 'InvalidSchedule', `"${expression}" never fires: no month has that day`);
  }
  return fields;
}

const MAX_DAYS = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function firesEver(f: CronFields): boolean {
  const needsDom = f.domStar || f.dowStar; // AND: the day of the month must exist
  if (!needsDom && f.weekdays.length > 0) return true;
  return f.months.some((m) => f.days.some((d) => d <= (MAX_DAYS[m] ?? 0)));
}

/** A parsed cron schedule in a zone. Instants are ms since the epoch. */
export class CronTimes {
  readonly fields: CronFields;
  readonly zone: string;
  private readonly minuteSet: boolean[];
  private readonly hourSet: boolean[];
  private readonly daySet: boolean[];
  private readonly monthSet: boolean[];
  private readonly weekdaySet: boolean[];
  private readonly and: boolean;

  constructor(fields: CronFields, zone: string) {
    this.fields = fields;
    this.zone = zone;
    const set = (values: number[], size: number) => {
      const a = new Array<boolean>(size).fill(false);
      for (const v of values) a[v] = true;
      return a;
    };
    this.minuteSet = set(fields.minutes, 60);
    this.hourSet = set(fields.hours, 24);
    this.daySet = set(fields.days, 32);
    this.monthSet = set(fields.months, 13);
    this.weekdaySet = set(fields.weekdays, 7);
    this.and = fields.domStar || fields.dowStar;
  }

  private dayMatches(dayWall: number): boolean {
    const d = new Date(dayWall);
    if (!this.monthSet[d.getUTCMonth() + 1]) return false;
    const dom = this.daySet[d.getUTCDate()] === true;
    const dow = this.weekdaySet[d.getUTCDay()] === true;
    return this.and ? dom && dow : dom || dow;
  }

  /** The expected instant for a wall time (first occurrence), or undefined in a gap. */
  private expected(wall: number): number | undefined {
    return fromWall(this.zone, wall)[0];
  }

  /** First expected instant strictly after `after`, or null if none within 40 years. */
  next(after: number): number | null {
    // Any instant after `after` reads a wall time no earlier than the wall time of `after` minus
    // the largest backward clock change (an hour, or two in a few zones): start there.
    const low = after + offsetAt(this.zone, after) - WALL_MARGIN;
    let day = Math.floor(low / DAY) * DAY;
    const end = day + SEARCH_YEARS * 366 * DAY;
    const { hours, minutes } = this.fields;
    while (day < end) {
      const d = new Date(day);
      if (!this.monthSet[d.getUTCMonth() + 1]) {
        day = wallMs(d.getUTCFullYear(), d.getUTCMonth() + 2, 1);
        continue;
      }
      if (this.dayMatches(day)) {
        for (const h of hours) {
          const hourWall = day + h * HOUR;
          if (hourWall + HOUR <= low) continue;
          for (const m of minutes) {
            const wall = hourWall + m * 60_000;
            if (wall < low) continue;
            const t = this.expected(wall);
            if (t !== undefined && t > after) return t;
          }
        }
      }
      day += DAY;
    }
    return null;
  }

  /** Last expected instant strictly before `before`, or null if none within 40 years. */
  previous(before: number): number | null {
    const high = before + offsetAt(this.zone, before) + WALL_MARGIN;
    let day = Math.floor(high / DAY) * DAY;
    const end = day - SEARCH_YEARS * 366 * DAY;
    const hours = [...this.fields.hours].reverse();
    const minutes = [...this.fields.minutes].reverse();
    while (day > end) {
      const d = new Date(day);
      if (!this.monthSet[d.getUTCMonth() + 1]) {
        day = wallMs(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) - DAY; // last day of the month before
        continue;
      }
      if (this.dayMatches(day)) {
        for (const h of hours) {
          const hourWall = day + h * HOUR;
          if (hourWall > high) continue;
          for (const m of minutes) {
            const wall = hourWall + m * 60_000;
            if (wall > high) continue;
            const t = this.expected(wall);
            if (t !== undefined && t < before) return t;
          }
        }
      }
      day -= DAY;
    }
    return null;
  }
}

