// Knowing when the apiserver is back, cheaply. While it is away, every informer would otherwise
// retry its own list on a backoff that grows to its cap (30 s), so a short outage costs up to half
// a minute of blindness after the apiserver returns. Instead, an informer whose request failed as
// if the apiserver were unreachable waits on this probe as well as on its backoff: one GET /readyz
// (public to any client under default RBAC) at a short, capped interval for the whole process, and
// every waiter wakes as soon as it answers 200. Probing runs only while someone waits.
import { backoffDelay } from '../util/backoff.ts';
import type { KubeRest } from './rest.ts';

/** /readyz is asked at most this often, and at least this often once it has failed a while. */
const PROBE_BACKOFF = { initialMs: 250, maxMs: 1_000 };
const PROBE_TIMEOUT_MS = 2_000;

export class ApiserverProbe {
  private readonly rest: KubeRest;
  /** Each waiter, and whether it still waits to see /readyz fail before it believes a 200. */
  private waiters = new Map<() => void, { untilFailed: boolean }>();
  private probing = false;

  constructor(rest: KubeRest) {
    this.rest = rest;
  }

  /**
   * Resolves when /readyz answers 200, or when `signal` aborts. With `afterFailure`, only a 200
   * that follows a failed probe counts: an apiserver that answered 5xx while ready is not "back".
   */
  whenReady(signal: AbortSignal, afterFailure = false): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        signal.removeEventListener('abort', done);
        this.waiters.delete(done);
        resolve();
      };
      signal.addEventListener('abort', done, { once: true });
      this.waiters.set(done, { untilFailed: afterFailure });
      if (!this.probing) void this.probe();
    });
  }

  private async probe(): Promise<void> {
    this.probing = true;
    try {
      for (let failures = 1; this.waiters.size > 0; failures++) {
        await new Promise((r) => setTimeout(r, backoffDelay(failures, PROBE_BACKOFF)));
        if (this.waiters.size === 0) return;
        const ready = await this.ready();
        for (const [wake, w] of [...this.waiters]) {
          if (!ready) w.untilFailed = false;
          else if (!w.untilFailed) wake();
        }
      }
    } finally {
      this.probing = false;
    }
  }

  private async ready(): Promise<boolean> {
    try {
      await this.rest.request({ method: 'GET', path: '/readyz', timeoutMs: PROBE_TIMEOUT_MS, pool: 'probe' });
      return true;
    } catch {
      return false;
    }
  }
}

const probes = new WeakMap<KubeRest, ApiserverProbe>();

/** The one probe per client (so per apiserver) that all its informers share. */
export function apiserverProbe(rest: KubeRest): ApiserverProbe {
  let probe = probes.get(rest);
  if (!probe) {
    probe = new ApiserverProbe(rest);
    probes.set(rest, probe);
  }
  return probe;
}
