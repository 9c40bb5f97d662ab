// Runs the real CLI: `node src/cli/main.ts next ...` on the project's Node 24.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('../../../', import.meta.url).pathname;
const node = join(root, 'node_modules/.bin/node');

function gotel(...args: string[]) {
  const r = spawnSync(node, [join(root, 'src/cli/main.ts'), 'next', ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, TZ: 'America/Los_Angeles' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

// Each case starts Node (seconds on a loaded machine), some twice: more than the default 5 s.
describe('gotel next', { timeout: 60_000 }, () => {
  it('--output rfc3339 prints one UTC instant a line and nothing else (spring forward in Berlin)', () => {
    const r = gotel('--schedule', '30 2 * * *', '--time-zone', 'Europe/Berlin', '--from', '2026-03-27T12:00:00Z', '-n', '2', '--output', 'rfc3339');
    expect(r).toEqual({ code: 0, stdout: '2026-03-28T01:30:00Z\n2026-03-30T00:30:00Z\n', stderr: '' });
  });

  it('fall back in Berlin and Lord Howe\'s half hour', () => {
    expect(gotel('--schedule', '30 2 * * *', '--time-zone', 'Europe/Berlin', '--from', '2026-10-23T12:00:00Z', '-n', '3', '--output', 'rfc3339').stdout).toBe(
      '2026-10-24T00:30:00Z\n2026-10-25T00:30:00Z\n2026-10-26T01:30:00Z\n',
    );
    expect(gotel('--schedule', '0 0 * * *', '--time-zone', 'Australia/Lord_Howe', '--from', '2026-10-02T00:00:00Z', '-n', '4', '--output', 'rfc3339').stdout).toBe(
      '2026-10-02T13:30:00Z\n2026-10-03T13:30:00Z\n2026-10-04T13:00:00Z\n2026-10-05T13:00:00Z\n',
    );
  });

  it('defaults to 5 times in a readable table: local time in the zone, UTC, time from the start', () => {
    const r = gotel('--schedule', '*/5 * * * *', '--time-zone', 'Asia/Kathmandu', '--from', '2026-01-01T00:00:00Z');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('schedule "*/5 * * * *" in Asia/Kathmandu, from 2026-01-01T00:00:00Z');
    expect(lines[1]).toMatch(/^#\s+LOCAL \(Asia\/Kathmandu\)\s+UTC\s+AFTER --from$/);
    expect(lines).toHaveLength(7);
    expect(lines[2]).toMatch(/^1\s+Thu 2026-01-01 05:50:00 \+05:45\s+2026-01-01T00:05:00Z\s+\+5m$/);
    expect(lines[6]).toMatch(/^5\s+Thu 2026-01-01 06:10:00 \+05:45\s+2026-01-01T00:25:00Z\s+\+25m$/);
  });

  it('prints the CronJob controller\'s times for a stepped day-of-month with a weekday list', () => {
    // robfig/cron v3 (TZ=Europe/Berlin): a step above 1 makes day-of-month restricted, so a day
    // matches when it is odd OR a Monday or Friday (Vixie cron would take odd Mondays/Fridays).
    const r = gotel('--schedule', '0 9 */2 * MON,FRI', '--time-zone', 'Europe/Berlin', '--from', '2026-06-01T00:00:00Z', '-n', '6', '--output', 'rfc3339');
    expect(r).toEqual({
      code: 0,
      stdout: ['2026-06-01T07:00:00Z', '2026-06-03T07:00:00Z', '2026-06-05T07:00:00Z', '2026-06-07T07:00:00Z', '2026-06-08T07:00:00Z', '2026-06-09T07:00:00Z', ''].join('\n'),
      stderr: '',
    });
  });

  it('--schedule "@every 90m" (a CronJob takes it) previews a fixed period', () => {
    expect(gotel('--schedule', '@every 90m', '--from', '2026-01-01T00:00:00Z', '-n', '2', '--output', 'rfc3339').stdout).toBe('2026-01-01T01:30:00Z\n2026-01-01T03:00:00Z\n');
  });

  it('--every previews a fixed period', () => {
    expect(gotel('--every', '90m', '--from', '2026-01-01T00:00:00Z', '-n', '2', '--output', 'rfc3339').stdout).toBe('2026-01-01T01:30:00Z\n2026-01-01T03:00:00Z\n');
  });

  it('reads the schedule from a Reservation manifest with -f', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gotel-next-'));
    const file = join(dir, 'r.yaml');
    writeFileSync(
      file,
      ['apiVersion: v1', 'kind: ConfigMap', 'metadata: {name: x}', '---', 'apiVersion: gotel.io/v1alpha1', 'kind: Reservation', 'metadata: {name: nightly}', 'spec:', '  schedule: "0 * * * *"', '  timeZone: America/New_York', ''].join('\n'),
    );
    try {
      expect(gotel('-f', file, '--from', '2026-11-01T03:30:00Z', '-n', '3', '--output', 'rfc3339').stdout).toBe('2026-11-01T04:00:00Z\n2026-11-01T05:00:00Z\n2026-11-01T07:00:00Z\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    [['--schedule', '0 0 * * *', '--time-zone', 'Mars/Phobos'], 'gotel next: --time-zone: unknown time zone "Mars/Phobos"\n'],
    [['--schedule', '0 0 * * 7'], 'gotel next: --schedule: day-of-week field "7": 7 is out of range 0-6\n'],
    [['--schedule', 'every day'], 'gotel next: --schedule: "every day" has 2 fields, expected 5 (minute hour day-of-month month day-of-week)\n'],
    [['--every', '1d'], 'gotel next: --every: invalid duration "1d": unknown unit "d" (Go durations have no days: use h, e.g. "24h")\n'],
    [['--schedule', '@daily', '--from', 'yesterday'], 'gotel next: --from: "yesterday" is not an RFC 3339 instant such as 2026-03-28T01:30:00Z\n'],
    [['--schedule', '@daily', '--every', '5m'], 'gotel next: give exactly one of --schedule EXPR, --every DURATION, -f FILE\n'],
    [['--schedule', '@daily', '-n', '0'], 'gotel next: -n must be a whole number from 1 to 10000, got "0"\n'],
    [['-f', '/nonexistent/r.yaml'], 'gotel next: cannot read /nonexistent/r.yaml: ENOENT\n'],
  ])('%j exits 2 with one line naming the problem', (args, message) => {
    expect(gotel(...args)).toEqual({ code: 2, stdout: '', stderr: message });
  });

  it('defaults --from to now: the first time is in the future', () => {
    const r = gotel('--schedule', '* * * * *', '-n', '1', '--output', 'rfc3339');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:00Z\n$/);
  });
});
