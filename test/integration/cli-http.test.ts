// What scripts and uptime tools do over HTTP: HEAD check-ins (Healthchecks' convention) and
// `POST /snooze/{namespace}/{name}?for=2h`, authorised by the RBAC verb `snooze`, against a
// check-in server on the test apiserver.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeRest } from '../../src/k8s/rest.ts';
import { createReservation, getReservation, grant, serviceAccountToken, startCheckinServer, type CheckinServer } from './checkin-helpers.ts';
import { freshNamespace, kubeConfig } from './helpers.ts';

const kc = kubeConfig();
const admin = new KubeRest(kc);
let ns: string;
let server: CheckinServer;
/** May snooze the Reservation "quiet" only. */
let snoozer: string;
/** May check in, not snooze. */
let checker: string;

async function call(path: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; text: string; body: Record<string, unknown> }> {
  const res = await fetch(server.url + path, init);
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // empty (HEAD) or not JSON
  }
  return { status: res.status, headers: res.headers, text, body };
}

const bearer = (token: string): RequestInit => ({ method: 'POST', headers: { Authorization: `Bearer ${token}` } });

beforeAll(async () => {
  ns = await freshNamespace('cli-http');
  server = await startCheckinServer(kc, { rateLimit: false });
  snoozer = await serviceAccountToken(admin, ns, 'deployer');
  await grant(admin, ns, 'deployer', ['snooze'], ['quiet']);
  checker = await serviceAccountToken(admin, ns, 'job');
  await grant(admin, ns, 'job', ['checkin']);
});
afterAll(async () => {
  await server.close();
  admin.close();
});

describe('HEAD check-ins', () => {
  it('are taken like GET: stored, 200, no body', async () => {
    await createReservation(admin, ns, 'pinged', { every: '5m', anonymous: true });
    const head = await call(`/checkin/${ns}/pinged`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
    expect(head.headers.get('content-type')).toContain('application/json');
    const fail = await call(`/checkin/${ns}/pinged/fail?rid=h2`, { method: 'HEAD' });
    expect(fail.status).toBe(200);
    const st = (await getReservation(admin, ns, 'pinged')).status!;
    expect(st.recent?.map((c) => [c.signal, c.source])).toEqual([
      ['success', 'http'],
      ['fail', 'http'],
    ]);
    expect(st.checkins).toBe(2);
  });

  it('are refused like GET: a HEAD without credentials gets 401 and stores nothing', async () => {
    await createReservation(admin, ns, 'guarded', { every: '5m' });
    const head = await call(`/checkin/${ns}/guarded`, { method: 'HEAD' });
    expect(head.status).toBe(401);
    expect(head.headers.get('www-authenticate')).toContain('Bearer');
    expect((await getReservation(admin, ns, 'guarded')).status?.checkins ?? 0).toBe(0);
    const put = await call(`/checkin/${ns}/guarded`, { method: 'PUT' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, HEAD, POST');
  });
});

describe('POST /snooze/{namespace}/{name}?for=', () => {
  it('sets spec.snoozeUntil to now + for, for a token allowed the verb snooze on that Reservation', async () => {
    await createReservation(admin, ns, 'quiet', { every: '5m' });
    const before = Date.now();
    const r = await call(`/snooze/${ns}/quiet?for=2h`, bearer(snoozer));
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ ok: true, reservation: { namespace: ns, name: 'quiet' } });
    const spec = (await getReservation(admin, ns, 'quiet')).spec;
    expect(spec.snoozeUntil).toBe(r.body.snoozeUntil);
    const until = Date.parse(spec.snoozeUntil!);
    expect(until).toBeGreaterThanOrEqual(before + 2 * 3_600_000);
    expect(until).toBeLessThanOrEqual(Date.now() + 2 * 3_600_000 + 1000);
  });

  it('answers a bad duration with a JSON 400 and changes nothing', async () => {
    await createReservation(admin, ns, 'quiet2', { every: '5m' });
    for (const [query, reason] of [
      ['?for=1d', 'InvalidDuration'],
      ['?for=0s', 'InvalidDuration'],
      ['?for=soon', 'InvalidDuration'],
      ['?for=1h&for=2h', 'InvalidDuration'],
      ['', 'MissingDuration'],
    ] as const) {
      const r = await call(`/snooze/${ns}/quiet2${query}`, bearer(snoozer));
      expect(r.status, query).toBe(400);
      expect((r.body.error as { reason: string }).reason, query).toBe(reason);
      expect((r.body.error as { message: string }).message.length).toBeGreaterThan(10);
    }
    expect((await getReservation(admin, ns, 'quiet2')).spec?.snoozeUntil).toBeUndefined();
  });

  it('refuses without a token (401), without the snooze verb (403), for an unknown Reservation (404), and other methods (405)', async () => {
    await createReservation(admin, ns, 'noisy', { every: '5m', anonymous: true });
    const anonymous = await call(`/snooze/${ns}/noisy?for=1h`, { method: 'POST' });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).toMatchObject({ error: { reason: 'Unauthorized' } });

    const checkinOnly = await call(`/snooze/${ns}/noisy?for=1h`, bearer(checker));
    expect(checkinOnly.status).toBe(403);
    expect((checkinOnly.body.error as { message: string }).message).toContain('may not "snooze"');

    // The snoozer's Role names "quiet" only.
    const otherName = await call(`/snooze/${ns}/noisy?for=1h`, bearer(snoozer));
    expect(otherName.status).toBe(403);
    expect((await getReservation(admin, ns, 'noisy')).spec?.snoozeUntil).toBeUndefined();

    const ops = await serviceAccountToken(admin, ns, 'ops');
    await grant(admin, ns, 'ops', ['snooze']);
    const missing = await call(`/snooze/${ns}/ghost?for=1h`, bearer(ops));
    expect(missing.status).toBe(404);
    expect((missing.body.error as { message: string }).message).toContain(`Reservation ${ns}/ghost not found`);

    const bogus = await call(`/snooze/${ns}/noisy?for=1h`, bearer('not-a-token'));
    expect(bogus.status).toBe(401);

    const get = await call(`/snooze/${ns}/quiet?for=1h`, { method: 'GET' });
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');

    const badName = await call(`/snooze/${ns}/Not_Valid?for=1h`, bearer(ops));
    expect(badName.status).toBe(400);
    expect(badName.body).toMatchObject({ error: { reason: 'InvalidName' } });
  });
});
