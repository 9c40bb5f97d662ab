// The control plane failing under a running `gotel operator` process: the apiserver stopped for
// 60 s and started again, then etcd SIGKILLed and restarted under a load of check-ins. One private
// control plane for both, in sequence (the suite's own must stay up for the other tests).
// Guarantees: the operator never crashes, never answers a check-in 2xx it could not store, counts
// every check-in it did acknowledge, sends no alert for a job that checked in, and is ready and
// judging again soon after the control plane is back (the measured times are printed).
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION, type Reservation, type ReservationSpec } from '../../src/api/reservation.ts';
import { startControlPlane, type ControlPlane } from '../../src/dev/control-plane.ts';
import { loadKubeConfig } from '../../src/operator/kubeconfig.ts';
import { startSlackReceiver, type SlackReceiver } from '../../src/dev/slack-receiver.ts';
import { KubeRest } from '../../src/k8s/rest.ts';
import { reservationPath } from '../../src/k8s/status-writer.ts';
import { eventually } from './helpers.ts';
import { alive, freePort, killed, leaseHolder, postCheckin, spawnOperator } from './operator-processes.ts';

const NS = 'outage';
const ID = 'outage-replica';
let plane: ControlPlane;
let rest: KubeRest;
let slack: SlackReceiver;
let operator: ChildProcess;
let base: string;
let stderr = '';

beforeAll(async () => {
  plane = await startControlPlane({ name: 'outage', assets: inject('assets') });
  rest = new KubeRest(loadKubeConfig(plane.kubeconfigPath));
  await rest.request({ method: 'POST', path: '/api/v1/namespaces', body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } } });
  slack = await startSlackReceiver();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  operator = spawnOperator({ kubeconfigPath: plane.kubeconfigPath, namespace: NS, identity: ID, slackUrl: slack.url, args: [`--listen=127.0.0.1:${port}`], onStderr: (t) => (stderr += t) });
  await eventually(async () => (await leaseHolder(rest, NS)) === ID, 30_000, 'the replica to lead');
}, 180_000);
afterAll(async () => {
  if (operator) await killed(operator);
  await slack?.close();
  rest?.close();
  // The replica's warnings, for a failure's diagnosis (how it saw the outage).
  process.stderr.write(`[outage] operator stderr (last lines):\n${stderr.split('\n').slice(-15).join('\n')}\n`);
  await plane?.stop(); // stops what still runs, apiserver first

}, 60_000);

async function create(name: string, spec: ReservationSpec): Promise<void> {
  await rest.request({ method: 'POST', path: `/apis/${GROUP}/${VERSION}/namespaces/${NS}/${PLURAL}`, body: { apiVersion: API_VERSION, kind: KIND, metadata: { name }, spec } });
}

async function checkins(name: string): Promise<number> {
  return (await rest.request<Reservation>({ method: 'GET', path: reservationPath(NS, name) })).status?.checkins ?? 0;
}

async function ready(): Promise<boolean> {
  const res = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
  return res?.status === 200;
}

const mentions = (name: string): number => slack.received.filter((d) => JSON.stringify(d.body).includes(`/${name}`)).length;

/** Waits until the operator is ready again; returns how long that took after `since`. */
async function readyAgain(since: number, what: string): Promise<number> {
  await eventually(ready, 120_000, `the operator ready again after ${what}`);
  const ms = Date.now() - since;
  process.stderr.write(`[outage] ${what}: operator ready ${(ms / 1000).toFixed(1)} s after the control plane was back\n`);
  return ms;
}

describe('the control plane failing under a running operator', () => {
  it('apiserver stopped for 60 s: check-ins answered 503 meanwhile, then ready and judging again, no false alert', async () => {
    await create('steady', { every: '1h', anonymous: true });
    await eventually(async () => (await postCheckin(base, NS, 'steady', 'before')) === 200, 20_000, 'a check-in before the outage');

    await plane.halt('kube-apiserver');
    const answers: number[] = [];
    const until = Date.now() + 60_000;
    for (let i = 0; Date.now() < until; i++) {
      answers.push(await postCheckin(base, NS, 'steady', `during-${i}`, 5_000));
      await new Promise((r) => setTimeout(r, 250));
    }
    // Answered, and never as if stored: every one a 503 (0 would be no answer at all).
    expect(answers.filter((s) => s !== 503)).toEqual([]);
    expect(alive(operator)).toBe(true);

    await plane.restart('kube-apiserver');
    const back = Date.now();
    await readyAgain(back, 'a 60 s apiserver outage');
    await eventually(async () => (await postCheckin(base, NS, 'steady', 'after')) === 200, 20_000, 'a check-in after the outage');
    expect(await checkins('steady')).toBe(2);
    // Judging again: the replica leads, and a Reservation created now is alerted when missed.
    await eventually(async () => (await leaseHolder(rest, NS)) === ID, 20_000, 'the replica to lead again');
    await create('fresh', { every: '2s', grace: '1s' });
    // The first message since the start: nothing was alerted before (steady checked in).
    await slack.waitFor(1, { timeoutMs: 30_000 });
    expect(mentions('fresh')).toBeGreaterThan(0);
    process.stderr.write(`[outage] first alert for a new Reservation ${((Date.now() - back) / 1000).toFixed(1)} s after the apiserver was back\n`);
    expect(mentions('steady')).toBe(0);
    expect(alive(operator)).toBe(true);
  }, 300_000);

  it('etcd SIGKILLed and restarted under load: answered 503 promptly while it is down, every check-in answered 2xx counted, none twice, no false alert', async () => {
    const names = Array.from({ length: 10 }, (_, i) => `load-${i}`);
    for (const name of names) await create(name, { every: '1h', anonymous: true });
    await eventually(async () => (await postCheckin(base, NS, names.at(-1)!, 'probe')) === 200, 20_000, 'the replica to know the Reservations');
    const before = new Map(await Promise.all(names.map(async (n) => [n, await checkins(n)] as const)));

    const acked = new Map(names.map((n) => [n, 0]));
    const sent = new Map(names.map((n) => [n, 0]));
    const statuses = new Map<number, number>();
    /** Check-ins sent and answered while etcd was down, by status: only "retry later" can be true of them. */
    const whileDown = new Map<number, number>();
    let etcdDown = false;
    let loading = true;
    let seq = 0;
    const worker = async (): Promise<void> => {
      while (loading) {
        const name = names[seq % names.length]!;
        const rid = `load-${seq++}`;
        sent.set(name, sent.get(name)! + 1);
        const sentWhileDown = etcdDown;
        const status = await postCheckin(base, NS, name, rid, 40_000);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (sentWhileDown && etcdDown) whileDown.set(status, (whileDown.get(status) ?? 0) + 1);
        if (status >= 200 && status < 300) acked.set(name, acked.get(name)! + 1);
        else await new Promise((r) => setTimeout(r, 100)); // a refused client backs off a little
      }
    };
    const workers = Array.from({ length: 10 }, worker);
    await new Promise((r) => setTimeout(r, 3_000));
    await plane.halt('etcd', 'SIGKILL');
    etcdDown = true;
    await new Promise((r) => setTimeout(r, 15_000));
    etcdDown = false;
    expect(alive(operator)).toBe(true);
    await plane.restart('etcd');
    const back = Date.now();
    await readyAgain(back, 'etcd SIGKILLed for 15 s');
    await eventually(async () => (await postCheckin(base, NS, names[0]!, `after-etcd`)) === 200, 60_000, 'a check-in after etcd returned');
    acked.set(names[0]!, acked.get(names[0]!)! + 1);
    sent.set(names[0]!, sent.get(names[0]!)! + 1);
    await new Promise((r) => setTimeout(r, 3_000));
    loading = false;
    await Promise.all(workers);
    process.stderr.write(`[outage] etcd kill under load: answers by status ${JSON.stringify(Object.fromEntries(statuses))}, while etcd was down ${JSON.stringify(Object.fromEntries(whileDown))}\n`);

    // While etcd was down every answer was "retry later", and they came promptly: each of the 10
    // clients heard it many times over, instead of waiting for etcd with its request held.
    expect([...whileDown.keys()].filter((s) => s !== 503)).toEqual([]);
    expect(whileDown.get(503) ?? 0).toBeGreaterThanOrEqual(workers.length * 5);

    // Nothing but stored check-ins (2xx) and 503 "retry later": each one answered within 40 s.
    expect([...statuses.keys()].filter((s) => s !== 503 && (s < 200 || s >= 300))).toEqual([]);
    expect([...acked.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    // Every acknowledged check-in counted; none counted twice (each run id was sent once, so at
    // most every one sent — those answered 503 after etcd had stored them may count too).
    await eventually(async () => {
      for (const name of names) if ((await checkins(name)) - before.get(name)! < acked.get(name)!) return false;
      return true;
    }, 60_000, 'every acknowledged check-in in status');
    for (const name of names) expect((await checkins(name)) - before.get(name)!).toBeLessThanOrEqual(sent.get(name)!);
    expect(names.map(mentions).reduce((a, b) => a + b, 0)).toBe(0);
    expect(mentions('steady')).toBe(0);
    expect(alive(operator)).toBe(true);
  }, 300_000);
});
