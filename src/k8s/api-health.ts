// Whether the apiserver can take writes now, as a readiness probe sees it: `GET /readyz` every
// interval (it checks etcd too, so an apiserver whose etcd is gone counts as down). Only the
// transitions are reported, with the instant of the probe that saw them. The informers and leader
// election notice trouble too, but late and each in its own way; this one signal is what the
// outage record needs (src/operator/outage-tracker.ts).
import { KubeApiError, type KubeRest } from './rest.ts';

export interface ApiHealthOptions {
  intervalMs?: number;
  timeoutMs?: number;
  now?: () => number;
  /**
   * Asked when /readyz fails: an etcd-backed read of GoTel's own. If it succeeds the apiserver
   * serves after all (a readiness check unrelated to storage failing), and it counts as up: a
   * probe that fails for the wrong reason must not hold every verdict back.
   */
  confirm?: () => Promise<unknown>;
  onDown: (at: number, error: string) => void;
  onUp: (at: number) => void;
}

export class ApiHealth {
  private readonly rest: KubeRest;
  private readonly o: Required<Omit<ApiHealthOptions, 'confirm'>> & Pick<ApiHealthOptions, 'confirm'>;
  private timer?: NodeJS.Timeout;
  private running = false;
  /** Last probe's answer; undefined before the first. */
  up?: boolean;

  constructor(rest: KubeRest, options: ApiHealthOptions) {
    this.rest = rest;
    this.o = { intervalMs: 1000, timeoutMs: 2000, now: Date.now, ...options };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.tick();
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
  }

  private async tick(): Promise<void> {
    const at = this.o.now();
    let error: string | undefined;
    try {
      const answer = await this.rest.request<unknown>({ method: 'GET', path: '/readyz', timeoutMs: this.o.timeoutMs, pool: 'probe' });
      if (typeof answer === 'string' && answer.trim() !== 'ok') error = `readyz: ${answer.slice(0, 200)}`;
    } catch (err) {
      // An answer that is not about the apiserver's health (401, 403 on /readyz): it is there.
      const answered = err instanceof KubeApiError && err.code < 500 && err.code !== 429;
      if (!answered) error = err instanceof Error ? err.message : String(err);
    }
    if (error !== undefined && this.o.confirm) {
      try {
        await this.o.confirm();
        error = undefined;
      } catch {
        // Down indeed.
      }
    }
    if (!this.running) return;
    const up = error === undefined;
    if (up !== this.up) {
      const first = this.up === undefined;
      this.up = up;
      if (!up) this.o.onDown(at, error!);
      else if (!first) this.o.onUp(at);
    }
    this.timer = setTimeout(() => void this.tick(), this.o.intervalMs);
    this.timer.unref();
  }
}
