// The dead man's switch outside every cluster: while this replica leads and its caches are synced
// it sends an HTTP GET to --heartbeat-url every --heartbeat-interval (a Healthchecks-style ping
// URL; any 2xx counts). When it stops leading or dies the pings stop, and the outside service
// alerts even if every cluster is gone. Failures are logged and counted, and tried again next
// interval (the service's own grace absorbs a missed ping).
import type { Counter } from 'prom-client';
import { redactUrl } from '../alerts/receivers.ts';
import { silentLogger, type Logger } from '../log.ts';

export interface DeadManOptions {
  url: string;
  intervalMs: number;
  /** Leading with synced caches: the only time a ping may go out. */
  healthy: () => boolean;
  pings: Counter<'result'>;
  logger?: Logger;
  now?: () => number;
}

/** How often leadership is looked at, so the first ping follows soon after it is won. */
const CHECK_MS = 500;

export class DeadManSwitch {
  private readonly o: DeadManOptions;
  private readonly log: Logger;
  private readonly now: () => number;
  private timer?: NodeJS.Timeout;
  private lastPing = -Infinity;
  private inFlight?: Promise<void>;
  private readonly abort = new AbortController();

  constructor(options: DeadManOptions) {
    this.o = options;
    this.log = options.logger ?? silentLogger;
    this.now = options.now ?? Date.now;
  }

  start(): void {
    this.timer = setInterval(() => this.check(), Math.min(CHECK_MS, this.o.intervalMs));
    this.timer.unref();
    this.check();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.abort.abort();
    await this.inFlight;
  }

  private check(): void {
    if (this.inFlight || !this.o.healthy() || this.now() - this.lastPing < this.o.intervalMs) return;
    this.lastPing = this.now();
    this.inFlight = this.ping().finally(() => (this.inFlight = undefined));
  }

  /** One ping; never throws. */
  async ping(): Promise<void> {
    const timeout = AbortSignal.timeout(Math.max(1000, Math.min(this.o.intervalMs, 10_000)));
    try {
      const res = await fetch(this.o.url, { method: 'GET', signal: AbortSignal.any([timeout, this.abort.signal]), redirect: 'follow' });
      await res.body?.cancel();
      if (res.ok) {
        this.o.pings.inc({ result: 'success' });
        return;
      }
      this.o.pings.inc({ result: 'failure' });
      this.log.warn({ url: redactUrl(this.o.url), status: res.status }, 'heartbeat ping refused; trying again next interval');
    } catch (err) {
      if (this.abort.signal.aborted) return;
      this.o.pings.inc({ result: 'failure' });
      this.log.warn({ url: redactUrl(this.o.url), err: (err as Error).message }, 'heartbeat ping failed; trying again next interval');
    }
  }
}
