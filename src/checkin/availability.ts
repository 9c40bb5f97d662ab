// When a check-in cannot be stored soon, its client hears so at once: 503 with Retry-After,
// instead of a request that hangs while the apiserver holds the write (it does, up to about 40 s,
// while etcd is away). Two rules, both on the HTTP check-in path only:
// - while this replica knows the apiserver cannot take writes (its /readyz probe and a read of
//   GoTel's own ConfigMap both failed: the apiserver or etcd is gone; src/operator/outage-tracker.ts),
//   a check-in is refused before anything is tried;
// - a check-in whose write has not finished within a short bound is answered 503 too. The write
//   goes on and may still be stored: the client's retry carries the same run id and counts once
//   (README, "Duplicates"). A 2xx is still only ever sent for a check-in the apiserver holds.
import { HttpError, UNAVAILABLE_RETRY_AFTER_S } from './errors.ts';

/** How long a check-in's write may take before its client is told to retry (well above a loaded p99 of ~0.3 s). */
export const ANSWER_WITHIN_MS = 5_000;

export interface CheckinAvailabilityOptions {
  /** True while GoTel knows the apiserver cannot take writes (an outage under way). */
  down: () => boolean;
  answerWithinMs?: number;
}

export class CheckinAvailability {
  private readonly o: CheckinAvailabilityOptions;

  constructor(options: CheckinAvailabilityOptions) {
    this.o = options;
  }

  /** The 503 to answer now without trying, or undefined when a write may be tried. */
  refusal(): HttpError | undefined {
    if (!this.o.down()) return undefined;
    return new HttpError(503, 'Unavailable', 'GoTel cannot store check-ins right now: the Kubernetes apiserver cannot take writes (an outage is under way); retry', {
      retryAfter: UNAVAILABLE_RETRY_AFTER_S,
    });
  }

  /** `stored`, or a 503 once the bound has passed without it (the write itself goes on). */
  bound<T>(stored: Promise<T>): Promise<T> {
    const ms = this.o.answerWithinMs ?? ANSWER_WITHIN_MS;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        reject(new HttpError(503, 'Unavailable', `the check-in was not stored within ${ms / 1000}s (the apiserver is slow or cannot reach its storage); retry with the same run id, it counts once`, { retryAfter: UNAVAILABLE_RETRY_AFTER_S }));
      }, ms);
      timer.unref();
    });
    // What the write says after the client was answered is no one's to hear.
    stored.catch(() => {});
    return Promise.race([stored, late]).finally(() => clearTimeout(timer));
  }
}
