// setTimeout overflows past 2^31-1 ms (~24.8 days) and then fires at once: every wait GoTel arms
// is clamped below it, and the reconcile it triggers simply waits again for the rest.
export const MAX_TIMER_MS = 2 ** 31 - 1 - 1000;

/** `ms` clamped to what setTimeout can wait (never negative). */
export function timerDelay(ms: number): number {
  return Math.min(Math.max(0, ms), MAX_TIMER_MS);
}
