// Per-Reservation metrics scraped from a real operator's /metrics, and the chart's Prometheus
// rules and Grafana dashboard checked against them: every expression parses (Prometheus' own
// PromQL grammar, @prometheus-io/lezer-promql) and names only metrics the operator exports (the
// Peer metrics by name). When promtool is in the cache (see README "Metrics"), it checks the rules
// and lints the scraped /metrics as well.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parser } from '@prometheus-io/lezer-promql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { STATES } from '../../src/api/reservation.ts';
import { reservationPath } from '../../src/k8s/status-writer.ts';
import { silentLogger } from '../../src/log.ts';
import { createMetrics } from '../../src/metrics.ts';
import { toOperatorConfig } from '../../src/operator/config.ts';
import { Operator } from '../../src/operator/operator.ts';
import { eventually, freshNamespace, kubeConfig } from './helpers.ts';
import { rest } from './operator-harness.ts';
import { holdLeaderLease, reservationsInEveryState, statusFor } from './status-fixtures.ts';

const CHART_FILES = join(import.meta.dirname, '..', '..', 'charts', 'gotel', 'files');
/** Exported by the peer watch (src/ha), which runs only where Peers are configured. */
const PEER_METRICS = ['gotel_peer_up', 'gotel_peer_last_seen_seconds'];
/** What promtool says of prom-client's default Node.js metrics (not GoTel's to rename). */
const PROM_CLIENT_LINT = /^gotel_process_nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/;

let ns: string;
let operator: Operator;
let scraped: string;

async function scrape(): Promise<string> {
  const res = await fetch(`${operator.metricsUrl}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

/** Metric names a scrape offers: every family's name, and a histogram's or summary's series names. */
function exportedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m as unknown as [string, string, string];
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
  }
  return names;
}

/** Parses PromQL; throws naming the expression on a syntax error; returns the metric names it selects. */
function metricsOf(expr: string): string[] {
  const tree = parser.parse(expr);
  const names: string[] = [];
  let error: number | undefined;
  tree.iterate({
    enter(node) {
      if (node.type.isError && error === undefined) error = node.from;
      if (node.name === 'VectorSelector') {
        const id = node.node.getChild('Identifier');
        if (id) names.push(expr.slice(id.from, id.to));
      }
    },
  });
  if (error !== undefined) throw new Error(`PromQL syntax error at ${error} in: ${expr}`);
  return names;
}

/** Grafana's variables replaced by what they stand for, so the query is plain PromQL. */
const grafanaToPromql = (expr: string): string => expr.replace(/\$__rate_interval|\$__interval|\$__range/g, '5m').replace(/\$\{?namespace\}?/g, '.*');

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
}

const rules = (): Rule[] => (parseYaml(readFileSync(join(CHART_FILES, 'prometheus-rules.yaml'), 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

interface Panel {
  title: string;
  targets?: { expr: string }[];
  panels?: Panel[];
}

function dashboardQueries(): { where: string; expr: string }[] {
  const d = JSON.parse(readFileSync(join(CHART_FILES, 'grafana-dashboard.json'), 'utf8')) as { panels: Panel[]; templating: { list: { name: string; query?: { query?: string } | string }[] } };
  const out: { where: string; expr: string }[] = [];
  const walk = (ps: Panel[]): void => {
    for (const p of ps) {
      for (const t of p.targets ?? []) out.push({ where: `panel "${p.title}"`, expr: grafanaToPromql(t.expr) });
      walk(p.panels ?? []);
    }
  };
  walk(d.panels);
  for (const v of d.templating.list) {
    const q = typeof v.query === 'string' ? v.query : v.query?.query;
    const m = q ? /^label_values\((.+),\s*\w+\)$/.exec(q) : null;
    if (m) out.push({ where: `variable $${v.name}`, expr: m[1]! });
  }
  return out;
}

function promtool(): string | undefined {
  const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'gotel');
  if (!existsSync(cache)) return undefined;
  const dir = readdirSync(cache).filter((d) => d.startsWith('promtool-')).sort().pop();
  const bin = dir ? join(cache, dir, 'promtool') : undefined;
  return bin && existsSync(bin) ? bin : undefined;
}

beforeAll(async () => {
  ns = await freshNamespace('metrics');
  await holdLeaderLease(ns);
  await reservationsInEveryState([ns, ns]);
  // As `gotel operator` builds it: with the process metrics (gotel_process_*) the dashboard uses.
  const config = { ...toOperatorConfig({ listen: '127.0.0.1:0', namespaces: ns, leaderElectionNamespace: ns }), identity: `metrics-${ns}` };
  operator = new Operator(config, kubeConfig(), createMetrics(), silentLogger);
  await operator.start();
  await eventually(() => Promise.resolve(operator.reservations.list().filter((r) => r.status?.state).length === STATES.length), 20_000, 'every state in the cache');
  scraped = await scrape();
});
afterAll(async () => {
  await operator?.stop();
});

describe('per-Reservation metrics', () => {
  const sample = (text: string, metric: string, labels: string): number | undefined => {
    const line = text.split('\n').find((l) => l.startsWith(`${metric}{${labels}}`));
    return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
  };

  it('exports up, state, timestamps and the next deadline for each Reservation', () => {
    const now = Date.now() / 1000;
    expect(sample(scraped, 'gotel_reservation_up', `namespace="${ns}",name="healthy"`)).toBe(1);
    expect(sample(scraped, 'gotel_reservation_up', `namespace="${ns}",name="missed"`)).toBe(0);
    expect(sample(scraped, 'gotel_reservation_up', `namespace="${ns}",name="suspended"`)).toBe(1);
    expect(sample(scraped, 'gotel_reservation_state', `namespace="${ns}",name="overrun",state="Overrun"`)).toBe(1);
    expect(scraped.match(new RegExp(`^gotel_reservation_state\\{namespace="${ns}",name="overrun"`, 'gm'))?.length).toBe(1);
    expect(sample(scraped, 'gotel_reservation_alerting', `namespace="${ns}",name="failed"`)).toBe(1);
    const success = sample(scraped, 'gotel_reservation_last_success_timestamp_seconds', `namespace="${ns}",name="healthy"`)!;
    expect(Math.abs(now - 67 * 60 - success)).toBeLessThan(120);
    const checkin = sample(scraped, 'gotel_reservation_last_checkin_timestamp_seconds', `namespace="${ns}",name="healthy"`)!;
    expect(Math.abs(now - 7 * 60 - checkin)).toBeLessThan(120);
    const deadline = sample(scraped, 'gotel_reservation_next_deadline_timestamp_seconds', `namespace="${ns}",name="running"`)!;
    expect(Math.abs(now + 23 * 60 - deadline)).toBeLessThan(120);
    expect(sample(scraped, 'gotel_reservation_last_failure_timestamp_seconds', `namespace="${ns}",name="healthy"`)).toBeUndefined();
    expect(scraped.match(/^gotel_reservation_up\{/gm)?.length).toBe(STATES.length);
  });

  it('passes promtool check metrics when promtool is in the cache (naming, units, help)', () => {
    const bin = promtool();
    const lint = bin ? spawnSync(bin, ['check', 'metrics'], { input: scraped, encoding: 'utf8' }) : undefined;
    // prom-client's own default metrics name three gauges *_total; nothing of GoTel's may appear.
    const problems = (lint ? `${lint.stdout}${lint.stderr}` : '').split('\n').filter((l) => l.trim() !== '' && !PROM_CLIENT_LINT.test(l));
    expect(problems).toEqual([]);
    // Without promtool, the same basic rules by hand: every family has HELP and TYPE, counters end in _total.
    for (const m of scraped.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      expect(scraped).toContain(`# HELP ${m[1]} `);
      if (m[2] === 'counter') expect(m[1]).toMatch(/_total$/);
    }
  });

  it('follows status changes and forgets a deleted Reservation at the next scrape', async () => {
    await rest.request({ method: 'PATCH', path: `${reservationPath(ns, 'late')}/status`, body: { status: { ...statusFor('Healthy') } }, contentType: 'application/merge-patch+json' });
    await rest.request({ method: 'DELETE', path: reservationPath(ns, 'pending') });
    const after = await eventually(async () => {
      const text = await scrape();
      return !text.includes(`name="pending"`) && sample(text, 'gotel_reservation_up', `namespace="${ns}",name="late"`) === 1 ? text : undefined;
    });
    expect(sample(after, 'gotel_reservation_state', `namespace="${ns}",name="late",state="Healthy"`)).toBe(1);
    expect(after).not.toContain(`name="late",state="Late"`);
  });
});

describe('the chart\'s Prometheus rules and Grafana dashboard', () => {
  const known = (): Set<string> => new Set([...exportedNames(scraped), ...PEER_METRICS]);

  it('every rule expression parses and names only metrics the operator exports', () => {
    const all = rules();
    expect(all.map((r) => r.alert)).toEqual(expect.arrayContaining(['GoTelWithoutLeader', 'GoTelAlertDeliveryFailing', 'GoTelPeerDown', 'GoTelCheckinErrors', 'GoTelReservationDown']));
    for (const r of all) {
      const names = metricsOf(r.expr);
      expect(names.length, `${r.alert} selects a metric`).toBeGreaterThan(0);
      for (const n of names) expect(known(), `${r.alert}: ${n}`).toContain(n);
    }
    // promtool, when built into the cache, checks the rules as Prometheus loads them (templates too).
    const bin = promtool();
    if (bin) execFileSync(bin, ['check', 'rules', join(CHART_FILES, 'prometheus-rules.yaml')], { stdio: 'pipe' });
  });

  it('every dashboard query parses and names only metrics the operator exports', () => {
    const queries = dashboardQueries();
    expect(queries.length).toBeGreaterThan(15);
    for (const q of queries) for (const n of metricsOf(q.expr)) expect(known(), `${q.where}: ${n}`).toContain(n);
  });

  it('the checks can fail: a syntax error and an unknown metric are caught', () => {
    expect(() => metricsOf('sum by (namespace (gotel_leader)')).toThrow(/syntax error/);
    expect(known()).not.toContain(metricsOf('rate(gotel_no_such_metric_total[5m])')[0]);
  });
});
