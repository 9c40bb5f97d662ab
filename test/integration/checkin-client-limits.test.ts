// Per-client limits: a noisy client over its limit gets 429 (Retry-After, a JSON body) while other
// clients' check-ins are still accepted and stored. Real ServiceAccount tokens (TokenReview) on
// the test apiserver; every client here comes from 127.0.0.1, so tokens tell them apart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeRest } from '../../src/k8s/rest.ts';
import { createMetrics, type Metrics } from '../../src/metrics.ts';
import { createReservation, getReservation, grant, serviceAccountToken, startCheckinServer, type CheckinServer } from './checkin-helpers.ts';
import { freshNamespace, kubeConfig } from './helpers.ts';

const kc = kubeConfig();
const admin = new KubeRest(kc);
let ns: string;
let server: CheckinServer;
let metrics: Metrics;
const tokens: Record<string, string> = {};

async function post(name: string, token?: string): Promise<{ status: number; retryAfter: string | null; body: { error?: { reason: string; message: string } } }> {
  const res = await fetch(`${server.url}/checkin/${ns}/${name}`, { method: 'POST', headers: token ? { Authorization: `Bearer ${token}` } : {} });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as { error?: { reason: string; message: string } } };
}

async function throttled(by: string): Promise<number> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === 'gotel_checkins_throttled_total');
  return (metric?.values)?.find((v) => v.labels.by === by)?.value ?? 0;
}

beforeAll(async () => {
  ns = await freshNamespace('client-limits');
  metrics = createMetrics({ defaultMetrics: false });
  // 5 at once per client, refilled so slowly that the test never sees a refill.
  server = await startCheckinServer(kc, { metrics, rateLimit: false, clientLimits: { perSecond: 0.001, burst: 5 } });
  await createReservation(admin, ns, 'shared', { every: '5m' });
  await createReservation(admin, ns, 'open', { every: '5m', anonymous: true });
  for (const sa of ['noisy', 'quiet', 'late']) {
    tokens[sa] = await serviceAccountToken(admin, ns, sa);
    await grant(admin, ns, sa, ['checkin']);
  }
});
afterAll(async () => {
  await server.close();
  admin.close();
});

describe('per-client limits', () => {
  it('refuse a noisy client with 429 while another client still checks in', { timeout: 60_000 }, async () => {
    const noisy: number[] = [];
    for (let i = 0; i < 20; i++) noisy.push((await post('shared', tokens.noisy)).status);
    // Its first check-in is charged to its address (the token was not known yet), then 5 to its token.
    expect(noisy.filter((s) => s === 200)).toHaveLength(6);
    expect(noisy.filter((s) => s === 429)).toHaveLength(14);
    const refused = await post('shared', tokens.noisy);
    expect(refused.status).toBe(429);
    expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(refused.body.error?.reason).toBe('ClientRateLimited');
    expect(refused.body.error?.message).toMatch(/too many check-ins from this client.*retry after \d+s/);

    // Meanwhile another client, from the same address, with its own token: accepted.
    for (let i = 0; i < 4; i++) expect((await post('shared', tokens.quiet)).status).toBe(200);
    // And an anonymous one.
    expect((await post('open')).status).toBe(200);
    expect((await getReservation(admin, ns, 'shared')).status?.checkins).toBe(6 + 4);
    expect(await throttled('token')).toBe(15);
    expect(await throttled('address')).toBe(0);
  });

  it('a noisy anonymous client does not lock out a token from its address', { timeout: 60_000 }, async () => {
    const anonymous: number[] = [];
    for (let i = 0; i < 8; i++) anonymous.push((await post('open')).status);
    // One of its 5 went in the test before.
    expect(anonymous.filter((s) => s === 200)).toHaveLength(4);
    expect(anonymous.filter((s) => s === 429)).toHaveLength(4);
    expect(await throttled('address')).toBe(4);
    // A token new to GoTel, from the same address, still gets in (and from then on has its own bucket).
    expect((await post('shared', tokens.late)).status).toBe(200);
    expect((await post('shared', tokens.late)).status).toBe(200);
    // Other paths are not limited.
    expect((await fetch(`${server.url}/nowhere`)).status).toBe(404);
  });
});
