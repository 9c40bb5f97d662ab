// The status page's pure parts: rows and their order, filters, badges, the HTML (escaped), the
// visibility flags, and the router refusing everything when turned off.
import { KubeConfig } from '@kubernetes/client-node';
import express from 'express';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { API_VERSION, KIND, STATES, type Reservation, type ReservationStatus, type State } from '../../../src/api/reservation.ts';
import { KubeRest } from '../../../src/k8s/rest.ts';
import { ConfigError } from '../../../src/operator/config.ts';
import { badgeSvg, namespaceBadge, reservationBadge, shieldsJson, stateColor } from '../../../src/status/badge.ts';
import { statusConfig } from '../../../src/status/config.ts';
import { FAILING_STATES, buildModel, humanDuration, parseFilter, peerRowOf, rowOf } from '../../../src/status/model.ts';
import { renderStatusPage } from '../../../src/status/page.ts';
import { createStatusRouter } from '../../../src/status/router.ts';

const NOW = new Date('2026-12-01T12:00:00Z');

function rsv(namespace: string, name: string, status?: ReservationStatus): Reservation {
  return { apiVersion: API_VERSION, kind: KIND, metadata: { namespace, name }, spec: { every: '5m' }, ...(status ? { status } : {}) };
}

const inState = (state: State, namespace = 'a', name = state.toLowerCase()): Reservation => rsv(namespace, name, { state });

describe('status model', () => {
  it('puts failing Reservations first, worst first, then by namespace and name', () => {
    const list = [inState('Healthy', 'b'), inState('Late'), inState('Pending', 'a'), inState('Missed', 'z'), inState('Failed', 'a'), rsv('a', 'fresh')];
    const rows = buildModel(list, NOW, {}).rows.map((r) => `${r.state}:${r.namespace}/${r.name}`);
    expect(rows).toEqual(['Missed:z/missed', 'Failed:a/failed', 'Late:a/late', 'Pending:a/fresh', 'Pending:a/pending', 'Healthy:b/healthy']);
  });

  it('computes time since the last check-in and time to the next deadline', () => {
    const row = rowOf(rsv('a', 'x', { state: 'Running', lastCheckin: { time: '2026-12-01T11:53:00Z', signal: 'start' }, deadline: '2026-12-01T12:30:00Z', nextExpectedTime: '2026-12-01T13:00:00Z' }), NOW);
    expect(row.secondsSinceCheckin).toBe(420);
    expect(row.nextDeadline).toBe('2026-12-01T12:30:00Z');
    expect(row.secondsToDeadline).toBe(1800);
    expect(humanDuration(420)).toBe('7m');
    expect(humanDuration(3 * 3600 + 5 * 60)).toBe('3h 5m');
    expect(humanDuration(2 * 86400 + 4 * 3600)).toBe('2d 4h');
  });

  it('filters by namespace and state (or failing), and refuses a state that does not exist', () => {
    const list = STATES.map((s, i) => inState(s, i % 2 ? 'b' : 'a'));
    expect(buildModel(list, NOW, parseFilter({ state: 'failing' })).rows.every((r) => FAILING_STATES.has(r.state))).toBe(true);
    expect(buildModel(list, NOW, parseFilter({ state: 'Snoozed' })).rows.map((r) => r.state)).toEqual(['Snoozed']);
    expect(new Set(buildModel(list, NOW, parseFilter({ namespace: 'b' })).rows.map((r) => r.namespace))).toEqual(new Set(['b']));
    expect(buildModel(list, NOW, parseFilter({ namespace: 'b' })).total).toBe(STATES.length);
    expect(() => parseFilter({ state: 'Sleeping' })).toThrow(/Sleeping/);
  });

  it('shows at most maxRows rows, failing ones first, and says how many it left out', () => {
    const list = [...Array.from({ length: 5 }, (_, i) => inState('Healthy', 'a', `ok-${i}`)), inState('Missed', 'z')];
    const m = buildModel(list, NOW, {}, undefined, 2);
    expect(m.rows.map((r) => r.name)).toEqual(['missed', 'ok-0']);
    expect(m.matching).toBe(6);
    expect(renderStatusPage(m)).toContain('Showing the first 2 of 6');
  });

  it('reads a Peer defensively', () => {
    expect(peerRowOf({ metadata: { name: 'east' }, status: { state: 'Stale', lastSeenTime: '2026-12-01T11:58:00Z', peerClusterName: 'east-1' } }, NOW)).toEqual({
      name: 'east',
      state: 'Stale',
      cluster: 'east-1',
      lastSeenTime: '2026-12-01T11:58:00Z',
      secondsSinceSeen: 120,
    });
    expect(peerRowOf({ metadata: { name: 'new' } }, NOW)).toEqual({ name: 'new', state: 'Pending' });
    expect(peerRowOf({}, NOW)).toBeUndefined();
  });
});

describe('badges', () => {
  it('colour each state as Shields would', () => {
    expect(stateColor('Healthy')).toBe('brightgreen');
    expect(stateColor('Missed')).toBe('red');
    expect(stateColor('Suspended')).toBe('lightgrey');
    expect(shieldsJson(reservationBadge(inState('Overrun')))).toEqual({ schemaVersion: 1, label: 'overrun', message: 'Overrun', color: 'orange' });
  });

  it('sum up a namespace by its worst failing Reservation', () => {
    expect(namespaceBadge('a', [inState('Healthy'), inState('Late'), inState('Missed')])).toEqual({ label: 'a', message: '2 of 3 failing', color: 'red' });
    expect(namespaceBadge('a', [inState('Healthy'), inState('Running')])).toEqual({ label: 'a', message: '2 ok', color: 'brightgreen' });
    expect(namespaceBadge('a', []).message).toBe('no reservations');
  });

  it('draw an SVG whose text is escaped and whose boxes fit the text', () => {
    const svg = badgeSvg({ label: '<x&y>', message: 'Healthy', color: 'brightgreen' });
    expect(svg).toContain('&lt;x&amp;y&gt;');
    expect(svg).not.toContain('<x&y>');
    const width = (s: string): number => Number(/^<svg[^>]* width="(\d+)"/.exec(s)![1]);
    expect(width(badgeSvg({ label: 'a-much-longer-reservation-name', message: 'Healthy', color: 'brightgreen' }))).toBeGreaterThan(width(svg));
  });
});

describe('status page HTML', () => {
  it('escapes what comes from the cluster and says so when there are no Peers', () => {
    const evil = rsv('a', 'x', { state: 'Failed', conditions: [{ type: 'Healthy', status: 'False', reason: 'Failed', message: '<script>alert(1)</script>', lastTransitionTime: NOW.toISOString() }] });
    const html = renderStatusPage(buildModel([evil], NOW, {}));
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;');
    expect(html).toMatch(/<p class="muted" id="peers">none<\/p>/);
    expect(html).toContain('<meta name="viewport" content="width=device-width,initial-scale=1">');
  });

  it('lists Peers and their state', () => {
    const html = renderStatusPage(buildModel([], NOW, {}, [{ name: 'east', state: 'Unreachable', cluster: 'east-1' }]));
    expect(html).toContain('data-peer="east"');
    expect(html).toContain('>Unreachable</span>');
  });
});

describe('--status-page and --badges', () => {
  it('default to authenticated; badges follow the page unless set', () => {
    expect(statusConfig({})).toEqual({ page: 'authenticated', badges: 'authenticated' });
    expect(statusConfig({ statusPage: 'public' })).toEqual({ page: 'public', badges: 'public' });
    expect(statusConfig({ statusPage: 'off', badges: 'public' })).toEqual({ page: 'off', badges: 'public' });
    expect(() => statusConfig({ statusPage: 'open' })).toThrow(ConfigError);
    expect(() => statusConfig({ badges: 'yes' })).toThrow(/--badges: "yes" is not one of off, authenticated, public/);
  });

  it('off: /status and /badge answer a JSON 404 and touch no apiserver', async () => {
    const kc = new KubeConfig();
    // Nothing listens on port 9: a request to it would fail, and none must be made.
    kc.loadFromOptions({ clusters: [{ name: 'c', server: 'https://127.0.0.1:9' }], users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
    const app = express().use(createStatusRouter({ config: { page: 'off', badges: 'off' }, reservations: { list: () => [inState('Healthy')], get: () => inState('Healthy') }, rest: new KubeRest(kc), peersNamespace: 'gotel' }));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      for (const path of ['/status', '/badge/a/healthy.svg', '/badge/a.svg']) {
        const res = await fetch(url + path);
        expect(res.status).toBe(404);
        const body = (await res.json()) as { error: { reason: string; message: string } };
        expect(body.error.reason).toBe('NotFound');
        expect(body.error.message).toMatch(/turned off/);
      }
    } finally {
      server.close();
    }
  });
});
