// Snoozing for a while (`gotel snooze --for 2h`, `POST /snooze/{namespace}/{name}?for=2h`): the
// instant spec.snoozeUntil gets. Pure, so the CLI and the HTTP route refuse the same durations
// with the same words.
import { parseDuration } from './duration.ts';
import { ScheduleError } from './errors.ts';

/** A snooze longer than this is a mistake or a suspend (spec.suspend says it better). */
export const MAX_SNOOZE_MS = 366 * 24 * 3_600_000;

export class SnoozeDurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SnoozeDurationError';
  }
}

/** `now + duration` as RFC 3339 in UTC (whole seconds, rounded up); throws SnoozeDurationError. */
export function snoozeUntil(duration: string, now: Date): string {
  let ms: number;
  try {
    ms = parseDuration(duration, 'for');
  } catch (err) {
    throw new SnoozeDurationError(`${err instanceof ScheduleError ? err.detail : String(err)} (for example 30m, 2h or 1h30m)`);
  }
  if (!(ms > 0)) throw new SnoozeDurationError(`invalid duration "${duration}": a snooze must last longer than 0s`);
  if (ms > MAX_SNOOZE_MS) throw new SnoozeDurationError(`invalid duration "${duration}": at most 8784h (366 days); to stop watching for good, suspend the Reservation`);
  const until = Math.ceil((now.getTime() + ms) / 1000) * 1000;
  return new Date(until).toISOString().replace(/\.000Z$/, 'Z');
}
