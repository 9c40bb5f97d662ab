// GoTel's schedule math against the CronJob controller's (robfig/cron v3 ParseStandard with
// TZ=<zone>), from fixtures made by test/fixtures/robfig/main.go (hand-picked expressions, random
// ones, and 600 random ones aimed at the two day fields). They must agree exactly outside DST
// transitions, including robfig's day-of-month / day-of-week rule; where they differ by design:
// - DST: GoTel skips spring-forward times and expects a repeated time once (README, "Time and
//   DST"), so an instant within 26 hours of a change of UTC offset is not compared;
// - schedules that can never fire (`0 0 30 2 *`) and TZ= prefixes: GoTel refuses them (robfig
//   finds no time for the first; the CronJob API refuses the second);
// - white space around the whole expression: GoTel forgives it (robfig refuses it around a macro).
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CRON_PATTERN } from '../../../src/api/crd.ts';
import { CronSchedule, offsetAt, parseCronFields, parseSchedule, type CronFields } from '../../../src/core/index.ts';

interface Parsed {
  minute: number[];
  hour: number[];
  dom: number[];
  month: number[];
  dow: number[];
  domStar: boolean;
  dowStar: boolean;
}
interface Fixture {
  parse: Array<{ expr: string; error?: string; parsed?: Parsed; every?: number }>;
  times: Array<{ expr: string; zone: string; from: string; times: string[] }>;
}

const fixture = JSON.parse(readFileSync(new URL('../../fixtures/robfig/robfig.json', import.meta.url), 'utf8')) as Fixture;
const HOUR = 3_600_000;
/** The last 600 parse cases are the generated day-field ones (main.go). */
const DAY_CASES = new Set(fixture.parse.slice(-600).map((c) => c.expr));

function tryParse(expr: string): CronFields | Error {
  try {
    return parseCronFields(expr);
  } catch (e) {
    return e as Error;
  }
}

const asRobfig = (f: CronFields): Parsed => ({ minute: f.minutes, hour: f.hours, dom: f.days, month: f.months, dow: f.weekdays, domStar: f.domStar, dowStar: f.dowStar });

/** No change of UTC offset within 26 hours of the instant (robfig walks hours within a day). */
function clearOfDst(zone: string, t: number): boolean {
  return offsetAt(zone, t - 26 * HOUR) === offsetAt(zone, t) && offsetAt(zone, t) === offsetAt(zone, t + 26 * HOUR);
}

describe('parsing agrees with robfig/cron v3', () => {
  it('has the fixtures', () => {
    expect(fixture.parse.length).toBeGreaterThan(900);
    expect(fixture.times.length).toBeGreaterThan(2500);
  });

  const byExpr = new Map(fixture.parse.map((c) => [c.expr, c]));
  for (const c of fixture.parse) {
    it(`${JSON.stringify(c.expr)}`, () => {
      if (c.every !== undefined) {
        // @every: a fixed period of whole seconds (robfig's ConstantDelaySchedule).
        const s = parseSchedule({ schedule: c.expr });
        expect(s.kind).toBe('every');
        expect(s.periodMs).toBe(c.every * 1000);
        return;
      }
      const mine = tryParse(c.expr);
      if (c.error !== undefined) {
        if (c.expr.trim() !== c.expr && !(mine instanceof Error)) {
          // Forgiven white space: GoTel reads it as robfig reads the trimmed expression.
          expect(byExpr.get(c.expr.trim())?.parsed).toEqual(asRobfig(mine));
          return;
        }
        expect(mine).toBeInstanceOf(Error);
        return;
      }
      if (mine instanceof Error) {
        // Accepted by robfig but refused by GoTel on purpose.
        if (c.expr.includes('TZ=')) expect(mine.message).toMatch(/set the zone in spec.timeZone/);
        else {
          expect(mine.message).toMatch(/never fires/);
          const found = fixture.times.filter((t) => t.expr === c.expr).flatMap((t) => t.times);
          expect(found, 'robfig finds no time either').toEqual([]);
        }
        return;
      }
      expect(asRobfig(mine)).toEqual(c.parsed);
    });
  }
});

describe('the CRD admits what the CronJob API admits', () => {
  // CEL's matches() is RE2, whose \s is ASCII white space only.
  const cel = new RegExp(CRON_PATTERN.replaceAll('\\s', '[\\t\\n\\f\\r ]'));
  it('every expression robfig accepts matches spec.schedule\'s pattern, but @every, TZ= and non-ASCII names', () => {
    const accepted = fixture.parse.filter((c) => c.error === undefined).map((c) => c.expr);
    const refused = accepted.filter((e) => !cel.test(e));
    // The CronJob API refuses TZ= too; @every goes in spec.every; `FR\u0130` is FRI to Go's ToLower.
    expect(refused.filter((e) => !e.startsWith('@every ') && !e.includes('TZ=') && !/[^ -~\t]/.test(e))).toEqual([]);
    expect(accepted.length - refused.length).toBeGreaterThan(850);
  });
});

describe('expected times agree with the CronJob controller outside DST transitions', () => {
  const cases = fixture.times.filter((c) => !(tryParse(c.expr) instanceof Error));

  // One test per zone (each stays short on a loaded machine); the totals are checked last.
  const byZone = Map.groupBy(cases, (c) => c.zone);
  let compared = 0;
  const exprs = new Set<string>();
  for (const [zone, zoneCases] of byZone) {
    it(`every fixture sequence in ${zone}, exactly`, () => {
      for (const c of zoneCases) {
        const s = new CronSchedule(c.expr, c.zone);
        let prev = Date.parse(c.from);
        let prevClear = clearOfDst(zone, prev);
        for (const t of c.times.map((x) => Date.parse(x))) {
          const clear = clearOfDst(zone, t);
          if (prevClear && clear) {
            expect(new Date(s.nextMs(prev) ?? 0).toISOString(), `${c.expr} in ${zone} after ${new Date(prev).toISOString()}`).toBe(new Date(t).toISOString());
            compared++;
            exprs.add(c.expr);
          }
          [prev, prevClear] = [t, clear];
        }
      }
    });
  }

  it('compared enough: tens of thousands of times, hundreds of generated day-field expressions, many zones', () => {
    expect(byZone.size).toBeGreaterThan(45);
    expect(compared).toBeGreaterThan(20_000);
    expect(exprs.size).toBeGreaterThan(800);
    expect([...exprs].filter((e) => DAY_CASES.has(e)).length).toBeGreaterThan(550);
  });

  it('robfig\'s day rule: a day field with a step above 1 is restricted, so either day field matches', () => {
    // `*/2` with a weekday list: odd days OR Mondays and Fridays (Vixie cron: odd days that are).
    const s = new CronSchedule('0 0 */2 * MON,FRI', 'UTC');
    const days = s.upcoming(new Date('2026-06-01T00:00:00Z'), 8).map((d) => d.toISOString().slice(0, 10));
    expect(days).toEqual(['2026-06-03', '2026-06-05', '2026-06-07', '2026-06-08', '2026-06-09', '2026-06-11', '2026-06-12', '2026-06-13']);
    const fields = parseCronFields('0 0 */1,5 * 1');
    expect([fields.domStar, fields.dowStar]).toEqual([true, false]);
  });

  it('property: from any point of a fixture sequence, next() is robfig\'s next (fast-check)', () => {
    const usable = cases.filter((c) => c.times.length >= 2);
    fc.assert(
      fc.property(fc.constantFrom(...usable), fc.nat(), fc.integer({ min: 1, max: 59_999 }), (c, i, jitter) => {
        const k = i % (c.times.length - 1);
        const a = Date.parse(c.times[k]!);
        const b = Date.parse(c.times[k + 1]!);
        fc.pre(clearOfDst(c.zone, a) && clearOfDst(c.zone, b));
        // Anywhere in [a, b) — a itself, or a moment after it — the next run is b.
        const from = Math.min(a + Math.floor((jitter * (b - a)) / 60_000), b - 1);
        const s = new CronSchedule(c.expr, c.zone);
        expect(s.nextMs(a)).toBe(b);
        expect(s.nextMs(from)).toBe(b);
        expect(s.previousMs(b)).toBe(a);
      }),
      { numRuns: 500, seed: 4242 },
    );
  });
});
