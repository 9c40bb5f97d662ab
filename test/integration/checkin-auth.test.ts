// Who may check in: ServiceAccount tokens authorised by RBAC for the verb `checkin` on the one
// Reservation, a token from a Secret the Reservation names, or nobody-in-particular when the
// Reservation opts into anonymous check-ins. Real TokenReview and SubjectAccessReview.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeRest } from '../../src/k8s/rest.ts';
import { createReservation, createSecret, getReservation, grant, serviceAccountToken, startCheckinServer, type CheckinServer } from './checkin-helpers.ts';
import { freshNamespace, kubeConfig } from './helpers.ts';

const kc = kubeConfig();
const admin = new KubeRest(kc);
let ns: string;
let server: CheckinServer;
const tokens: Record<string, string> = {};

async function checkin(name: string, token?: string): Promise<{ status: number; body: { error?: { reason: string; message: string } } & Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${server.url}/checkin/${ns}/${name}`, { method: 'POST', headers: token === undefined ? {} : { Authorization: `Bearer ${token}` } });
  return { status: res.status, headers: res.headers, body: (await res.json()) as { error?: { reason: string; message: string } } };
}

beforeAll(async () => {
  ns = await freshNamespace('checkin-auth');
  server = await startCheckinServer(kc, { rateLimit: false });
  await createReservation(admin, ns, 'secured', { every: '5m' });
  await createReservation(admin, ns, 'other', { every: '5m' });
  await createReservation(admin, ns, 'open', { every: '5m', anonymous: true });
  await createSecret(admin, ns, 'ext-token', { token: 's3cret-token-for-ext\n' });
  await createReservation(admin, ns, 'external', { every: '5m', tokenSecretRef: { name: 'ext-token' } });
  for (const sa of ['nobody', 'other-only', 'allowed', 'namespace-wide']) tokens[sa] = await serviceAccountToken(admin, ns, sa);
  await grant(admin, ns, 'other-only', ['checkin'], ['other']);
  await grant(admin, ns, 'allowed', ['checkin'], ['secured']);
  await grant(admin, ns, 'namespace-wide', ['checkin']);
});
afterAll(async () => {
  await server.close();
  admin.close();
});

describe('check-in authentication', () => {
  it('refuses a request without a token (401, WWW-Authenticate)', async () => {
    const a = await checkin('secured');
    expect(a.status).toBe(401);
    expect(a.body.error?.reason).toBe('Unauthorized');
    expect(a.headers.get('www-authenticate')).toContain('Bearer');
  });

  it('refuses a wrong token (401) and a malformed Authorization header (401)', async () => {
    expect((await checkin('secured', 'not-a-real-token')).status).toBe(401);
    // A token-shaped token signed by no one the apiserver trusts.
    const forged = tokens.allowed!.split('.').slice(0, 2).join('.') + '.AAAA';
    expect((await checkin('secured', forged)).status).toBe(401);
    const res = await fetch(`${server.url}/checkin/${ns}/secured`, { method: 'POST', headers: { Authorization: 'Basic dXNlcjpwYXNz' } });
    expect(res.status).toBe(401);
  });

  it('refuses a ServiceAccount without the checkin verb (403) and one granted it for another Reservation (403)', async () => {
    const nobody = await checkin('secured', tokens.nobody);
    expect(nobody.status).toBe(403);
    expect(nobody.body.error?.message).toContain(`system:serviceaccount:${ns}:nobody`);
    expect(nobody.body.error?.message).toContain('checkin');
    expect((await checkin('secured', tokens['other-only'])).status).toBe(403);
    expect((await checkin('other', tokens['other-only'])).status).toBe(200);
  });

  it('accepts a ServiceAccount granted the verb on this Reservation (or on all in the namespace)', async () => {
    const a = await checkin('secured', tokens.allowed);
    expect(a.status).toBe(200);
    expect((await checkin('secured', tokens['namespace-wide'])).status).toBe(200);
    expect((await getReservation(admin, ns, 'secured')).status?.checkins).toBe(2);
  });

  it('accepts the token from the Secret the Reservation names, and only that one', async () => {
    expect((await checkin('external', 's3cret-token-for-ext')).status).toBe(200);
    expect((await checkin('external', 's3cret-token-for-exT')).status).toBe(401);
    expect((await checkin('external')).status).toBe(401);
    // The Secret's token is for that Reservation only.
    expect((await checkin('secured', 's3cret-token-for-ext')).status).toBe(401);
    // A ServiceAccount allowed on it still works beside the Secret.
    expect((await checkin('external', tokens['namespace-wide'])).status).toBe(200);
    expect((await getReservation(admin, ns, 'external')).status?.checkins).toBe(2);
  });

  it('answers an unknown Reservation exactly as an existing one without valid credentials: no name leaks', async () => {
    // "missing" has as many letters as "secured": the answers may differ in the name they echo, nothing else.
    const answer = async (name: string, authorization?: string): Promise<string> => {
      const res = await fetch(`${server.url}/checkin/${ns}/${name}`, { method: 'POST', headers: authorization === undefined ? {} : { Authorization: authorization } });
      const headers = ['content-type', 'content-length', 'www-authenticate', 'retry-after'].map((h) => `${h}: ${res.headers.get(h)}`);
      return [res.status, ...headers, (await res.text()).replaceAll(name, '<name>')].join('\n');
    };
    const forged = tokens.allowed!.split('.').slice(0, 2).join('.') + '.AAAA';
    for (const authorization of [undefined, 'Bearer not-a-real-token', `Bearer ${forged}`, 'Basic dXNlcjpwYXNz', 'Bearer s3cret-token-for-ext']) {
      const existing = await answer('secured', authorization);
      expect(existing, String(authorization)).toMatch(/^401\n/);
      expect(await answer('missing', authorization), String(authorization)).toBe(existing);
    }
    // A valid token RBAC does not let check in there: the 403 an existing Reservation gives.
    const denied = await answer('secured', `Bearer ${tokens.nobody}`);
    expect(denied).toMatch(/^403\n/);
    expect(await answer('missing', `Bearer ${tokens.nobody}`)).toBe(denied);
    expect((await checkin('missing', tokens.allowed)).status).toBe(403); // allowed on "secured" only
    // Only a caller allowed to check in there learns that it does not exist.
    const notFound = await checkin('missing', tokens['namespace-wide']);
    expect(notFound.status).toBe(404);
    expect(notFound.body.error).toEqual({ reason: 'NotFound', message: `Reservation ${ns}/missing not found` });
  });

  it('accepts anything for a Reservation that opted into anonymous check-ins', async () => {
    expect((await checkin('open')).status).toBe(200);
    expect((await getReservation(admin, ns, 'open')).status?.checkins).toBe(1);
  });
});
