// Leader election on a coordination.k8s.io/v1 Lease, as client-go does it: one replica holds the
// Lease and renews it; the others take it over when it has not been renewed for the lease
// duration. Expiry is judged by when *we* last saw the Lease change, on our own clock, so replicas
// whose clocks disagree still agree on who leads. On stop the leader releases the Lease so a
// standby takes over at once instead of waiting for it to expire. Its requests are `urgent` in the
// shared client: an alert storm's status writes queue there by the thousand, and a renewal that
// waited behind them longer than the Lease lasts would hand the leadership over mid-storm.
import { systemClock, type Clock } from '../util/clock.ts';
import type { Logger } from 'pino';
import { silentLogger } from '../log.ts';
import { KubeApiError, type KubeRest } from './rest.ts';

export interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  /** The leader renews this often. */
  renewPeriodMs?: number;
  /** A leader that could not renew for this long steps down (before others may take over). */
  renewDeadlineMs?: number;
  /** Standbys try to acquire this often. */
  retryPeriodMs?: number;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  logger?: Logger;
  clock?: Clock;
}

/** Kubernetes MicroTime: RFC 3339 with exactly six fractional digits. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export function leasePath(namespace: string, name = ''): string {
  return `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases${name ? `/${encodeURIComponent(name)}` : ''}`;
}

export class LeaderElector {
  private readonly rest: KubeRest;
  private readonly o: Required<Omit<LeaderElectionOptions, 'logger' | 'clock'>> & { logger: Logger; now: () => number };
  private leading = false;
  private running = false;
  private timer?: NodeJS.Timeout;
  /** Steps down when no renewal succeeded within renewDeadlineMs, whatever requests hang. */
  private watchdog?: NodeJS.Timeout;
  private lastRenew = 0;
  /** The Lease as last observed, and when (our clock) its content last changed. */
  private observed?: { key: string; at: number };
  private round?: Promise<void>;

  constructor(rest: KubeRest, options: LeaderElectionOptions) {
    this.rest = rest;
    const leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.o = {
      renewPeriodMs: Math.max(200, Math.floor(leaseDurationMs / 3)),
      renewDeadlineMs: Math.floor((leaseDurationMs * 2) / 3),
      retryPeriodMs: Math.max(200, Math.floor(leaseDurationMs / 5)),
      logger: silentLogger,
      now: () => (options.clock ?? systemClock)().getTime(),
      ...options,
      leaseDurationMs,
    };
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /**
   * Stops electing. A leader first runs `beforeRelease` (stop acting as leader: finish sends in
   * flight) while it still holds the Lease, then releases it (unless `release` is false) so a
   * standby takes over at once, and steps down.
   */
  async stop(release = true, beforeRelease?: () => Promise<void>): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.round;
    if (this.leading) await beforeRelease?.();
    if (this.leading && release) {
      try {
        const lease = await this.rest.request<Lease>({ method: 'GET', path: leasePath(this.o.namespace, this.o.name), timeoutMs: this.requestTimeoutMs, urgent: true });
        if (lease.spec.holderIdentity === this.o.identity) {
          const now = this.o.now();
          await this.rest.request({
            method: 'PUT',
            path: leasePath(this.o.namespace, this.o.name),
            body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(now) } },
            timeoutMs: this.requestTimeoutMs,
            urgent: true,
          });
          this.o.logger.info({ lease: this.o.name }, 'leader lease released');
        }
      } catch (err) {
        this.o.logger.warn({ err: (err as Error).message }, 'leader lease not released');
      }
    }
    this.setLeading(false);
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.round = this.tryAcquireOrRenew().finally(() => {
        this.schedule(this.leading ? this.o.renewPeriodMs : this.o.retryPeriodMs);
      });
    }, ms);
  }

  /** A Lease request that hangs must not outlive the time a leader may go without renewing. */
  private get requestTimeoutMs(): number {
    return Math.max(500, Math.floor(this.o.renewDeadlineMs / 2));
  }

  private renewed(at: number): void {
    this.lastRenew = at;
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => {
      this.o.logger.warn({ lease: this.o.name, sinceRenewMs: this.o.now() - this.lastRenew }, 'leader lease not renewed in time; stepping down');
      this.setLeading(false);
    }, Math.max(0, at + this.o.renewDeadlineMs - this.o.now()));
  }

  private setLeading(leading: boolean): void {
    if (!leading) clearTimeout(this.watchdog);
    if (leading === this.leading) return;
    this.leading = leading;
    this.o.logger.info({ identity: this.o.identity, lease: `${this.o.namespace}/${this.o.name}`, leading }, leading ? 'became leader' : 'stopped leading');
    if (leading) this.o.onStartedLeading();
    else this.o.onStoppedLeading();
  }

  private async tryAcquireOrRenew(): Promise<void> {
    const now = this.o.now();
    const seconds = Math.max(1, Math.ceil(this.o.leaseDurationMs / 1000));
    try {
      let lease: Lease;
      try {
        lease = await this.rest.request<Lease>({ method: 'GET', path: leasePath(this.o.namespace, this.o.name), timeoutMs: this.requestTimeoutMs, urgent: true });
      } catch (err) {
        if (!(err instanceof KubeApiError && err.code === 404)) throw err;
        await this.rest.request({
          method: 'POST',
          path: leasePath(this.o.namespace),
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name: this.o.name, namespace: this.o.namespace },
            spec: { holderIdentity: this.o.identity, leaseDurationSeconds: seconds, acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 },
          },
          timeoutMs: this.requestTimeoutMs,
          urgent: true,
        });
        this.renewed(now);
        this.setLeading(true);
        return;
      }

      const key = JSON.stringify(lease.spec);
      if (this.observed?.key !== key) this.observed = { key, at: now };
      const holder = lease.spec.holderIdentity ?? '';
      const mine = holder === this.o.identity;
      const durationMs = (lease.spec.leaseDurationSeconds ?? seconds) * 1000;
      const expired = holder === '' || this.observed.at + durationMs <= now;
      if (!mine && !expired) {
        this.setLeading(false);
        return;
      }
      const spec = mine
        ? { ...lease.spec, renewTime: microTime(now), leaseDurationSeconds: seconds }
        : {
            holderIdentity: this.o.identity,
            leaseDurationSeconds: seconds,
            acquireTime: microTime(now),
            renewTime: microTime(now),
            leaseTransitions: (lease.spec.leaseTransitions ?? 0) + 1,
          };
      await this.rest.request({ method: 'PUT', path: leasePath(this.o.namespace, this.o.name), body: { ...lease, spec }, timeoutMs: this.requestTimeoutMs, urgent: true });
      this.renewed(now);
      this.setLeading(true);
    } catch (err) {
      this.o.logger.warn({ err: (err as Error).message, leading: this.leading }, 'leader lease round failed');
      // A leader that cannot renew steps down before its Lease can expire for the others (the
      // watchdog does it on time even while a request hangs).
      if (this.leading && this.o.now() - this.lastRenew >= this.o.renewDeadlineMs) this.setLeading(false);
    }
  }
}
