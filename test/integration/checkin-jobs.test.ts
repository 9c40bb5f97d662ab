// Jobs that check in by themselves: the watcher turns batch/v1 Jobs of a Reservation's CronJob into
// start / success / fail in status. No controller runs here, so the test writes the Jobs' status
// through the API the way the Job controller would.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Reservation } from '../../src/api/reservation.ts';
import { JobWatcher } from '../../src/checkin/job-watcher.ts';
import { KubeRest } from '../../src/k8s/rest.ts';
import { StatusWriter } from '../../src/k8s/status-writer.ts';
import { createReservation, getReservation } from './checkin-helpers.ts';
import { eventually, freshNamespace, kubeConfig } from './helpers.ts';

const kc = kubeConfig();
const rest = new KubeRest(kc);
let ns: string;
let watcher: JobWatcher;
let cronJobUid: string;

const podTemplate = { spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox', command: ['true'] }] } };

async function createJob(name: string, owner: { kind: 'CronJob'; name: string; uid: string } | undefined): Promise<{ uid: string }> {
  const job = await rest.request<{ metadata: { uid: string } }>({
    method: 'POST',
    path: `/apis/batch/v1/namespaces/${ns}/jobs`,
    body: {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name, ...(owner ? { ownerReferences: [{ apiVersion: 'batch/v1', kind: owner.kind, name: owner.name, uid: owner.uid, controller: true }] } : {}) },
      spec: { template: podTemplate },
    },
  });
  return { uid: job.metadata.uid };
}

async function writeJobStatus(name: string, status: Record<string, unknown>): Promise<void> {
  await rest.request({ method: 'PATCH', path: `/apis/batch/v1/namespaces/${ns}/jobs/${name}/status`, contentType: 'application/merge-patch+json', body: { status } });
}

const stored = (name: string): Promise<Reservation> => getReservation(rest, ns, name);

beforeAll(async () => {
  ns = await freshNamespace('checkin-jobs');
  const cj = await rest.request<{ metadata: { uid: string } }>({
    method: 'POST',
    path: `/apis/batch/v1/namespaces/${ns}/cronjobs`,
    body: { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'nightly' }, spec: { schedule: '0 2 * * *', jobTemplate: { spec: { template: podTemplate } } } },
  });
  cronJobUid = cj.metadata.uid;
  await createReservation(rest, ns, 'nightly', { every: '24h', jobRef: { kind: 'CronJob', name: 'nightly' } });
  await createReservation(rest, ns, 'one-off', { every: '24h', jobRef: { kind: 'Job', name: 'migrate' } });
  watcher = new JobWatcher({ rest, writer: new StatusWriter(rest), namespaces: [ns] });
  watcher.start();
  await watcher.waitForSync();
});
afterAll(async () => {
  await watcher.stop();
  rest.close();
});

describe('Job watcher', () => {
  it('turns a Job of the CronJob that fails (DeadlineExceeded) into a failed run', async () => {
    const { uid } = await createJob('nightly-1001', { kind: 'CronJob', name: 'nightly', uid: cronJobUid });
    const startTime = new Date(Date.now() - 60_000).toISOString().replace(/\.\d+Z$/, 'Z');
    await writeJobStatus('nightly-1001', { startTime, active: 1 });
    await eventually(async () => (await stored('nightly')).status?.running?.some((r) => r.runId === uid), 20_000, 'start from the Job');
    expect((await stored('nightly')).status?.lastCheckin).toMatchObject({ signal: 'start', runId: uid, source: 'job' });

    const failedAt = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    await writeJobStatus('nightly-1001', {
      active: 0,
      failed: 1,
      conditions: [
        { type: 'FailureTarget', status: 'True', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline', lastTransitionTime: failedAt, lastProbeTime: failedAt },
        { type: 'Failed', status: 'True', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline', lastTransitionTime: failedAt, lastProbeTime: failedAt },
      ],
    });
    const res = await eventually(async () => {
      const r = await stored('nightly');
      return r.status?.lastCheckin?.signal === 'fail' ? r : undefined;
    }, 20_000, 'fail from the Job');
    expect(res.status?.lastCheckin).toMatchObject({ signal: 'fail', runId: uid, source: 'job' });
    expect(res.status?.lastCheckin?.message).toContain('DeadlineExceeded');
    expect(res.status?.lastCheckin?.durationSeconds).toBeGreaterThanOrEqual(59);
    expect(res.status?.state).toBe('Failed');
    expect(res.status?.running ?? []).toEqual([]);
    expect(res.status?.checkins).toBe(2);
  });

  it('turns a Complete Job into a success with its duration, and a Job named by kind: Job too', async () => {
    const { uid } = await createJob('nightly-1002', { kind: 'CronJob', name: 'nightly', uid: cronJobUid });
    const startTime = new Date(Date.now() - 30_000).toISOString().replace(/\.\d+Z$/, 'Z');
    const done = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    // Written in one go, as a watcher that was down during the run would find it.
    await writeJobStatus('nightly-1002', {
      startTime,
      completionTime: done,
      succeeded: 1,
      conditions: [
        { type: 'SuccessCriteriaMet', status: 'True', lastTransitionTime: done, lastProbeTime: done },
        { type: 'Complete', status: 'True', lastTransitionTime: done, lastProbeTime: done },
      ],
    });
    const res = await eventually(async () => {
      const r = await stored('nightly');
      return r.status?.lastCheckin?.runId === uid && r.status.lastCheckin.signal === 'success' ? r : undefined;
    }, 20_000, 'success from the Job');
    expect(res.status?.lastCheckin?.durationSeconds).toBeCloseTo(30, 0);
    expect(res.status?.state).toBe('Healthy');
    expect(res.status?.recent?.filter((c) => c.runId === uid).map((c) => c.signal)).toEqual(['start', 'success']);

    const { uid: migrateUid } = await createJob('migrate', undefined);
    await writeJobStatus('migrate', { startTime: done, active: 1 });
    await eventually(async () => (await stored('one-off')).status?.lastCheckin?.runId === migrateUid, 20_000, 'a Job named by jobRef');
  });

  it('counts nothing twice when a restarted watcher sees the same Jobs again', async () => {
    const before = (await stored('nightly')).status?.checkins;
    const again = new JobWatcher({ rest, writer: new StatusWriter(rest), namespaces: [ns] });
    again.start();
    await again.waitForSync();
    again.resync();
    await again.whenIdle();
    await again.stop();
    expect((await stored('nightly')).status?.checkins).toBe(before);
  });
});
