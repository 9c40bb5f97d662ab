// A Reservation that follows a CronJob expects the runs the CronJob controller starts: the
// CronJob's schedule and zone, read as the controller reads them.
import { describe, expect, it } from 'vitest';
import { compileSpec, effectiveReservation, type FollowedCronJob } from '../../../src/core/index.ts';
import { reservation } from './sim.ts';

const follower = reservation({ jobRef: { kind: 'CronJob', name: 'backup' }, timeZone: 'Asia/Tokyo' });
const resolve = (cronJob: FollowedCronJob) => effectiveReservation(follower, cronJob).reservation;
const nextRuns = (cronJob: FollowedCronJob, from: string, n: number) => {
  const { schedule } = compileSpec(resolve(cronJob));
  return schedule.upcoming(new Date(from), n).map((d) => d.toISOString());
};

describe('jobRef to a CronJob', () => {
  it('follows a stepped day-of-month with a weekday list as robfig does (odd days or Mon/Fri)', () => {
    expect(nextRuns({ schedule: '0 9 */2 * MON,FRI', timeZone: 'Europe/Berlin' }, '2026-06-01T00:00:00Z', 5)).toEqual([
      '2026-06-01T07:00:00.000Z',
      '2026-06-03T07:00:00.000Z',
      '2026-06-05T07:00:00.000Z',
      '2026-06-07T07:00:00.000Z',
      '2026-06-08T07:00:00.000Z',
    ]);
  });

  it('takes the zone of a TZ= prefix that an older CronJob keeps in its schedule', () => {
    expect(nextRuns({ schedule: 'TZ=Europe/Berlin 30 2 * * *' }, '2026-06-01T00:00:00Z', 1)).toEqual(['2026-06-01T00:30:00.000Z']);
    expect(nextRuns({ schedule: 'CRON_TZ=America/New_York 0 0 * * *', timeZone: 'UTC' }, '2026-06-01T00:00:00Z', 1)).toEqual(['2026-06-01T04:00:00.000Z']);
  });

  it('uses the CronJob\'s timeZone, else the Reservation\'s', () => {
    expect(nextRuns({ schedule: '0 0 * * *', timeZone: 'UTC' }, '2026-06-01T00:00:00Z', 1)).toEqual(['2026-06-02T00:00:00.000Z']);
    expect(nextRuns({ schedule: '0 0 * * *' }, '2026-06-01T00:00:00Z', 1)).toEqual(['2026-06-01T15:00:00.000Z']);
  });

  it('follows @every as a fixed period', () => {
    const { schedule } = compileSpec(resolve({ schedule: '@every 2h' }));
    expect([schedule.kind, schedule.periodMs]).toEqual(['every', 7_200_000]);
  });
});
