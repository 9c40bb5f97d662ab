// GoTel's schedule math against the CronJob controller's (robfig/cron v3 ParseStandard with
// CRON_TZ), from fixtures made by test/fixtures/robfig/main.go. They must agree exactly outside
// DST transitions; where they may differ by design:
// - DST: GoTel skips spring-forward times and expects a repeated time once (the policy);
// - `*/2`-style day fields: robfig counts them as restricted, Vixie cron (and GoTel) as not, so
//   GoTel expects the runs both start (a subset of robfig's);
// - schedules that can never fire (`0 0 30 2 *`) and TZ= prefixes: GoTel refuses them.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CronSchedule, offsetAt, parseCronFields, type CronFields } from '../../../src/core/index.ts';

interface Fixture {
  parse: Array<{ expr: string; error?: string; parsed?: { minute: number[]; hour: number[]; dom: number[]; month: number[]; dow: number[]; domStar: boolean; dowStar: boolean } }>;
  times: Array<{ expr: string; zone: string; from: string; times: string[] }>;
}

const fixture = JSON.parse(readFileSync(new URL('../../fixtures/robfig/robfig.json', import.meta.url), 'utf8')) as Fixture;
const HOUR = 3_600_000;

function tryParse(expr: string): CronFields | Error {
  try {
    return parseCronFields(expr);
  } catch (e) {
    return e as Error;
  }
}

/** robfig's day semantics and GoTel's agree for this expression. */
function sameDaySemantics(expr: string): boolean {
  const p = fixture.parse.find((c) => c.expr === expr)?.parsed;
  const mine = tryParse(expr);
  if (!p || mine instanceof Error) return false;
  return (p.domStar || p.dowStar) === (mine.domStar || mine.dowStar);
}

/** No change of UTC offset within 26 hours of either instant (robfig walks hours within a day). */
function clearOfDst(zone: string, a: number, b: number): boolean {
  const steady = (t: number) => offsetAt(zone, t - 26 * HOUR) === offsetAt(zone, t) && offsetAt(zone, t) === offsetAt(zone, t + 26 * HOUR);
  return steady(a) && steady(b);
}

describe('parsing agrees with robfig/cron v3', () => {
  it('has the fixtures', () => {
    expect(fixture.parse.length).toBeGreaterThan(200);
    expect(fixture.times.length).toBeGreaterThan(400);
  });

  for (const c of fixture.parse) {
    it(`${c.expr}`, () => {
      const mine = tryParse(c.expr);
      if (c.error !== undefined) {
        expect(mine).toBeInstanceOf(Error);
        return;
      }
      if (mine instanceof Error) {
        // Accepted by robfig but refused by GoTel on purpose.
        expect(mine.message).toMatch(/never fires|set the zone in spec.timeZone/);
        return;
      }
      const p = c.parsed!;
      expect({ m: mine.minutes, h: mine.hours, d: mine.days, mo: mine.months, w: mine.weekdays }).toEqual({ m: p.minute, h: p.hour, d: p.dom, mo: p.month, w: p.dow });
      // GoTel's "unrestricted" includes robfig's.
      if (p.domStar) expect(mine.domStar).toBe(true);
      if (p.dowStar) expect(mine.dowStar).toBe(true);
    });
  }
});

describe('expected times agree with the CronJob controller outside DST transitions', () => {
  const cases = fixture.times.filter((c) => !(tryParse(c.expr) instanceof Error));

  it('over every fixture sequence (exactly, or a subset where the day rule differs)', () => {
    let compared = 0;
    for (const c of cases) {
      const s = new CronSchedule(c.expr, c.zone);
      const robfig = c.times.map((t) => Date.parse(t));
      let prev = Date.parse(c.from);
      if (sameDaySemantics(c.expr)) {
        for (const t of robfig) {
          if (!clearOfDst(c.zone, prev, t)) break;
          expect(new Date(s.nextMs(prev) ?? 0).toISOString(), `${c.expr} in ${c.zone} after ${new Date(prev).toISOString()}`).toBe(new Date(t).toISOString());
          prev = t;
          compared++;
        }
      } else {
        // Every time GoTel expects is one robfig starts (when clear of DST).
        const last = robfig[robfig.length - 1] ?? prev;
        let t = s.nextMs(prev);
        while (t !== null && t <= last) {
          if (clearOfDst(c.zone, t, t)) expect(robfig, `${c.expr} in ${c.zone}`).toContain(t);
          t = s.nextMs(t);
        }
      }
    }
    expect(compared).toBeGreaterThan(4000);
  });

  it('property: from any point of a fixture sequence, next() is robfig\'s next (fast-check)', () => {
    const usable = cases.filter((c) => sameDaySemantics(c.expr) && c.times.length >= 2);
    fc.assert(
      fc.property(fc.constantFrom(...usable), fc.nat(), fc.integer({ min: 1, max: 59_999 }), (c, i, jitter) => {
        const k = i % (c.times.length - 1);
        const a = Date.parse(c.times[k]!);
        const b = Date.parse(c.times[k + 1]!);
        fc.pre(clearOfDst(c.zone, a, b));
        // Anywhere in [a, b) — a itself, or a moment after it — the next run is b.
        const from = Math.min(a + Math.floor((jitter * (b - a)) / 60_000), b - 1);
        const s = new CronSchedule(c.expr, c.zone);
        expect(s.nextMs(a)).toBe(b);
        expect(s.nextMs(from)).toBe(b);
        expect(s.previousMs(b)).toBe(a);
      }),
      { numRuns: 300, seed: 4242 },
    );
  });
});
