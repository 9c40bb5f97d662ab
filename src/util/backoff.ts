// Exponential backoff, the one rule every retry in GoTel follows: the delay doubles (by `factor`)
// with each consecutive failure from `initialMs`, is capped at `maxMs`, and may be spread by
// ±`jitter` so many retries that failed together do not come back together.

export interface BackoffOptions {
  /** The delay after the first failure. */
  initialMs: number;
  /** Upper bound. */
  maxMs: number;
  /** Growth per consecutive failure. Default 2. */
  factor?: number;
  /** Random spread, a fraction of the delay (0.1 = ±10 %). Default 0. */
  jitter?: number;
}

/** The delay before retrying after `failures` consecutive failures (1 = the first). */
export function backoffDelay(failures: number, o: BackoffOptions, random: () => number = Math.random): number {
  const base = Math.min(o.maxMs, o.initialMs * (o.factor ?? 2) ** Math.max(0, failures - 1));
  const jitter = o.jitter ?? 0;
  return jitter > 0 ? Math.round(base * (1 + jitter * (2 * random() - 1))) : base;
}
