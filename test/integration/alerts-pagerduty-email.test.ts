// PagerDuty and e-mail receivers against the real apiserver: the AlertDispatcher (and the operator
// end to end) send through the real senders to a loopback PagerDuty-shaped Events API v2 endpoint
// and a loopback SMTP server (STARTTLS, AUTH). Assertions are on what those servers recorded and
// what the Reservation's status says.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION, type NotifyTarget, type OutboxEntry, type Reservation } from '../../src/api/reservation.ts';
import { AlertDispatcher, type AlertDispatcherOptions } from '../../src/alerts/dispatcher.ts';
import { receiverSettings, type ReceiverSettings } from '../../src/alerts/receiver-config.ts';
import { KubeRest } from '../../src/k8s/rest.ts';
import { StatusWriter, reservationPath } from '../../src/k8s/status-writer.ts';
import { createMetrics } from '../../src/metrics.ts';
import type { Operator } from '../../src/operator/operator.ts';
import { startPagerDutyReceiver, type PagerDutyReceiver } from '../fixtures/pagerduty-receiver.ts';
import { startSmtpReceiver, type SmtpReceiver } from '../fixtures/smtp-receiver.ts';
import { clients, eventually, freshNamespace, kubeConfig } from './helpers.ts';
import { createReservation, getReservation, startOperator } from './operator-harness.ts';

const kc = kubeConfig();
const rest = new KubeRest(kc);
const { core, custom } = clients(kc);
const ROUTING_KEY = 'R0UT1NGKEY0123456789abcdefABCDEF';
let namespace: string;
let pd: PagerDutyReceiver;
let smtp: SmtpReceiver;
let settings: ReceiverSettings;
const dispatchers: AlertDispatcher[] = [];
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  namespace = await freshNamespace('receivers');
  pd = await startPagerDutyReceiver({ routingKeys: [ROUTING_KEY] });
  smtp = await startSmtpReceiver({ users: { gotel: 'pa55 word' }, refuseRecipients: { 'nobody@example.com': { code: 550, message: '5.1.1 Mailbox unavailable' } } });
  await secret('smtp-login', { username: 'gotel', password: 'pa55 word\n' });
  await secret('pagerduty', { routingKey: `${ROUTING_KEY}\n` });
  const parsed = receiverSettings({ pagerdutyEventsUrl: pd.url, smtpUrl: smtp.url, smtpFrom: 'GoTel <gotel@example.com>', smtpSecret: `${namespace}/smtp-login` });
  // The test CA is handed over directly; an operator trusts a private CA through NODE_EXTRA_CA_CERTS.
  settings = { ...parsed, smtp: { ...parsed.smtp!, tls: { ca: smtp.ca } } };
});

afterEach(async () => {
  await Promise.all(dispatchers.splice(0).map((d) => d.stop({ timeoutMs: 100 })));
  for (const c of cleanups.splice(0).reverse()) await c();
});

afterAll(async () => {
  await Promise.all([pd.close(), smtp.close()]);
  rest.close();
});

async function secret(name: string, data: Record<string, string>, ns = namespace): Promise<void> {
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name }, stringData: data } });
}

function dispatcher(options: Partial<AlertDispatcherOptions> = {}): AlertDispatcher {
  const d = new AlertDispatcher({ rest, writer: new StatusWriter(rest), metrics: createMetrics({ defaultMetrics: false }), clusterName: 'test-a', receivers: settings, backoff: { initialMs: 200, jitter: 0 }, ...options });
  dispatchers.push(d);
  return d;
}

let seq = 0;
function entry(over: Partial<OutboxEntry> = {}): OutboxEntry {
  const now = new Date();
  return { id: `e${++seq}-alert-Missed`, kind: 'alert', reason: 'Missed', dueTime: new Date(now.getTime() - 1000).toISOString(), createdTime: now.toISOString(), message: 'missed its check-in', ...over };
}

/** A Reservation with its outbox recorded in status, as the reconciler leaves it before sync(). */
async function reservation(name: string, notify: NotifyTarget[], outbox: OutboxEntry[]): Promise<Reservation> {
  await custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: PLURAL,
    body: { apiVersion: API_VERSION, kind: KIND, metadata: { name }, spec: { every: '5m', owner: 'ops@example.com', notify } },
  });
  return new StatusWriter(rest).update(namespace, name, (r) => ({
    ...r.status,
    state: 'Missed',
    alert: { firing: true, reason: 'Missed', since: outbox[0]?.dueTime, lastNotifiedTime: outbox[0]?.createdTime, notifications: 1, outbox },
  }));
}

async function outboxOf(name: string): Promise<OutboxEntry[]> {
  return (await rest.request<Reservation>({ method: 'GET', path: reservationPath(namespace, name) })).status?.alert?.outbox ?? [];
}

async function settled(name: string, count: number): Promise<OutboxEntry[]> {
  return eventually(async () => {
    const outbox = await outboxOf(name);
    return outbox.length === count && outbox.every((e) => e.deliveredTime || e.failedPermanently) ? outbox : undefined;
  }, 20_000, `${name}'s outbox to settle`);
}

const pagerduty: NotifyTarget = { pagerduty: { routingKeySecretRef: { name: 'pagerduty' } } };
const forKey = (key: string) => pd.received.filter((r) => r.body.dedup_key === key);

describe('the AlertDispatcher with PagerDuty and e-mail', () => {
  it('triggers PagerDuty for an alert and resolves it for the recovery, with one dedup_key', async () => {
    const alert = entry();
    const recovery = entry({ kind: 'recovery', id: `e${++seq}-recovery-Missed` });
    const res = await reservation('pd-pair', [pagerduty], [alert, recovery]);
    dispatcher().sync(res);
    const outbox = await settled('pd-pair', 2);
    expect(outbox.map((e) => e.deliveredTo)).toEqual([['pagerduty'], ['pagerduty']]);
    const key = `gotel/test-a/${namespace}/pd-pair`;
    const events = forKey(key);
    expect(events.map((e) => [e.body.event_action, e.status])).toEqual([
      ['trigger', 202],
      ['resolve', 202],
    ]);
    expect(events[0]!.body).toMatchObject({
      routing_key: ROUTING_KEY,
      payload: { severity: 'critical', source: 'test-a', component: `${namespace}/pd-pair`, summary: `[GoTel] Missed: ${namespace}/pd-pair missed its check-in` },
    });
    expect(pd.alerts.get(key)).toMatchObject({ status: 'resolved' });
  });

  it('retries PagerDuty on 429 and 500, and delivers once', async () => {
    const res = await reservation('pd-flaky', [pagerduty], [entry()]);
    pd.script([{ status: 429, retryAfter: 1 }, 'server_error']);
    dispatcher().sync(res);
    const [marked] = await settled('pd-flaky', 1);
    expect(marked).toMatchObject({ deliveredTo: ['pagerduty'], attempts: 3 });
    expect(forKey(`gotel/test-a/${namespace}/pd-flaky`).map((e) => e.status)).toEqual([429, 500, 202]);
  });

  it('gives up on a routing key PagerDuty refuses (400 invalid event), saying so', async () => {
    await secret('pd-wrong', { routingKey: 'ffffffffffffffffffffffffffffffff' });
    const res = await reservation('pd-wrong', [{ name: 'oncall', pagerduty: { routingKeySecretRef: { name: 'pd-wrong' } } }], [entry()]);
    dispatcher().sync(res);
    const [failed] = await settled('pd-wrong', 1);
    expect(failed!.failedPermanently).toBe(true);
    expect(failed!.lastError).toBe("oncall: HTTP 400 invalid event: Event object is invalid ('routing_key' is not known)");
    expect(forKey(`gotel/test-a/${namespace}/pd-wrong`)).toHaveLength(1);
  });

  it('sends an e-mail over STARTTLS, logged in with the --smtp-secret Secret, naming the reservation', async () => {
    const res = await reservation('mail-once', [{ email: { to: ['ops@example.com', 'lead@example.com'] } }], [entry()]);
    const before = smtp.received.length;
    dispatcher().sync(res);
    const [marked] = await settled('mail-once', 1);
    expect(marked).toMatchObject({ deliveredTo: ['email'], attempts: 1 });
    const mails = smtp.received.slice(before);
    expect(mails).toHaveLength(1);
    expect(mails[0]).toMatchObject({ secure: true, user: 'gotel', subject: `[GoTel] Missed: ${namespace}/mail-once missed its check-in`, to: ['ops@example.com', 'lead@example.com'] });
    expect(mails[0]!.text).toContain(`Reservation:   ${namespace}/mail-once`);
    expect(mails[0]!.text).toContain('ops@example.com');
    expect(mails[0]!.html).toContain(`${namespace}/mail-once missed its check-in`);
  });

  it('retries an e-mail the server defers (451), and delivers it once', async () => {
    const res = await reservation('mail-later', [{ email: { to: ['ops@example.com'] } }], [entry()]);
    const before = smtp.received.length;
    smtp.script([{ code: 451, message: '4.3.0 Try again later' }]);
    dispatcher().sync(res);
    const [marked] = await settled('mail-later', 1);
    expect(marked).toMatchObject({ deliveredTo: ['email'], attempts: 2 });
    expect(smtp.received.slice(before).map((m) => m.subject)).toEqual([`[GoTel] Missed: ${namespace}/mail-later missed its check-in`]);
  });

  it('names what to fix when e-mail cannot be sent: no SMTP server, a missing login key', async () => {
    const res = await reservation('mail-unconfigured', [{ email: { to: ['ops@example.com'] } }], [entry()]);
    dispatcher({ receivers: { pagerdutyEventsUrl: pd.url } }).sync(res);
    const [a] = await settled('mail-unconfigured', 1);
    expect(a!.lastError).toBe('email (spec.notify[0].email): the operator has no SMTP server: start it with --smtp-url and --smtp-from (see the README, Receivers)');

    await secret('smtp-half', { username: 'gotel' });
    const half = await reservation('mail-half-login', [{ email: { to: ['ops@example.com'] } }], [entry()]);
    dispatcher({ receivers: { ...settings, smtp: { ...settings.smtp!, secret: { namespace, name: 'smtp-half' } } } }).sync(half);
    const [b] = await settled('mail-half-login', 1);
    expect(b!.lastError).toBe(`email (spec.notify[0].email (--smtp-secret ${namespace}/smtp-half)): Secret ${namespace}/smtp-half has no key "password" (it has: username)`);
  });
});

describe('the operator with PagerDuty and e-mail', () => {
  async function operator(extra: Record<string, unknown>): Promise<{ ns: string; op: Operator }> {
    const ns = await freshNamespace('rcv-op');
    const op = await startOperator(ns, { clusterName: 'test-b', receivers: receiverSettings(extra) });
    cleanups.push(() => op.stop());
    await eventually(() => Promise.resolve(op.isLeader), 10_000, 'leadership');
    return { ns, op };
  }

  it('triggers PagerDuty on a Missed deadline (critical, dedup_key per Reservation) and resolves it on the next check-in', async () => {
    const { ns, op } = await operator({ pagerdutyEventsUrl: pd.url });
    await secret('pd', { routingKey: ROUTING_KEY }, ns);
    await createReservation(ns, 'nightly', { every: '3s', grace: '1s', anonymous: true, notify: [{ pagerduty: { routingKeySecretRef: { name: 'pd' } } }] });
    const key = `gotel/test-b/${ns}/nightly`;
    const [trigger] = await eventually(() => Promise.resolve(forKey(key).length >= 1 && forKey(key)), 15_000, 'the trigger');
    expect(trigger!.body).toMatchObject({ event_action: 'trigger', routing_key: ROUTING_KEY, payload: { severity: 'critical', class: 'Missed', group: ns, source: 'test-b' } });
    expect(pd.alerts.get(key)).toMatchObject({ status: 'triggered' });

    expect((await fetch(`${op.url}/checkin/${ns}/nightly`, { method: 'POST' })).status).toBe(200);
    await eventually(() => Promise.resolve(pd.alerts.get(key)?.status === 'resolved'), 15_000, 'the resolve');
    expect(forKey(key).filter((e) => e.body.event_action === 'resolve')).toHaveLength(1);
    // Both entries marked delivered (a later Missed of this 3s Reservation may follow them).
    const outbox = await eventually(async () => {
      const first = ((await getReservation(ns, 'nightly')).status?.alert?.outbox ?? []).slice(0, 2);
      return first.length === 2 && first.every((e) => e.deliveredTime) ? first : undefined;
    }, 10_000, 'both entries delivered');
    expect(outbox.map((e) => [e.kind, e.deliveredTo])).toEqual([
      ['alert', ['pagerduty']],
      ['recovery', ['pagerduty']],
    ]);
  });

  it('as a `gotel operator` process configured by GOTEL_* variables, mails over STARTTLS with AUTH and pages PagerDuty', async () => {
    const ns = await freshNamespace('rcv-proc');
    const dir = await mkdtemp(join(tmpdir(), 'gotel-receivers-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'kubeconfig'), inject('kubeconfig'));
    await writeFile(join(dir, 'ca.pem'), smtp.ca);
    await secret('smtp-login', { username: 'gotel', password: 'pa55 word' }, ns);
    await secret('pd', { routingKey: ROUTING_KEY }, ns);
    const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
    const env = {
      ...process.env,
      KUBECONFIG: join(dir, 'kubeconfig'),
      // How a user trusts a private CA for the SMTP server.
      NODE_EXTRA_CA_CERTS: join(dir, 'ca.pem'),
      GOTEL_NAMESPACES: ns,
      GOTEL_LEADER_ELECTION_NAMESPACE: ns,
      GOTEL_LISTEN: '127.0.0.1:0',
      GOTEL_METRICS_LISTEN: '127.0.0.1:0',
      GOTEL_LEASE_DURATION: '2s',
      GOTEL_CLUSTER_NAME: 'test-proc',
      GOTEL_LOG_LEVEL: 'warn',
      GOTEL_PAGERDUTY_EVENTS_URL: pd.url,
      GOTEL_SMTP_URL: smtp.url,
      GOTEL_SMTP_SECRET: `${ns}/smtp-login`,
      GOTEL_SMTP_FROM: 'GoTel <gotel@example.com>',
    };
    const child = spawn(process.execPath, [main, 'operator'], { stdio: ['ignore', 'ignore', 'pipe'], env });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    );
    const before = smtp.received.length;
    await createReservation(ns, 'weekly-report', {
      every: '2s',
      grace: '1s',
      owner: 'reports@example.com',
      notify: [{ email: { to: ['reports@example.com'] } }, { pagerduty: { routingKeySecretRef: { name: 'pd' } } }],
    });
    const mail = await eventually(() => Promise.resolve(smtp.received.slice(before).find((m) => m.subject.includes(`${ns}/weekly-report`))), 30_000, `the e-mail (operator stderr: ${stderr})`);
    expect(mail).toMatchObject({ secure: true, user: 'gotel', subject: `[GoTel] Missed: ${ns}/weekly-report missed its check-in`, to: ['reports@example.com'] });
    expect(mail.text).toContain('Owner:         reports@example.com');
    const key = `gotel/test-proc/${ns}/weekly-report`;
    await eventually(() => Promise.resolve(pd.alerts.get(key)?.status === 'triggered'), 15_000, 'the PagerDuty trigger');
    expect(forKey(key)[0]!.body.payload).toMatchObject({ severity: 'critical', source: 'test-proc' });
  });

  it('shows a permanent e-mail refusal (550) in the AlertDelivery condition and does not retry it', async () => {
    const plain = await startSmtpReceiver({ starttls: false, refuseRecipients: { 'nobody@example.com': { code: 550, message: '5.1.1 Mailbox unavailable' } } });
    cleanups.push(() => plain.close());
    const { ns } = await operator({ smtpUrl: plain.url, smtpFrom: 'gotel@example.com', pagerdutyEventsUrl: pd.url });
    await createReservation(ns, 'bounced', { every: '1s', grace: '1s', notify: [{ name: 'team-mail', email: { to: ['nobody@example.com'] } }] });
    const c = await eventually(async () => {
      const current = await getReservation(ns, 'bounced');
      const condition = current.status?.conditions?.find((x) => x.type === 'AlertDelivery');
      return condition?.reason === 'ReceiverRejected' ? condition : undefined;
    }, 20_000, 'AlertDelivery ReceiverRejected');
    expect(c.status).toBe('False');
    expect(c.message).toMatch(/team-mail: SMTP 550 5\.1\.1 Mailbox unavailable \(the mailbox is unavailable\)/);
    expect(plain.received).toHaveLength(0);
  });
});
