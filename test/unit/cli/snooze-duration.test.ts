// How long a snooze lasts: the rule `gotel snooze --for` and `POST /snooze/...?for=` share.
import { describe, expect, it } from 'vitest';
import { MAX_SNOOZE_MS, SnoozeDurationError, snoozeUntil } from '../../../src/core/snooze.ts';

const now = new Date('2026-12-01T21:00:00.250Z');

describe('snoozeUntil', () => {
  it.each([
    ['2h', '2026-12-01T23:00:01Z'],
    ['1h30m', '2026-12-01T22:30:01Z'],
    ['90s', '2026-12-01T21:01:31Z'],
    ['1.5h', '2026-12-01T22:30:01Z'],
    ['8784h', '2027-12-02T21:00:01Z'],
  ])('now + %s, whole seconds rounded up, in UTC', (text, want) => {
    expect(snoozeUntil(text, now)).toBe(want);
  });

  it.each([
    ['', /empty/],
    ['2', /missing unit/],
    ['1d', /no days/],
    ['0', /longer than 0s/],
    ['-1h', /longer than 0s/],
    ['8785h', /at most 8784h/],
    ['soon', /unexpected/],
  ])('refuses %j with a reason', (text, why) => {
    expect(() => snoozeUntil(text, now)).toThrow(SnoozeDurationError);
    expect(() => snoozeUntil(text, now)).toThrow(why);
  });

  it('the longest snooze is 366 days', () => {
    expect(MAX_SNOOZE_MS).toBe(366 * 86_400_000);
  });
});
