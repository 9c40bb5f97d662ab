// Wake-ups at deadlines: one timer per Reservation, armed for the instant its evaluation says it
// must be looked at again. No polling loop: when a deadline passes, its timer enqueues the key.
// setTimeout overflows past 2^31-1 ms (~24.8 days); longer waits are clamped and simply re-armed
// by the reconcile they trigger.
export const MAX_TIMER_MS = 2 ** 31 - 1 - 1000;

export class Wakeups {
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly fire: (key: string) => void;
  private readonly now: () => number;

  constructor(fire: (key: string) => void, now: () => number = Date.now) {
    this.fire = fire;
    this.now = now;
  }

  /** Arms (or re-arms) the key's timer for `at`; `null` cancels it. */
  arm(key: string, at: Date | null): void {
    const existing = this.timers.get(key);
    if (at === null) {
      if (existing) clearTimeout(existing.timer);
      this.timers.delete(key);
      return;
    }
    const when = at.getTime();
    if (existing?.at === when) return;
    if (existing) clearTimeout(existing.timer);
    const delay = Math.min(Math.max(0, when - this.now()), MAX_TIMER_MS);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.fire(key);
    }, delay);
    this.timers.set(key, { at: when, timer });
  }

  get size(): number {
    return this.timers.size;
  }

  clear(): void {
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}
