import { describe, expect, it } from 'vitest';
import { cronJobSchedule, parseCronFields, parseSchedule, ScheduleError, type Schedule } from '../../../src/core/index.ts';

const times = (s: Schedule, from: string, n: number) => s.upcoming(new Date(from), n).map((d) => d.toISOString().replace('.000Z', 'Z'));
const cron = (schedule: string, timeZone = 'UTC') => parseSchedule({ schedule, timeZone });

describe('cron in a time zone, with the DST policy', () => {
  it.each([
    // A wall time skipped by spring-forward is not expected that day.
    ['30 2 * * *', 'Europe/Berlin', '2026-03-27T12:00:00Z', ['2026-03-28T01:30:00Z', '2026-03-30T00:30:00Z']],
    // A wall time that occurs twice is expected once, at its first occurrence.
    ['30 2 * * *', 'Europe/Berlin', '2026-10-23T12:00:00Z', ['2026-10-24T00:30:00Z', '2026-10-25T00:30:00Z', '2026-10-26T01:30:00Z']],
    // Lord Howe moves 30 minutes; robfig skips the 4th (a bug GoTel does not copy).
    ['0 0 * * *', 'Australia/Lord_Howe', '2026-10-02T00:00:00Z', ['2026-10-02T13:30:00Z', '2026-10-03T13:30:00Z', '2026-10-04T13:00:00Z', '2026-10-05T13:00:00Z']],
    // New York's fall-back hour: 01:00 EDT is expected, 01:00 EST is not.
    ['0 * * * *', 'America/New_York', '2026-11-01T03:30:00Z', ['2026-11-01T04:00:00Z', '2026-11-01T05:00:00Z', '2026-11-01T07:00:00Z', '2026-11-01T08:00:00Z']],
    ['30 * * * *', 'America/New_York', '2026-11-01T04:45:00Z', ['2026-11-01T05:30:00Z', '2026-11-01T07:30:00Z']],
    // New York's spring-forward: 02:xx does not exist on 2026-03-08.
    ['0 * * * *', 'America/New_York', '2026-03-08T05:30:00Z', ['2026-03-08T06:00:00Z', '2026-03-08T07:00:00Z', '2026-03-08T08:00:00Z']],
    ['15 2 * * *', 'America/New_York', '2026-03-07T00:00:00Z', ['2026-03-07T07:15:00Z', '2026-03-09T06:15:00Z']],
    // Kathmandu is +05:45 all year.
    ['*/5 * * * *', 'Asia/Kathmandu', '2026-01-01T00:00:00Z', ['2026-01-01T00:05:00Z', '2026-01-01T00:10:00Z', '2026-01-01T00:15:00Z']],
    ['0 0 * * *', 'Asia/Kathmandu', '2026-01-01T00:00:00Z', ['2026-01-01T18:15:00Z', '2026-01-02T18:15:00Z']],
    ['0 9 * * *', 'Asia/Kolkata', '2026-06-01T00:00:00Z', ['2026-06-01T03:30:00Z']],
    // Chatham (+12:45/+13:45) springs forward at 02:45 local on 2026-09-27.
    ['0 3 * * *', 'Pacific/Chatham', '2026-09-25T00:00:00Z', ['2026-09-25T14:15:00Z', '2026-09-27T13:15:00Z', '2026-09-28T13:15:00Z']],
    ['0 0 * * *', 'UTC', '2026-01-01T00:00:00Z', ['2026-01-02T00:00:00Z']],
  ])('%s in %s from %s', (expr, zone, from, expected) => {
    expect(times(cron(expr, zone), from, expected.length)).toEqual(expected);
  });

  it('previous() is the mirror of next(), with the same DST policy', () => {
    const s = cron('0 * * * *', 'America/New_York');
    expect(s.previous(new Date('2026-11-01T07:00:00Z'))?.toISOString()).toBe('2026-11-01T05:00:00.000Z');
    expect(s.previous(new Date('2026-11-01T07:00:01Z'))?.toISOString()).toBe('2026-11-01T07:00:00.000Z');
    const b = cron('30 2 * * *', 'Europe/Berlin');
    expect(b.previous(new Date('2026-03-30T00:00:00Z'))?.toISOString()).toBe('2026-03-28T01:30:00.000Z');
  });

  it('is strictly after the given instant', () => {
    expect(times(cron('0 2 * * *'), '2026-05-01T02:00:00Z', 1)).toEqual(['2026-05-02T02:00:00Z']);
    expect(times(cron('0 2 * * *'), '2026-05-01T01:59:59.999Z', 1)).toEqual(['2026-05-01T02:00:00Z']);
  });
});

describe('cron syntax, as a CronJob accepts it', () => {
  it.each([
    ['@yearly', '2026-05-01T00:00:00Z', ['2027-01-01T00:00:00Z']],
    ['@annually', '2026-05-01T00:00:00Z', ['2027-01-01T00:00:00Z']],
    ['@monthly', '2026-05-10T00:00:00Z', ['2026-06-01T00:00:00Z']],
    ['@weekly', '2026-05-01T00:00:00Z', ['2026-05-03T00:00:00Z']], // a Sunday
    ['@daily', '2026-05-01T10:00:00Z', ['2026-05-02T00:00:00Z']],
    ['@midnight', '2026-05-01T10:00:00Z', ['2026-05-02T00:00:00Z']],
    ['@hourly', '2026-05-01T10:30:00Z', ['2026-05-01T11:00:00Z']],
    ['0 9 * * MON-FRI', '2026-05-01T10:00:00Z', ['2026-05-04T09:00:00Z', '2026-05-05T09:00:00Z']], // Fri -> Mon
    ['0 0 1 jan,Jul ?', '2026-05-01T00:00:00Z', ['2026-07-01T00:00:00Z', '2027-01-01T00:00:00Z']],
    ['5/20 * * * *', '2026-05-01T10:00:00Z', ['2026-05-01T10:05:00Z', '2026-05-01T10:25:00Z', '2026-05-01T10:45:00Z', '2026-05-01T11:05:00Z']],
    ['0 0 1-10/3 * *', '2026-05-01T00:00:00Z', ['2026-05-04T00:00:00Z', '2026-05-07T00:00:00Z', '2026-05-10T00:00:00Z', '2026-06-01T00:00:00Z']],
    ['*/60 * * * *', '2026-05-01T10:00:00Z', ['2026-05-01T11:00:00Z']], // a step past the range: its start only
    // Both days restricted: either matches (13th or Friday).
    ['0 0 13 * FRI', '2026-02-01T00:00:00Z', ['2026-02-06T00:00:00Z', '2026-02-13T00:00:00Z', '2026-02-20T00:00:00Z']],
    // A step above 1 makes a day field restricted (robfig's star bit), so either matches: odd
    // days or Mondays (Vixie cron would take odd days that are Mondays).
    ['0 0 */2 * 1', '2026-05-01T00:00:00Z', ['2026-05-03T00:00:00Z', '2026-05-04T00:00:00Z', '2026-05-05T00:00:00Z', '2026-05-07T00:00:00Z']],
    ['0 0 1 * */2', '2026-05-01T00:00:00Z', ['2026-05-02T00:00:00Z', '2026-05-03T00:00:00Z', '2026-05-05T00:00:00Z']], // the 1st or Sun/Tue/Thu/Sat
    // `*/1` (or a `*` anywhere in the list) is unrestricted: both must match, Mondays only.
    ['0 0 */1 * 1', '2026-05-01T00:00:00Z', ['2026-05-04T00:00:00Z', '2026-05-11T00:00:00Z']],
    ['0 0 1,* * 1', '2026-05-01T00:00:00Z', ['2026-05-04T00:00:00Z']],
    // What robfig's parser lets through, read as it reads it.
    ['0 0 *-5 * MON', '2026-05-01T00:00:00Z', ['2026-05-04T00:00:00Z']], // `*` ignores its hyphen part
    ['1,,2 +5 * * *', '2026-05-01T00:00:00Z', ['2026-05-01T05:01:00Z', '2026-05-01T05:02:00Z']], // empty elements dropped, Atoi's sign
    ['0 0 , * 1', '2026-05-01T00:00:00Z', ['2026-05-04T00:00:00Z']], // no day of the month: Mondays
    ['0\t0  1 jAn *', '2026-05-01T00:00:00Z', ['2027-01-01T00:00:00Z']],
    ['0 0 29 2 *', '2026-01-01T00:00:00Z', ['2028-02-29T00:00:00Z']],
  ])('%s from %s', (expr, from, expected) => {
    expect(times(cron(expr), from, expected.length)).toEqual(expected);
  });

  it.each([
    ['', 'empty schedule'],
    ['* * * *', 'has 4 fields, expected 5'],
    ['* * * * * *', 'has 6 fields'],
    ['0 0 * * 7', '7 is out of range 0-6'],
    ['60 * * * *', '60 is out of range 0-59'],
    ['0 24 * * *', '24 is out of range 0-23'],
    ['0 0 0 * *', '0 is out of range 1-31'],
    ['0 0 * 13 *', '13 is out of range 1-12'],
    ['*/0 * * * *', 'step must be a positive number'],
    ['5-3 * * * *', 'range start 5 is beyond its end 3'],
    ['0 0 L * *', 'not supported by the CronJob controller'],
    ['0 0 * * 5#2', 'not supported by the CronJob controller'],
    ['0 0 * * FUN', 'unknown name "FUN"'],
    ['0 mon * * *', 'names are not allowed here'],
    ['@reboot', 'unknown macro "@reboot"'],
    ['@DAILY', 'unknown macro "@DAILY"'],
    ['@every 5m', 'use spec.every'],
    ['TZ=UTC 0 0 * * *', 'set the zone in spec.timeZone'],
    ['0 0 30 2 *', 'never fires: no month has that day'],
    [', * * * *', 'never fires: the minute field has no values'],
    ['0 0 , * *', 'never fires: no month has that day'],
    ['1-2-3 * * * *', 'too many hyphens'],
    ['1/2/3 * * * *', 'too many slashes'],
    ['*/-1 * * * *', 'negative number "-1"'],
    ['99999999999999999999 * * * *', '"99999999999999999999" is out of range'],
    ['0 0 * 1/JAN *', '"JAN" is not a number'],
  ])('refuses %j: %s', (expr, message) => {
    let err: unknown;
    try {
      parseCronFields(expr);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ScheduleError);
    expect((err as ScheduleError).field).toBe('spec.schedule');
    expect((err as ScheduleError).reason).toBe('InvalidSchedule');
    expect((err as ScheduleError).message).toContain(message);
  });
});

describe('a CronJob\'s schedule and zone, as its controller reads them', () => {
  it.each([
    [['0 2 * * *', 'Europe/Berlin'], { schedule: '0 2 * * *', timeZone: 'Europe/Berlin' }],
    [['0 2 * * *', undefined], { schedule: '0 2 * * *' }],
    // A TZ= prefix (kept by CronJobs older than Kubernetes 1.27) wins: the controller ignores spec.timeZone then.
    [['TZ=Asia/Tokyo 0 2 * * *', 'Europe/Berlin'], { schedule: '0 2 * * *', timeZone: 'Asia/Tokyo' }],
    [['CRON_TZ=UTC   @daily', undefined], { schedule: '@daily', timeZone: 'UTC' }],
  ] as const)('%j', ([schedule, zone], expected) => {
    expect(cronJobSchedule(schedule, zone)).toEqual(expected);
  });
});

describe('zones and periods', () => {
  it.each([
    ['Mars/Phobos', 'spec.timeZone: unknown time zone "Mars/Phobos"'],
    ['europe/berlin', 'did you mean "Europe/Berlin"'],
    ['+05:30', 'unknown time zone "+05:30"'],
  ])('refuses zone %s', (zone, message) => {
    expect(() => parseSchedule({ schedule: '0 0 * * *', timeZone: zone })).toThrow(message);
    try {
      parseSchedule({ schedule: '0 0 * * *', timeZone: zone });
    } catch (e) {
      expect((e as ScheduleError).reason).toBe('UnknownTimeZone');
    }
  });

  it('takes IANA links as Go does (US/Eastern)', () => {
    expect(times(cron('0 0 * * *', 'US/Eastern'), '2026-01-01T00:00:00Z', 1)).toEqual(['2026-01-01T05:00:00Z']);
  });

  it('every: one period after the anchor', () => {
    const s = parseSchedule({ every: '1h30m' });
    expect(times(s, '2026-01-01T00:00:00Z', 2)).toEqual(['2026-01-01T01:30:00Z', '2026-01-01T03:00:00Z']);
  });

  it.each([
    ['@every 90m', 5_400_000],
    ['@every 1.5s', 1000], // robfig keeps whole seconds
    ['@every 500ms', 1000], // and at least one
    ['@every -5m', 1000],
  ])('a schedule of %s is a fixed period of %i ms, as a CronJob reads it', (schedule, periodMs) => {
    const s = parseSchedule({ schedule, timeZone: 'Europe/Berlin' });
    expect([s.kind, s.periodMs, s.timeZone]).toEqual(['every', periodMs, 'Europe/Berlin']);
    expect(times(s, '2026-01-01T00:00:00Z', 1)).toEqual([new Date(Date.parse('2026-01-01T00:00:00Z') + periodMs).toISOString().replace('.000Z', 'Z')]);
  });

  it.each([
    [{ schedule: '0 0 * * *', every: '5m' }, 'spec: set either spec.schedule or spec.every, not both'],
    [{ schedule: '@every  5m' }, '@every takes one Go duration'],
    [{ schedule: '@every 5x' }, 'spec.schedule: invalid duration "5x"'],
    [{}, 'spec: set spec.schedule'],
    [{ every: '5x' }, 'spec.every: invalid duration "5x": unknown unit "x"'],
    [{ every: '1d' }, 'Go durations have no days'],
    [{ every: '500ms' }, 'too short'],
  ])('refuses %j', (spec, message) => {
    expect(() => parseSchedule(spec)).toThrow(message);
  });
});
