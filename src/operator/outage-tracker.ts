// What this replica knows of GoTel's own outages (README, "When GoTel itself is down"):
// - the apiserver unreachable or not ready (ApiHealth's probe), backdated to the first check-in
//   this replica answered 503 since the last good probe;
// - no leader: at start-up, a leader Lease its holder stopped renewing more than a lease duration
//   ago means no replica led (nor took check-ins here) from that renewal until now;
// - the records other replicas wrote (ConfigMap gotel-outages, read every few seconds).
// An outage under way is kept in memory (the apiserver cannot take it) and written when the
// apiserver is back; until then `windows()` gives it to the judge as still open.
import type { Logger } from 'pino';
import { leaderGap, mergeOutage, outageId, windowsOf, type ObservedInterval, type OutageWindow } from '../core/index.ts';
import { ApiHealth } from '../k8s/api-health.ts';
import { leasePath, type Lease } from '../k8s/leader-election.ts';
import { KubeApiError, type KubeRest } from '../k8s/rest.ts';
import { OutageStore } from './outage-record.ts';

/** How far back a 503 answered here dates an outage the probe then sees (a few probe intervals). */
const REFUSAL_MEMORY_MS = 5_000;

export interface OutageTrackerOptions {
  rest: KubeRest;
  namespace: string;
  leaderLease: string;
  leaseDurationMs: number;
  logger: Logger;
  /** The known outages changed: judge everything again. */
  onChange: () => void;
  now?: () => number;
  /** How often other replicas' records are read. */
  refreshMs?: number;
  probeIntervalMs?: number;
}

export class OutageTracker {
  readonly store: OutageStore;
  private readonly o: OutageTrackerOptions;
  private readonly now: () => number;
  private readonly health: ApiHealth;
  /** The outage under way here, not yet recorded. */
  private open: { start: number } | null = null;
  /** Ended here, not yet recorded (the write failed or is under way). */
  private pending: ObservedInterval[] = [];
  /** The first check-in answered 503 since the last good probe. */
  private firstRefusal?: number;
  private timer?: NodeJS.Timeout;
  private running = false;

  constructor(options: OutageTrackerOptions) {
    this.o = options;
    this.now = options.now ?? Date.now;
    this.store = new OutageStore(options.rest, options.namespace);
    this.health = new ApiHealth(options.rest, {
      now: this.now,
      ...(options.probeIntervalMs ? { intervalMs: options.probeIntervalMs } : {}),
      confirm: () => this.store.load(),
      onDown: (at, error) => this.down(at, error),
      onUp: (at) => this.up(at),
    });
  }

  /** The windows the judge takes: every record, and the outage under way here. */
  windows(): OutageWindow[] {
    const windows = windowsOf(this.store.records, this.open);
    for (const p of this.pending) if (!windows.some((w) => w.end === null || (p.start <= w.end && p.end >= w.start))) windows.push({ id: outageId(p.start), start: p.start, end: p.end });
    return windows;
  }

  /** An outage is under way as this replica sees it: the apiserver cannot take writes now. */
  get underWay(): boolean {
    return this.open !== null;
  }

  /** A check-in was answered 503: it may be the start of an outage the probe has not seen yet. */
  refused(at: number = this.now()): void {
    // Only a refusal just before the probe fails dates the outage; an isolated 503 is forgotten.
    if (this.open === null && (this.firstRefusal === undefined || at - this.firstRefusal > REFUSAL_MEMORY_MS)) this.firstRefusal = at;
  }

  /** Call once the caches are synced: reads the records and infers a leaderless gap from the Lease. */
  async start(): Promise<void> {
    this.running = true;
    await this.store.load().catch((err: unknown) => this.o.logger.warn({ err: (err as Error).message }, 'could not read the outage record'));
    await this.inferLeaderGap();
    this.health.start();
    this.schedule();
    if (this.store.records.length > 0 || this.pending.length > 0) this.o.onChange();
  }

  stop(): void {
    this.running = false;
    this.health.stop();
    clearTimeout(this.timer);
  }

  private async inferLeaderGap(): Promise<void> {
    let lease: Lease | undefined;
    try {
      lease = await this.o.rest.request<Lease>({ method: 'GET', path: leasePath(this.o.namespace, this.o.leaderLease), timeoutMs: 5000 });
    } catch (err) {
      if (!(err instanceof KubeApiError && err.code === 404)) this.o.logger.warn({ err: (err as Error).message }, 'could not read the leader Lease for gaps');
      return;
    }
    const renew = lease.spec.renewTime ? Date.parse(lease.spec.renewTime) : undefined;
    const gap = leaderGap(renew, this.o.leaseDurationMs, this.now());
    if (!gap) return;
    this.o.logger.warn({ from: new Date(gap.start).toISOString(), to: new Date(gap.end).toISOString() }, 'no GoTel replica led until now: recording it as an outage');
    this.pending.push(gap);
    await this.flush();
  }

  private down(at: number, error: string): void {
    if (this.open) return;
    const refusal = this.firstRefusal !== undefined && at - this.firstRefusal <= REFUSAL_MEMORY_MS ? this.firstRefusal : at;
    const start = Math.min(at, refusal);
    this.open = { start };
    this.o.logger.warn({ since: new Date(start).toISOString(), err: error }, 'the apiserver cannot take check-ins: outage under way');
    this.o.onChange();
  }

  private up(at: number): void {
    this.firstRefusal = undefined;
    if (!this.open) return;
    this.pending.push({ start: this.open.start, end: at, cause: 'apiserver' });
    this.open = null;
    this.o.logger.warn({ until: new Date(at).toISOString() }, 'the apiserver is back: recording the outage');
    void this.flush().finally(() => this.o.onChange());
  }

  /** Writes what ended here into the record (merged with what other replicas wrote). */
  private async flush(): Promise<void> {
    while (this.pending.length > 0) {
      const next = this.pending[0]!;
      try {
        await this.store.update((records) => mergeOutage(records, next));
        this.pending.shift();
      } catch (err) {
        this.o.logger.warn({ err: (err as Error).message }, 'could not record the outage yet; retrying');
        return;
      }
    }
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => void this.refresh(), this.o.refreshMs ?? 3000);
    this.timer.unref();
  }

  private async refresh(): Promise<void> {
    try {
      if (this.health.up !== false) {
        await this.flush();
        if (await this.store.load()) this.o.onChange();
      }
    } catch {
      // The probe reports an outage; the next refresh tries again.
    } finally {
      this.schedule();
    }
  }
}
