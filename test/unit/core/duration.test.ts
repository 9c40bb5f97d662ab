import { describe, expect, it } from 'vitest';
import { formatDuration, humanizeDuration, parseDuration } from '../../../src/core/index.ts';

describe('Go durations', () => {
  it.each([
    ['0', 0],
    ['90s', 90_000],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['1.5h', 5_400_000],
    ['500ms', 500],
    ['2h45m30.5s', 9_930_500],
    ['1500us', 1.5],
    ['1µs', 0.001],
    ['-1m', -60_000],
    ['.5s', 500],
  ])('parses %s', (text, value) => {
    expect(parseDuration(text)).toBeCloseTo(value, 9);
  });

  it.each(['', '5', '5x', '1d', 'h', 'm5', '1h 30m', '--1s'])('refuses %j', (text) => {
    expect(() => parseDuration(text, 'spec.grace')).toThrow(/^spec\.grace: /);
  });

  it.each([
    [0, '0s'],
    [500, '500ms'],
    [90_000, '1m30s'],
    [5_400_000, '1h30m'],
    [93_784_000, '26h3m4s'],
    [1_500, '1.5s'],
  ])('formats %d as %s, which parses back', (value, text) => {
    expect(formatDuration(value)).toBe(text);
    expect(parseDuration(text)).toBe(value);
  });

  it.each([
    [0, '0s'],
    [45_000, '45s'],
    [725_000, '12m 5s'],
    [3_600_000, '1h'],
    [273_600_000, '3d 4h'],
    [86_400_000 + 60_000, '1d'],
  ])('humanizes %d as %s', (value, text) => {
    expect(humanizeDuration(value)).toBe(text);
  });
});
