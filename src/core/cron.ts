// Cron expressions exactly as the Kubernetes CronJob controller reads them (robfig/cron v3
// ParseStandard; README "Schedules"), walked in a time zone with GoTel's DST policy.
//
// - 5 fields (minute hour day-of-month month day-of-week) split on white space; each a list of
//   elements `*`, `?`, N, N-M, each with an optional /step. `N/step` means N-max/step. Names
//   (jan-dec, sun-sat) in any case in the month and day-of-week fields; day-of-week is 0-6 (7 is
//   refused, as robfig refuses it). Numbers are Go's strconv.Atoi (`+5`, `05`), empty list
//   elements are dropped (`1,,2`), and an element starting with `*` or `?` is the whole range
//   whatever follows its hyphen (`*-5` is `*`): robfig reads them so, and a CronJob keeps them.
// - Macros @yearly @annually @monthly @weekly @daily @midnight @hourly (case-sensitive). `@every`
//   is a fixed period, not a calendar: parseSchedule (schedule.ts) takes it, not this parser.
// - Day-of-month and day-of-week: when either field is unrestricted a day must match both, else
//   either. A field is unrestricted ("star bit") when one of its elements starts with `*` or `?`
//   and has no step above 1: `*/2` is restricted, so `0 0 */2 * MON` is odd days OR Mondays
//   (robfig's rule, unlike Vixie cron's).
// - Refused although robfig takes them: a TZ=/CRON_TZ= prefix (spec.timeZone says the zone, and
//   the CronJob API refuses it too) and a schedule that can never fire (`0 0 30 2 *`), which the
//   CronJob controller cannot run either.
// - DST: a wall time that does not exist (spring forward) is not expected that day; a wall time
//   that occurs twice (fall back) is expected once, at its first occurrence.
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

/** Go's strings.Fields splits on unicode.IsSpace: JavaScript's \s without U+FEFF, with U+0085. */
const GO_SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;
const INT64_MAX = 9_223_372_036_854_775_807n;

export interface CronFields {
  minutes: number[];
  hours: number[];
  /** Days of the month, 1-31. */
  days: number[];
  /** Months, 1-12. */
  months: number[];
  /** Weekdays, 0 = Sunday. */
  weekdays: number[];
  /** Day-of-month unrestricted (robfig's star bit, see the header). */
  domStar: boolean;
  dowStar: boolean;
}

interface ParsedField {
  values: number[];
  star: boolean;
}

type Fail = (why: string) => never;

/** strconv.Atoi, then robfig's "negative number" check. */
function goInt(tok: string, fail: Fail): number {
  if (!/^[+-]?\d+$/.test(tok)) return fail(`"${tok}" is not a number`);
  const n = BigInt(tok);
  if (n > INT64_MAX || n < -INT64_MAX - 1n) return fail(`"${tok}" is out of range`);
  if (n < 0n) return fail(`negative number "${tok}"`);
  return Number(n);
}

function valueOf(tok: string, def: FieldDef, fail: Fail): number {
  // Go's strings.ToLower maps U+0130 (dotted I) to a plain i; JavaScript's adds a combining dot.
  const named = def.names?.[tok.replace(/\u0130/g, 'i').toLowerCase()];
  if (named !== undefined) return named;
  if (/^[+-]?\d+$/.test(tok)) return goInt(tok, fail);
  if (/^(\d*[LW#]\d*)+$/i.test(tok) && (def.name === 'day-of-week' || def.name === 'day-of-month')) {
    return fail(`"${tok}" is not supported by the CronJob controller (no L, W or #)`);
  }
  if (/^[a-z]+$/i.test(tok)) return fail(def.names ? `unknown name "${tok}"` : `names are not allowed here ("${tok}")`);
  return fail(`"${tok}" is not a number`);
}

/** One list element, as robfig's getRange reads it: its values, and whether it sets the star bit. */
function parseElement(el: string, def: FieldDef, fail: Fail, out: Set<number>): boolean {
  const slash = el.split('/');
  if (slash.length > 2) fail(`too many slashes in "${el}"`);
  const dash = (slash[0] ?? '').split('-');
  let lo: number;
  let hi: number;
  let star = false;
  if (dash[0] === '*' || dash[0] === '?') {
    [lo, hi, star] = [def.min, def.max, true];
  } else {
    if (dash.length > 2) fail(`too many hyphens in "${el}"`);
    lo = valueOf(dash[0] ?? '', def, fail);
    hi = dash.length === 2 ? valueOf(dash[1] ?? '', def, fail) : lo;
  }
  let step = 1;
  if (slash.length === 2) {
    step = goInt(slash[1] ?? '', fail);
    if (dash.length === 1) hi = def.max; // "N/step" means "N-max/step"
    if (step > 1) star = false;
  }
  if (lo < def.min) fail(`${lo} is out of range ${def.min}-${def.max}`);
  if (hi > def.max) fail(`${hi} is out of range ${def.min}-${def.max}`);
  if (lo > hi) fail(`range start ${lo} is beyond its end ${hi}`);
  if (step === 0) fail('step must be a positive number');
  for (let v = lo; v <= hi; v += step) out.add(v);
  return star;
}

function parseField(raw: string, def: FieldDef, field: string): ParsedField {
  const fail: Fail = (why) => {
    throw new ScheduleError(field, 'InvalidSchedule', `${def.name} field "${raw}": ${why}`);
  };
  const values = new Set<number>();
  let star = false;
  // Empty elements are dropped, as strings.FieldsFunc drops them; the star bits are OR-ed.
  for (const el of raw.split(',').filter((e) => e !== '')) star = parseElement(el, def, fail, values) || star;
  return { values: [...values].sort((a, b) => a - b), star };
}

/** The five fields of an expression (a macro expanded); throws on anything robfig refuses. */
function splitFields(expression: string, field: string): string[] {
  if (typeof expression !== 'string' || expression.trim() === '') {
    throw new ScheduleError(field, 'InvalidSchedule', 'empty schedule');
  }
  // Surrounding white space is forgiven (robfig refuses it around a macro; harmless here).
  let expr = expression.trim();
  if (/^(CRON_)?TZ=/.test(expr)) {
    throw new ScheduleError(field, 'InvalidSchedule', `"${expression}": set the zone in spec.timeZone, not in the schedule`);
  }
  if (expr.startsWith('@')) {
    if (expr.startsWith('@every ')) {
      throw new ScheduleError(field, 'InvalidSchedule', `"${expression}": a fixed period is not a calendar; use spec.every`);
    }
    const macro = MACROS[expr];
    if (macro === undefined) {
      throw new ScheduleError(field, 'InvalidSchedule', `unknown macro "${expression}" (use @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly)`);
    }
    expr = macro;
  }
  const parts = expr.split(GO_SPACE);
  if (parts.length !== 5) {
    throw new ScheduleError(field, 'InvalidSchedule', `"${expression}" has ${parts.length} fields, expected 5 (minute hour day-of-month month day-of-week)`);
  }
  return parts;
}

/** Parses a CronJob schedule; throws ScheduleError naming the problem. */
export function parseCronFields(expression: string, field = 'spec.schedule'): CronFields {
  const [minute, hour, dom, month, dow] = splitFields(expression, field).map((p, i) => parseField(p, FIELDS[i] as FieldDef, field)) as [
    ParsedField,
    ParsedField,
    ParsedField,
    ParsedField,
    ParsedField,
  ];
  const fields: CronFields = {
    minutes: minute.values,
    hours: hour.values,
    days: dom.values,
    months: month.values,
    weekdays: dow.values,
    domStar: dom.star,
    dowStar: dow.star,
  };
  const never = neverFires(fields);
  if (never) throw new ScheduleError(field, 'InvalidSchedule', `"${expression}" never fires: ${never}`);
  return fields;
}

const MAX_DAYS = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Why a schedule can never fire, or undefined. A star field holds every value. */
function neverFires(f: CronFields): string | undefined {
  for (const [name, values] of [['minute', f.minutes], ['hour', f.hours], ['month', f.months]] as const) {
    if (values.length === 0) return `the ${name} field has no values`;
  }
  const dayExists = f.months.some((m) => f.days.some((d) => d <= (MAX_DAYS[m] ?? 0)));
  if (f.domStar || f.dowStar) return dayExists && f.weekdays.length > 0 ? undefined : 'no month has that day';
  return dayExists || f.weekdays.length > 0 ? undefined : 'no day matches';
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

