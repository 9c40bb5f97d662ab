// Schedules against a real kube-apiserver: its CronJob validation (robfig/cron v3 ParseStandard,
// no TZ=) admits exactly what the robfig fixture says, GoTel's CRD admits every schedule a
// CronJob may have, and a Reservation that follows a CronJob expects the controller's times.
import { readFileSync } from 'node:fs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION, type Reservation } from '../../src/api/reservation.ts';
import { CronSchedule, toWall } from '../../src/core/index.ts';
import type { Operator } from '../../src/operator/operator.ts';
import { eventually, freshNamespace } from './helpers.ts';
import { createReservation, getReservation, rest, startOperator } from './operator-harness.ts';

interface Fixture {
  parse: Array<{ expr: string; error?: string }>;
}
const fixture = JSON.parse(readFileSync(new URL('../fixtures/robfig/robfig.json', import.meta.url), 'utf8')) as Fixture;
// The hand-picked expressions come first, then 800 generated ones (main.go): all of the first,
// every 20th of the others.
const sample = [...fixture.parse.slice(0, -800), ...fixture.parse.slice(-800).filter((_, i) => i % 20 === 0)];
const HOUR = 3_600_000;

const jobTemplate = { spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'job', image: 'busybox' }] } } } };

let namespace: string;
const running: Operator[] = [];
beforeAll(async () => {
  namespace = await freshNamespace('schedules');
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((op) => op.stop()));
});

/** true when the apiserver admits the object (a dry run: nothing is stored). */
async function admits(path: string, body: unknown): Promise<boolean> {
  try {
    await rest.request({ method: 'POST', path: `${path}?dryRun=All`, body });
    return true;
  } catch (err) {
    if ((err as { code?: number }).code === 422) return false;
    throw err;
  }
}

const cronJobAdmits = (schedule: string) =>
  admits(`/apis/batch/v1/namespaces/${namespace}/cronjobs`, { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'probe' }, spec: { schedule, jobTemplate } });
const reservationAdmits = (schedule: string) =>
  admits(`/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`, { apiVersion: API_VERSION, kind: KIND, metadata: { name: 'probe' }, spec: { schedule } });

async function inBatches<T, R>(items: T[], size: number, f: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(f))));
  return out;
}

describe('schedules as the apiserver admits them', () => {
  it('a CronJob is admitted exactly when robfig parses the schedule and it carries no TZ', async () => {
    const verdicts = await inBatches(sample, 8, async (c) => ({ expr: c.expr, admitted: await cronJobAdmits(c.expr), robfig: c.error === undefined && !c.expr.includes('TZ') }));
    expect(verdicts.filter((v) => v.admitted !== v.robfig)).toEqual([]);
    expect(verdicts.filter((v) => v.admitted).length).toBeGreaterThan(100);
  });

  it('a Reservation is admitted with every schedule a CronJob is, but @every (spec.every) and non-ASCII names', async () => {
    const cronJobOnes = sample.filter((c) => c.error === undefined && !c.expr.includes('TZ') && !c.expr.startsWith('@every ') && /^[ -~\t]*$/.test(c.expr));
    const refused = (await inBatches(cronJobOnes, 8, async (c) => ((await reservationAdmits(c.expr)) ? undefined : c.expr))).filter(Boolean);
    expect(refused).toEqual([]);
    expect(cronJobOnes.length).toBeGreaterThan(100);
  });
});

describe('a Reservation following a CronJob', () => {
  async function follow(name: string, spec: Record<string, unknown>): Promise<{ r: Reservation; before: number; after: number }> {
    const op = await startOperator(namespace);
    running.push(op);
    await eventually(() => Promise.resolve(op.isLeader), 10_000, 'leadership');
    await rest.request({ method: 'POST', path: `/apis/batch/v1/namespaces/${namespace}/cronjobs`, body: { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name }, spec: { ...spec, jobTemplate } } });
    const before = Date.now();
    await createReservation(namespace, name, { jobRef: { kind: 'CronJob', name } });
    const r = await eventually(async () => {
      const current = await getReservation(namespace, name);
      return current.status?.state === 'Pending' && current.status.nextExpectedTime ? current : undefined;
    });
    return { r, before, after: Date.now() };
  }

  it('expects robfig\'s next time for a stepped day-of-month with a weekday list (odd days or Mon/Fri)', async () => {
    const expr = '0 9 */2 * MON,FRI';
    const { r, before, after } = await follow('odd-or-mon-fri', { schedule: expr, timeZone: 'Europe/Berlin' });
    const next = Date.parse(r.status!.nextExpectedTime!);
    const wall = toWall('Europe/Berlin', next);
    expect([wall.hour, wall.minute]).toEqual([9, 0]);
    expect(wall.day % 2 === 1 || wall.weekday === 1 || wall.weekday === 5).toBe(true);
    // Of any two days in a row one is odd: never more than two days away (Vixie cron: weeks).
    expect(next - before).toBeLessThan(49 * HOUR);
    // The schedule math the fixture checks against robfig, from when the Reservation was judged.
    const s = new CronSchedule(expr, 'Europe/Berlin');
    expect([s.nextMs(before), s.nextMs(after)]).toContain(next);
  });

  it('expects a CronJob\'s @every as a fixed period, two hours after the Reservation starts', async () => {
    const { r, after } = await follow('every-two-hours', { schedule: '@every 2h' });
    const created = new Date(r.metadata.creationTimestamp!).getTime(); // whole seconds
    const next = Date.parse(r.status!.nextExpectedTime!);
    expect(next).toBeGreaterThanOrEqual(created + 2 * HOUR);
    expect(next).toBeLessThanOrEqual(after + 2 * HOUR);
  });
});
