// The status page and badges of a real operator (a standby: another replica holds the leader
// Lease), with Reservations in every state written through the apiserver, seen in headless
// Chromium (Debian's chromium, driven by playwright-core). Screenshots go to test-artifacts/.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STATES, type State } from '../../src/api/reservation.ts';
import type { Operator } from '../../src/operator/operator.ts';
import { FAILING_STATES } from '../../src/status/model.ts';
import { grant, serviceAccountToken } from './checkin-helpers.ts';
import { eventually, freshNamespace } from './helpers.ts';
import { rest, startOperator } from './operator-harness.ts';
import { holdLeaderLease, reservationsInEveryState } from './status-fixtures.ts';

const ARTIFACTS = join(import.meta.dirname, '..', '..', 'test-artifacts');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

let nsA: string;
let nsB: string;
let authenticated: Operator;
let open: Operator;
let browser: Browser;
const tokens: Record<string, string> = {};
/** Where each state's Reservation lives. */
let where: Map<State, { namespace: string; name: string }>;

async function clusterWideList(namespace: string, sa: string): Promise<void> {
  const name = `gotel-status-test-${namespace}`;
  const rbac = '/apis/rbac.authorization.k8s.io/v1';
  await rest.request({ method: 'POST', path: `${rbac}/clusterroles`, body: { metadata: { name }, rules: [{ apiGroups: ['gotel.io'], resources: ['reservations'], verbs: ['list'] }] } });
  await rest.request({
    method: 'POST',
    path: `${rbac}/clusterrolebindings`,
    body: { metadata: { name }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name }, subjects: [{ kind: 'ServiceAccount', name: sa, namespace }] },
  });
}

beforeAll(async () => {
  nsA = await freshNamespace('status-a');
  nsB = await freshNamespace('status-b');
  await holdLeaderLease(nsA);
  where = await reservationsInEveryState([nsA, nsB]);
  for (const sa of ['nobody', 'team-a', 'sre']) tokens[sa] = await serviceAccountToken(rest, nsA, sa);
  await grant(rest, nsA, 'team-a', ['list']);
  await clusterWideList(nsA, 'sre');
  const base = { namespaces: [nsA, nsB], leaderElectionNamespace: nsA };
  authenticated = await startOperator(nsA, { ...base, statusPage: { page: 'authenticated', badges: 'authenticated' } });
  open = await startOperator(nsA, { ...base, statusPage: { page: 'public', badges: 'public' } });
  // Both caches hold every state (the statuses were written before the operators started).
  for (const op of [authenticated, open]) await eventually(() => Promise.resolve(op.reservations.list().filter((r) => r.status?.state).length === STATES.length), 20_000, 'every state in the cache');
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
});

afterAll(async () => {
  await browser?.close();
  await authenticated?.stop();
  await open?.stop();
});

async function openPage(url: string, options: { token?: string; phone?: boolean } = {}): Promise<Page> {
  const context = await browser.newContext({
    viewport: options.phone ? { width: 390, height: 844 } : { width: 1280, height: 900 },
    ...(options.phone ? { deviceScaleFactor: 2, isMobile: true, hasTouch: true } : {}),
    ...(options.token ? { extraHTTPHeaders: { Authorization: `Bearer ${options.token}` } } : {}),
  });
  const page = await context.newPage();
  const res = await page.goto(url);
  expect(res?.status()).toBe(200);
  return page;
}

/** The rows' data attribute `name` in page order. */
async function column(page: Page, name: string): Promise<string[]> {
  const rows = page.locator('#reservations tbody tr');
  const out: string[] = [];
  for (let i = 0; i < (await rows.count()); i++) out.push((await rows.nth(i).getAttribute(name)) ?? '');
  return out;
}
const shownStates = (page: Page): Promise<string[]> => column(page, 'data-state');
const shownNamespaces = (page: Page): Promise<string[]> => column(page, 'data-namespace');

describe('status page', () => {
  it('shows every Reservation in every state, failing ones first, with last check-in, time since, next deadline and recent runs', async () => {
    const page = await openPage(`${open.url}/status`);
    const states = await shownStates(page);
    expect([...states].sort()).toEqual([...STATES].sort());
    const firstOk = states.findIndex((s) => !FAILING_STATES.has(s as State));
    expect(firstOk).toBe(FAILING_STATES.size);
    expect(states.slice(0, firstOk).every((s) => FAILING_STATES.has(s as State))).toBe(true);
    const missed = page.locator('tr[data-state="Missed"]');
    await expect.poll(() => missed.locator('td[data-label="Since"]').innerText()).toBe('7m ago');
    expect(await missed.locator('td[data-label="Next deadline"]').innerText()).toBe('3m ago');
    expect(await page.locator('tr[data-state="Running"] td[data-label="Next deadline"]').innerText()).toMatch(/^in 2[23]m$/);
    expect(await missed.locator('.run').count()).toBe(3);
    expect(await missed.locator('td[data-label="Last check-in"]').innerText()).toContain('(fail)');
    expect(await page.locator('#peers').innerText()).toBe('none');
    await page.screenshot({ path: join(ARTIFACTS, 'status-page-desktop.png'), fullPage: true });
  });

  it('filters by state and by namespace with the form', async () => {
    const page = await openPage(`${open.url}/status`);
    await page.selectOption('select[name="state"]', 'failing');
    await Promise.all([page.waitForURL(/state=failing/), page.click('button[type="submit"]')]);
    expect((await shownStates(page)).sort()).toEqual([...FAILING_STATES].sort());
    await page.selectOption('select[name="state"]', 'Suspended');
    await Promise.all([page.waitForURL(/state=Suspended/), page.click('button[type="submit"]')]);
    expect(await shownStates(page)).toEqual(['Suspended']);
    await page.selectOption('select[name="state"]', '');
    await page.selectOption('select[name="namespace"]', nsB);
    await Promise.all([page.waitForURL(new RegExp(`namespace=${nsB}`)), page.click('button[type="submit"]')]);
    const namespaces = await shownNamespaces(page);
    expect(namespaces.length).toBe(Math.floor(STATES.length / 2));
    expect(new Set(namespaces)).toEqual(new Set([nsB]));
  });

  it('reads on a phone: one card per Reservation, nothing wider than the screen', async () => {
    const page = await openPage(`${open.url}/status`, { phone: true });
    expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
    expect(await page.locator('thead').isVisible()).toBe(false);
    const card = await page.locator('tr[data-state="Healthy"]').boundingBox();
    expect(card!.width).toBeGreaterThan(300);
    await page.screenshot({ path: join(ARTIFACTS, 'status-page-phone.png'), fullPage: true });
  });

  it('answers a bad filter with a JSON 400', async () => {
    const res = await fetch(`${open.url}/status?state=Sleeping`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { reason: string } }).error.reason).toBe('BadFilter');
  });
});

describe('who may see the status page (--status-page=authenticated, the default)', () => {
  const get = async (path: string, token?: string): Promise<{ status: number; body: { error?: { reason: string; message: string } }; type: string }> => {
    const res = await fetch(`${authenticated.url}${path}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
    const type = res.headers.get('content-type') ?? '';
    return { status: res.status, type, body: type.includes('json') ? ((await res.json()) as { error?: { reason: string; message: string } }) : {} };
  };

  it('refuses no token and an unknown token with a JSON 401, a user without list with a JSON 403', async () => {
    const none = await get('/status');
    expect(none.status).toBe(401);
    expect(none.type).toContain('application/json');
    expect(none.body.error?.reason).toBe('Unauthorized');
    expect((await get('/status', 'not-a-token')).status).toBe(401);
    const nobody = await get('/status', tokens.nobody);
    expect(nobody.status).toBe(403);
    expect(nobody.body.error?.reason).toBe('Forbidden');
    expect(nobody.body.error?.message).toContain(`system:serviceaccount:${nsA}:nobody`);
    expect((await get(`/status?namespace=${nsB}`, tokens['team-a'])).status).toBe(403);
  });

  it('shows a user allowed to list in one namespace only that namespace, and a cluster-wide user everything', async () => {
    const team = await openPage(`${authenticated.url}/status`, { token: tokens['team-a'] });
    expect(new Set(await shownNamespaces(team))).toEqual(new Set([nsA]));
    const sre = await openPage(`${authenticated.url}/status`, { token: tokens.sre });
    expect((await shownStates(sre)).length).toBe(STATES.length);
  });

  it('badges follow the page: a JSON 401 without a token, the badge with one', async () => {
    const missed = where.get('Missed')!;
    expect(missed.namespace).toBe(nsA);
    const none = await get(`/badge/${nsA}/missed.svg`);
    expect(none.status).toBe(401);
    expect(none.body.error?.reason).toBe('Unauthorized');
    const ok = await get(`/badge/${nsA}/missed.svg`, tokens['team-a']);
    expect(ok.status).toBe(200);
    expect((await get(`/badge/${nsB}.svg`, tokens['team-a'])).status).toBe(403);
  });
});

describe('badges (--badges=public)', () => {
  it('draws one Reservation\'s state in its colour, as SVG', async () => {
    for (const [state, color] of [['Healthy', '#4c1'], ['Missed', '#e05d44'], ['Running', '#007ec6'], ['Late', '#dfb317'], ['Suspended', '#9f9f9f']] as const) {
      const r = where.get(state)!;
      const res = await fetch(`${open.url}/badge/${r.namespace}/${r.name}.svg`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
      const svg = await res.text();
      expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
      expect(svg).toContain(`>${state}</text>`);
      expect(svg).toContain(`fill="${color}"`);
      expect(svg).toContain(`aria-label="${state.toLowerCase()}: ${state}"`);
    }
  });

  it('sums up a namespace, coloured by its worst Reservation', async () => {
    const res = await fetch(`${open.url}/badge/${nsA}.svg`);
    expect(res.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
    const inA = STATES.filter((s) => where.get(s)!.namespace === nsA);
    const failing = inA.filter((s) => FAILING_STATES.has(s)).length;
    const svg = await res.text();
    expect(svg).toContain(`>${failing} of ${inA.length} failing</text>`);
    expect(svg).toContain('fill="#e05d44"');
  });

  it('answers Shields\' endpoint JSON, and a drawn 404 for an unknown Reservation', async () => {
    const res = await fetch(`${open.url}/badge/${where.get('Healthy')!.namespace}/healthy.json`);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ schemaVersion: 1, label: 'healthy', message: 'Healthy', color: 'brightgreen' });
    const labelled = (await (await fetch(`${open.url}/badge/${where.get('Failed')!.namespace}/failed.json?label=nightly`)).json()) as Record<string, unknown>;
    expect(labelled).toEqual({ schemaVersion: 1, label: 'nightly', message: 'Failed', color: 'red' });
    const missing = await fetch(`${open.url}/badge/${nsA}/healthy-nowhere.svg`);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toContain('>not found</text>');
    expect((await fetch(`${open.url}/badge/${nsA}/failed.png`)).status).toBe(404);
  });
});
