// GoTel's own API, opt-in: the curl calls of the seed project's README (CrowdStrike/gotel) work as
// written, against Reservations in one namespace of a real apiserver.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANNOTATIONS } from '../../src/checkin/gotel-api.ts';
import { KubeRest } from '../../src/k8s/rest.ts';
import { getReservation, grant, serviceAccountToken, startCheckinServer, type CheckinServer } from './checkin-helpers.ts';
import { freshNamespace, kubeConfig } from './helpers.ts';

const run = promisify(execFile);
const kc = kubeConfig();
const admin = new KubeRest(kc);
let ns: string;
let open: CheckinServer;
let secured: CheckinServer;

// The README's calls, character for character (its JSON lacks a comma after alert_msg; GoTel
// itself refused that body, GoTel-on-Kubernetes forgives it).
const README = {
  reservation: `curl -XPOST 'http://127.0.0.1:8080/reservation' -i -H "Content-type: application/json" -d '
{
  "app": "testapp",
  "component": "requests",
  "notify": "jim@foo.com",
  "alert_msg": "App: [{app}] Component: [{component}] failed checkin on IP [{srv}]. Contact owner [{owner}]"
  "frequency": 5,
  "time_units": "minutes",
  "owner": "jim@foo.com"
}
'`,
  checkin: `curl -XPOST 'http://127.0.0.1:8080/checkin' -i -H "Content-type: application/json" -d '
{
  "app": "testapp",
  "component": "requests",
  "notes": "all is well"
}
'`,
  snooze: `curl -XPOST 'http://127.0.0.1:8080/snooze' -i -H "Content-type: application/json" -d '
{
  "app": "testapp",
  "component": "requests",
  "duration": 10,
  "time_units": "hours"
}
'`,
  checkout: `curl -XPOST 'http://127.0.0.1:8080/checkout' -i -H "Content-type: application/json" -d '
{
  "app": "testapp",
  "component": "requests"
}
'`,
  list: `curl 'http://127.0.0.1:8080/reservation'`,
};

async function curl(command: string, base: string, extraArgs = ''): Promise<{ status: number; body: Record<string, unknown> }> {
  const script = command.replace('http://127.0.0.1:8080', base).replace(/^curl /, `curl -sS ${extraArgs} `);
  const { stdout } = await run('sh', ['-c', script.includes(' -i ') ? script : script.replace(/^curl /, 'curl -i ')]);
  const status = Number(/^HTTP\/[\d.]+ (\d{3})/.exec(stdout)?.[1]);
  const body = stdout.slice(stdout.indexOf('\r\n\r\n') + 4);
  return { status, body: JSON.parse(body) as Record<string, unknown> };
}

beforeAll(async () => {
  ns = await freshNamespace('gotel-api');
  open = await startCheckinServer(kc, { gotelApi: { enabled: true, namespace: ns, anonymous: true } });
  // Denials are not cached here, so a grant made during the test applies at once.
  secured = await startCheckinServer(kc, { gotelApi: { enabled: true, namespace: ns }, auth: { negativeCacheTtlMs: 0 } });
});
afterAll(async () => {
  await open.close();
  await secured.close();
  admin.close();
});

describe("GoTel's API", () => {
  it('runs the README: reservation, checkin, snooze, checkout, list', async () => {
    const made = await curl(README.reservation, open.url);
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ success: true, reservation: { namespace: ns, name: 'testapp-requests' } });
    let r = await getReservation(admin, ns, 'testapp-requests');
    expect(r.spec).toMatchObject({ every: '5m', owner: 'jim@foo.com', alertMessage: 'App: [{app}] Component: [{component}] failed checkin on IP [{srv}]. Contact owner [{owner}]' });
    expect(r.metadata.annotations).toMatchObject({ [ANNOTATIONS.app]: 'testapp', [ANNOTATIONS.component]: 'requests', [ANNOTATIONS.notify]: 'jim@foo.com', [ANNOTATIONS.frequency]: '5 minutes' });

    const checkin = await curl(README.checkin, open.url);
    expect(checkin.status).toBe(200);
    expect(checkin.body).toMatchObject({ success: true, message: 'Application checked in: testapp', state: 'Healthy' });
    r = await getReservation(admin, ns, 'testapp-requests');
    expect(r.status?.checkins).toBe(1);
    expect(r.status?.lastCheckin).toMatchObject({ signal: 'success', message: 'all is well', source: 'gotel-api' });

    const before = Date.now();
    const snooze = await curl(README.snooze, open.url);
    expect(snooze.status).toBe(200);
    r = await getReservation(admin, ns, 'testapp-requests');
    const until = Date.parse(r.spec.snoozeUntil ?? '');
    expect(until - before).toBeGreaterThan(10 * 3600_000 - 5_000);
    expect(until - before).toBeLessThan(10 * 3600_000 + 5_000);

    const checkout = await curl(README.checkout, open.url);
    expect(checkout.status).toBe(200);
    expect((await getReservation(admin, ns, 'testapp-requests')).spec.suspend).toBe(true);

    const list = await curl(README.list, open.url);
    expect(list.status).toBe(200);
    expect(list.body.success).toBe(true);
    expect(list.body.result).toEqual([
      expect.objectContaining({ app: 'testapp', component: 'requests', owner: 'jim@foo.com', notify: 'jim@foo.com', frequency: '5 minutes', suspended: true, checkins: 1 }),
    ]);

    // Making the reservation again updates it and resumes watching.
    const again = await curl(README.reservation, open.url);
    expect(again.status).toBe(200);
    expect((await getReservation(admin, ns, 'testapp-requests')).spec.suspend).toBeUndefined();
  });

  it('answers errors as JSON with 4xx, not 200 success:false', async () => {
    const unknown = await curl(README.checkin.replace('"testapp"', '"nosuchapp"'), open.url);
    expect(unknown.status).toBe(404);
    expect((unknown.body.error as { reason: string }).reason).toBe('NotFound');
    const badUnit = await curl(README.reservation.replace('"minutes"', '"fortnights"'), open.url);
    expect(badUnit.status).toBe(400);
    expect((badUnit.body.error as { message: string }).message).toContain('time_units');
  });

  it('without --gotel-api-anonymous needs a token allowed by RBAC', async () => {
    const refused = await curl(README.reservation.replace('"requests"', '"secured"'), secured.url);
    expect(refused.status).toBe(401);
    const token = await serviceAccountToken(admin, ns, 'gotel-client');
    const auth = `-H 'Authorization: Bearer ${token}'`;
    expect((await curl(README.reservation.replace('"requests"', '"secured"'), secured.url, auth)).status).toBe(403);
    await grant(admin, ns, 'gotel-client', ['create', 'update', 'patch', 'list', 'checkin']);
    expect((await curl(README.reservation.replace('"requests"', '"secured"'), secured.url, auth)).status).toBe(201);
    expect((await curl(README.checkin.replace('"requests"', '"secured"'), secured.url, auth)).status).toBe(200);
    expect((await curl(README.checkin.replace('"requests"', '"secured"'), secured.url)).status).toBe(401);
    expect((await curl(README.list, secured.url, auth)).status).toBe(200);
    // Unknown and existing answer alike without valid credentials; a caller allowed to check in learns it is unknown.
    const unknown = README.checkin.replace('"requests"', '"missing"');
    const existing = await curl(README.checkin.replace('"requests"', '"secured"'), secured.url, "-H 'Authorization: Bearer wrong'");
    const missing = await curl(unknown, secured.url, "-H 'Authorization: Bearer wrong'");
    expect(missing.status).toBe(401);
    expect(JSON.stringify(missing.body).replaceAll('missing', '<name>')).toBe(JSON.stringify(existing.body).replaceAll('secured', '<name>'));
    expect((await curl(unknown, secured.url, auth)).status).toBe(404);
  });
});
