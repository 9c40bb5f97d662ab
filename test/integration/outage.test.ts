// GoTel's own outage is not the jobs' fault. A private control plane (its apiserver is stopped
// and started again on the same port, with the same etcd), a `gotel operator` process, and jobs
// that check in over HTTP every few seconds and retry what was refused: while the apiserver is
// away their check-ins get 503, their deadlines pass, and yet no job is alerted Missed. Instead
// the Slack receiver gets one notice naming the Reservations whose deadlines fell in the outage,
// with the one whose job really stopped listed as still missing; the status says Unknown for its
// outage runs (CheckedIn for the others); and its first run due after the catch-up is alerted
// Missed as usual.
import { KubeConfig } from '@kubernetes/client-node';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION, type Reservation } from '../../src/api/reservation.ts';
import { startControlPlane, type ControlPlane } from '../../src/dev/control-plane.ts';
import { startSlackReceiver, type ReceivedRequest, type SlackReceiver } from '../../src/dev/slack-receiver.ts';
import { reservationPath } from '../../src/k8s/status-writer.ts';
import { KubeRest } from '../../src/k8s/rest.ts';
import { eventually } from './helpers.ts';
import { createNamespace, killAll, operatorProcess, type Cluster } from './peer-harness.ts';

const NS = 'outage';
const ON_TIME = ['job-a', 'job-b', 'job-c'];
const DEAD = 'job-dead';
const SPEC = { every: '6s', grace: '2s', anonymous: true };

let plane: ControlPlane;
let cluster: Cluster;
let slack: SlackReceiver;
let base: string;
const clients: { stop: boolean; name: string; refused: number; stored: number }[] = [];

const text = (r: ReceivedRequest): string => {
  const t = (r.body as { text?: unknown } | undefined)?.text;
  return typeof t === 'string' ? t : JSON.stringify(r.body);
};
const isNotice = (r: ReceivedRequest): boolean => text(r).includes('GoTel could not accept check-ins');

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

async function reservation(name: string): Promise<Reservation> {
  return cluster.rest.request<Reservation>({ method: 'GET', path: reservationPath(NS, name) });
}

/** A job: checks in every 5 s (its period is 6 s); a refused check-in is retried every second. */
function job(name: string): (typeof clients)[number] {
  const c = { stop: false, name, refused: 0, stored: 0 };
  clients.push(c);
  void (async () => {
    while (!c.stop) {
      let answered = false;
      while (!answered && !c.stop) {
        try {
          const res = await fetch(`${base}/checkin/${NS}/${name}`, { method: 'POST', signal: AbortSignal.timeout(4000) });
          await res.text();
          answered = res.ok;
          if (res.ok) c.stored++;
          else c.refused++;
        } catch {
          c.refused++;
        }
        if (!answered) await new Promise((r) => setTimeout(r, 1000));
      }
      await new Promise((r) => setTimeout(r, 5000));
    }
  })();
  return c;
}

beforeAll(async () => {
  plane = await startControlPlane({ name: 'outage', assets: inject('assets') });
  const kc = new KubeConfig();
  kc.loadFromString(plane.kubeconfig);
  cluster = { name: 'outage', kubeconfig: plane.kubeconfig, kubeconfigPath: plane.kubeconfigPath, rest: new KubeRest(kc), plane };
  await createNamespace(cluster, NS);
  slack = await startSlackReceiver();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  operatorProcess(cluster, NS, { identity: 'outage-op', clusterName: 'outage-test', slackUrl: slack.url, args: [`--listen=127.0.0.1:${port}`, '--outage-catch-up=10s'] });
  await eventually(async () => (await fetch(`${base}/readyz`).catch(() => undefined))?.ok, 30_000, 'the operator to be ready');
}, 120_000);

afterAll(async () => {
  for (const c of clients) c.stop = true;
  await killAll();
  await slack?.close();
  cluster?.rest.close();
  await plane?.stop();
});

describe('an apiserver outage', () => {
  it('sends one notice instead of one Missed per job, lists the job that really stopped, and judges normally after', async () => {
    for (const name of [...ON_TIME, DEAD]) {
      await cluster.rest.request({ method: 'POST', path: `/apis/${GROUP}/${VERSION}/namespaces/${NS}/${PLURAL}`, body: { apiVersion: API_VERSION, kind: KIND, metadata: { name }, spec: SPEC } });
    }
    const jobs = [...ON_TIME, DEAD].map(job);
    await eventually(async () => (await Promise.all([...ON_TIME, DEAD].map(reservation))).every((r) => r.status?.state === 'Healthy'), 30_000, 'every job Healthy');

    // The outage: the dead job stops for good as it begins; the others keep trying (503, refused).
    jobs.find((j) => j.name === DEAD)!.stop = true;
    await plane.halt('kube-apiserver');
    await eventually(() => Promise.resolve(jobs.filter((j) => j.name !== DEAD).every((j) => j.refused > 0)), 20_000, 'check-ins refused while the apiserver is away');
    await new Promise((r) => setTimeout(r, 12_000)); // the outage lasts: every job's deadline passes in it
    await plane.restart('kube-apiserver');

    const [notice] = await eventually(() => {
      const n = slack.received.filter(isNotice);
      return Promise.resolve(n.length > 0 ? n : undefined);
    }, 45_000, 'the outage notice');
    const body = text(notice!);
    for (const name of [...ON_TIME, DEAD]) expect(body).toContain(`${NS}/${name}`);
    const missingPart = body.slice(body.indexOf('still have no check-in'));
    expect(missingPart).toContain(`${NS}/${DEAD}`);
    for (const name of ON_TIME) expect(missingPart.split('\n')[0]).not.toContain(`${NS}/${name} `);

    // The dead job's first run due after the catch-up is alerted as usual, once.
    const missed = await eventually(() => Promise.resolve(slack.received.find((r) => !isNotice(r) && text(r).includes(`${NS}/${DEAD}`))), 30_000, 'the dead job alerted Missed');
    expect(text(missed)).toMatch(/missed/i);

    const dead = await reservation(DEAD);
    expect(dead.status?.outageRuns?.some((r) => r.outcome === 'Unknown')).toBe(true);
    expect(dead.status?.state).toBe('Missed');
    for (const name of ON_TIME) {
      const r = await reservation(name);
      expect(r.status?.outageRuns?.length, name).toBeGreaterThan(0);
      expect(r.status?.outageRuns?.every((x) => x.outcome === 'CheckedIn'), name).toBe(true);
      expect(r.status?.alert?.outbox ?? [], name).toEqual([]);
      expect(r.status?.state, name).toBe('Healthy');
    }
    // One notice for the outage, and nothing about the jobs that checked in on time.
    expect(slack.received.filter(isNotice)).toHaveLength(1);
    for (const name of ON_TIME) expect(slack.received.filter((r) => !isNotice(r) && text(r).includes(`${NS}/${name}`)), name).toEqual([]);
    // The delivery is marked in the durable outage record.
    const cm = await cluster.rest.request<{ data: Record<string, string> }>({ method: 'GET', path: `/api/v1/namespaces/${NS}/configmaps/gotel-outages` });
    const records = JSON.parse(cm.data['outages.json']!) as { causes: string[]; notice?: { done?: boolean; deliveredTo: string[]; reservations?: number } }[];
    // (A probe timing out on the loaded machine may add a blip in which no deadline fell: recorded, never announced.)
    const noticed = records.filter((r) => (r.notice?.reservations ?? 0) > 0);
    expect(noticed).toHaveLength(1);
    expect(noticed[0]!.causes).toContain('apiserver');
    expect(noticed[0]!.notice).toMatchObject({ done: true, reservations: 4 });
    expect(noticed[0]!.notice?.deliveredTo).toHaveLength(1);
  }, 150_000);
});
