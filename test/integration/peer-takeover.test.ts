// Takeover: with the peer's operator SIGKILLed, the survivor leads the peer cluster's own
// gotel-leader Lease and judges its jobRef Reservations (a Job written Failed is alerted once, by
// the survivor), lists the HTTP-check-in ones as not watched, and when the peer's operator starts
// again it leads its cluster again and sends nothing the survivor already sent.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Reservation } from '../../src/api/reservation.ts';
import { startSlackReceiver, type ReceivedRequest, type SlackReceiver } from '../../src/dev/slack-receiver.ts';
import { leasePath, type Lease } from '../../src/k8s/leader-election.ts';
import { eventually } from './helpers.ts';
import { createNamespace, createPeer, getPeer, killAll, killed, operatorProcess, twoClusters, type Clusters, type OperatorProcess } from './peer-harness.ts';

let clusters: Clusters;
let ns: string;
let slackA: SlackReceiver;
let slackB: SlackReceiver;
const text = (r: ReceivedRequest): string => JSON.stringify(r.body);
const about = (r: SlackReceiver, what: string): ReceivedRequest[] => r.received.filter((x) => text(x).includes(what));
const until = (check: () => boolean, timeoutMs: number, what: string): Promise<boolean> => eventually(() => Promise.resolve(check()), timeoutMs, what);
const podTemplate = { spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox', command: ['true'] }] } };

function startA(): OperatorProcess {
  return operatorProcess(clusters.a, ns, { identity: 'alpha-0', clusterName: 'alpha', slackUrl: slackA.url });
}
function startB(identity: string): OperatorProcess {
  return operatorProcess(clusters.b, ns, { identity, clusterName: 'beta', slackUrl: slackB.url });
}

async function leaderOf(): Promise<string | undefined> {
  const lease = await clusters.b.rest.request<Lease>({ method: 'GET', path: leasePath(ns, 'gotel-leader') }).catch(() => undefined);
  return lease?.spec.holderIdentity || undefined;
}

/** A Job in the peer cluster, written Failed (no controller runs there: the test writes its status). */
async function failedJob(name: string): Promise<void> {
  await clusters.b.rest.request({ method: 'POST', path: `/apis/batch/v1/namespaces/${ns}/jobs`, body: { apiVersion: 'batch/v1', kind: 'Job', metadata: { name }, spec: { template: podTemplate } } });
  const at = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  await clusters.b.rest.request({
    method: 'PATCH',
    path: `/apis/batch/v1/namespaces/${ns}/jobs/${name}/status`,
    contentType: 'application/merge-patch+json',
    body: {
      status: {
        startTime: new Date(Date.now() - 30_000).toISOString().replace(/\.\d+Z$/, 'Z'),
        failed: 1,
        conditions: [
          { type: 'FailureTarget', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit', lastTransitionTime: at, lastProbeTime: at },
          { type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit', lastTransitionTime: at, lastProbeTime: at },
        ],
      },
    },
  });
}

async function reservation(name: string, spec: Record<string, unknown>): Promise<void> {
  await clusters.b.rest.request({ method: 'POST', path: `/apis/gotel.io/v1alpha1/namespaces/${ns}/reservations`, body: { apiVersion: 'gotel.io/v1alpha1', kind: 'Reservation', metadata: { name }, spec } });
}

beforeAll(async () => {
  clusters = await twoClusters();
  ns = `gotel-${randomBytes(3).toString('hex')}`;
  await Promise.all([createNamespace(clusters.a, ns), createNamespace(clusters.b, ns)]);
  [slackA, slackB] = await Promise.all([startSlackReceiver(), startSlackReceiver()]);
  await createPeer(clusters.a, ns, 'beta', clusters.b.kubeconfig, { timeout: '5s', takeover: true });
  await reservation('backup', { every: '24h', jobRef: { kind: 'Job', name: 'backup-1' } });
  await reservation('report', { every: '24h', jobRef: { kind: 'Job', name: 'report-1' } });
});

afterAll(async () => {
  await killAll();
  await Promise.all([slackA?.close(), slackB?.close()]);
  await clusters?.close();
});

describe('takeover of a dead peer\'s judging', () => {
  it('judges the peer\'s jobRef Reservations while its operator is dead, and hands the cluster back', async () => {
    startA();
    const opB = startB('beta-0');
    await eventually(async () => ((await getPeer(clusters.a, ns, 'beta')).status?.state === 'Up' ? true : undefined), 30_000, 'beta Up');
    await killed(opB.child);
    // Due in seconds, and its jobs post HTTP check-ins to the dead GoTel: the takeover must not call it Missed.
    await reservation('http-only', { every: '2s', grace: '1s' });

    // The survivor becomes a candidate in beta's own leader Lease and wins it.
    await eventually(async () => ((await leaderOf()) === 'alpha-0@alpha' ? true : undefined), 30_000, 'alpha to lead beta\'s cluster');
    const peer = await eventually(async () => {
      const p = await getPeer(clusters.a, ns, 'beta');
      return p.status?.takeover?.leading ? p : undefined;
    }, 10_000, 'the takeover in the Peer status');
    expect(peer.status?.takeover).toMatchObject({ active: true, reservationsJudged: 2, notWatched: [`${ns}/http-only`] });
    await until(() => about(slackA, 'took over judging').length === 1, 15_000, 'the takeover message');
    expect(text(about(slackA, 'took over judging')[0]!)).toContain(`${ns}/http-only`);

    await failedJob('backup-1');
    await until(() => about(slackA, `${ns}/backup`).length === 1, 20_000, 'the survivor to alert the failed Job');
    expect(text(about(slackA, `${ns}/backup`)[0]!)).toContain('Failed');
    const httpOnly = await clusters.b.rest.request<Reservation>({ method: 'GET', path: `/apis/gotel.io/v1alpha1/namespaces/${ns}/reservations/http-only` });
    expect(Date.now() - Date.parse(String(httpOnly.metadata.creationTimestamp))).toBeGreaterThan(4_000); // past its deadline
    expect(httpOnly.status?.state).toBeUndefined(); // not judged during the takeover

    // beta's operator returns: it leads its cluster again and judges from the same outboxes.
    const restarted = Date.now();
    startB('beta-1');
    await eventually(async () => ((await leaderOf()) === 'beta-1' ? true : undefined), 30_000, 'beta to lead its cluster again');
    process.stderr.write(`[peers] hand-back: beta's operator started to beta leading its cluster again: ${((Date.now() - restarted) / 1000).toFixed(1)}s (includes process start-up; lease 3s)\n`);
    await failedJob('report-1');
    await until(() => about(slackB, `${ns}/report`).length === 1, 30_000, 'beta to judge its own cluster again');
    expect(about(slackB, `${ns}/backup`)).toHaveLength(0);
    expect(about(slackA, `${ns}/backup`)).toHaveLength(1);
    expect(about(slackA, `${ns}/report`)).toHaveLength(0);
    const backup = await clusters.b.rest.request<Reservation>({ method: 'GET', path: `/apis/gotel.io/v1alpha1/namespaces/${ns}/reservations/backup` });
    expect(backup.status?.alert?.outbox?.map((e) => e.deliveredTime !== undefined)).toEqual([true]);
    const ended = await eventually(async () => {
      const p = await getPeer(clusters.a, ns, 'beta');
      return p.status?.state === 'Up' && p.status.takeover?.active === false ? p : undefined;
    }, 20_000, 'the takeover to end');
    expect(ended.status?.takeover?.alertsSent).toBe(1);
    // The HTTP-check-in Reservation was never alerted by the survivor (only listed in its message).
    expect(about(slackA, `${ns}/http-only`).filter((r) => !text(r).includes('took over judging'))).toHaveLength(0);
  });
});
