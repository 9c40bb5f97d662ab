// The leader's one notice per GoTel outage (README, "When GoTel itself is down"). Once an
// outage's catch-up is over, the Reservations it touched are found by the judge itself (run on
// the cached objects with the outage windows, so the notice says what the status says), and each
// distinct receiver of theirs, plus the default receiver, gets one message through the usual
// senders. Each receiver's delivery is marked in the outage record (ConfigMap gotel-outages)
// right after its answer, so a restart or a new leader neither loses nor repeats the notice; the
// one window left is a crash between a receiver's answer and that write, as for alerts.
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Reservation } from '../api/reservation.ts';
import type { SendOutcome } from '../alerts/classify.ts';
import { sendEmail } from '../alerts/email.ts';
import { renderOutageEmail, renderOutagePagerDuty, renderOutageSlack, renderOutageWebhook, type OutageNotice } from '../alerts/outage-notice.ts';
import { sendPagerDuty } from '../alerts/pagerduty.ts';
import type { ReceiverSettings } from '../alerts/receiver-config.ts';
import { resolveReceivers, type DefaultReceiver, type Receiver } from '../alerts/receivers.ts';
import { sendSlack } from '../alerts/slack.ts';
import { postJson } from '../alerts/webhook.ts';
import { judge, type CronJobOf, type OutageRecord, type OutageWindow } from '../core/index.ts';
import type { KubeRest } from '../k8s/rest.ts';
import type { Metrics } from '../metrics.ts';
import { backoffDelay } from '../util/backoff.ts';
import type { OutageStore } from './outage-record.ts';

export interface OutageNotifierOptions {
  rest: KubeRest;
  store: OutageStore;
  windows: () => OutageWindow[];
  catchUpMs: number;
  /**
   * The Reservations as the apiserver holds them now. Not the informer cache: just after an
   * outage a watch may not have caught up yet, and a notice from stale status would call runs
   * missing that checked in.
   */
  reservations: () => Promise<Reservation[]>;
  cronJobOf: CronJobOf;
  defaultReceiver?: DefaultReceiver;
  receivers: ReceiverSettings;
  clusterName: string;
  logger: Logger;
  /** gotel_alerts_total{receiver, result}, as for alerts (receiver: the receiver's name). */
  metrics?: Metrics;
  now?: () => number;
  intervalMs?: number;
}

/** After the catch-up, a moment for the check-ins and reconciles it woke to land before the notice is composed. */
const SETTLE_MS = 2_000;
/** Runs still undecided this long after the catch-up (verdicts put off) are listed as missing. */
const MAX_SETTLE_MS = 60_000;

export class OutageNotifier {
  private readonly o: OutageNotifierOptions;
  private readonly now: () => number;
  private timer?: NodeJS.Timeout;
  private running = false;
  private inFlight: Promise<void> = Promise.resolve();
  /** Per receiver key: transient failures in a row and when to try again. */
  private readonly retry = new Map<string, { failures: number; at: number }>();

  constructor(options: OutageNotifierOptions) {
    this.o = options;
    this.now = options.now ?? Date.now;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /** No new sends; a send in flight finishes (and is marked) first. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.inFlight;
  }

  private schedule(delay: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.inFlight = this.tick().catch((err: unknown) => this.o.logger.warn({ err: (err as Error).message }, 'outage notice not sent yet'));
      void this.inFlight.finally(() => this.schedule(this.o.intervalMs ?? 2000));
    }, delay);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    const now = this.now();
    for (const record of this.o.store.records) {
      if (!this.running) return;
      if (record.notice?.done || now < record.end + this.o.catchUpMs + SETTLE_MS) continue;
      await this.notify(record, now);
    }
  }

  /** The notice's facts, from the judge run on the cache with the outage windows. */
  async compose(record: OutageRecord, now: number): Promise<{ notice: OutageNotice; affected: Reservation[]; undecided: number }> {
    const affected: Reservation[] = [];
    const missing: OutageNotice['missing'] = [];
    let undecided = 0;
    const windows = this.o.windows();
    for (const r of await this.o.reservations()) {
      if (r.spec?.jobRef) continue;
      const status = judge(r, new Date(now), { cronJob: this.o.cronJobOf(r), outages: windows, catchUpMs: this.o.catchUpMs }).status ?? r.status;
      const runs = (status?.outageRuns ?? []).filter((x) => x.outage === record.id);
      if (runs.length === 0) continue;
      const name = `${r.metadata.namespace ?? 'default'}/${r.metadata.name}`;
      affected.push(r);
      for (const run of runs) {
        if (run.outcome === undefined) undecided++;
        if (run.outcome !== 'CheckedIn') missing.push({ reservation: name, expectedTime: run.expectedTime });
      }
    }
    const names = affected.map((r) => `${r.metadata.namespace ?? 'default'}/${r.metadata.name}`).sort();
    const notice: OutageNotice = { id: record.id, start: record.start, end: record.end, catchUpMs: this.o.catchUpMs, clusterName: this.o.clusterName, causes: record.causes, reservations: names, missing };
    return { notice, affected, undecided };
  }

  private async notify(record: OutageRecord, now: number): Promise<void> {
    const { notice, affected, undecided } = await this.compose(record, now);
    if (undecided > 0 && now < record.end + this.o.catchUpMs + MAX_SETTLE_MS) return;
    if (affected.length === 0) {
      // Nobody's deadline fell in it: recorded, nothing to tell.
      await this.mark(record.id, (n) => ({ ...n, done: true, reservations: 0 }));
      return;
    }
    const receivers = await this.receiversOf(affected);
    const notice0 = record.notice ?? { deliveredTo: [] };
    const settled = new Set([...notice0.deliveredTo, ...(notice0.failed ?? []).map((f) => f.key)]);
    let open = 0;
    for (const [key, receiver] of receivers) {
      if (settled.has(key) || !this.running) continue;
      const wait = this.retry.get(key);
      if (wait && wait.at > this.now()) {
        open++;
        continue;
      }
      const outcome = await this.send(receiver, notice);
      this.o.metrics?.alerts.inc({ receiver: receiver.name, result: outcome.kind === 'delivered' ? 'delivered' : outcome.kind === 'permanent' ? 'permanent_failure' : 'retry' });
      if (outcome.kind === 'delivered') {
        this.retry.delete(key);
        await this.mark(record.id, (n) => ({ ...n, deliveredTo: [...new Set([...n.deliveredTo, key])], reservations: notice.reservations.length }));
        this.o.logger.info({ outage: record.id, receiver: receiver.name, reservations: notice.reservations.length, missing: notice.missing.length }, 'outage notice delivered');
      } else if (outcome.kind === 'permanent') {
        await this.mark(record.id, (n) => ({ ...n, failed: [...(n.failed ?? []).filter((f) => f.key !== key), { key, error: outcome.error }] }));
        this.o.logger.warn({ outage: record.id, receiver: receiver.name, err: outcome.error }, 'outage notice refused for good');
      } else {
        open++;
        const failures = (wait?.failures ?? 0) + 1;
        const delay = Math.max(outcome.retryAfterMs ?? 0, backoffDelay(failures, { initialMs: 1000, maxMs: 60_000, jitter: 0.1 }));
        this.retry.set(key, { failures, at: this.now() + delay });
        this.o.logger.warn({ outage: record.id, receiver: receiver.name, err: outcome.error }, 'outage notice not delivered; retrying');
      }
    }
    if (open === 0 && this.running) await this.mark(record.id, (n) => ({ ...n, done: true, reservations: notice.reservations.length }));
  }

  /** The distinct receivers (by where they send) of the affected Reservations, and the default one. */
  private async receiversOf(affected: Reservation[]): Promise<Map<string, Receiver>> {
    const bare: Reservation = { apiVersion: 'gotel.io/v1alpha1', kind: 'Reservation', metadata: { name: '-', namespace: 'default' }, spec: {} };
    const lists = await Promise.all([bare, ...affected].map((r) => resolveReceivers(this.o.rest, r, this.o.defaultReceiver, this.o.receivers)));
    const out = new Map<string, Receiver>();
    for (const receiver of lists.flat()) out.set(receiverKey(receiver), receiver);
    return out;
  }

  private async send(receiver: Receiver, notice: OutageNotice): Promise<SendOutcome> {
    if (receiver.error !== undefined) return { kind: 'permanent', error: receiver.error };
    if (receiver.transientError !== undefined || !receiver.url) return { kind: 'transient', error: receiver.transientError ?? 'no URL yet' };
    switch (receiver.type) {
      case 'slack':
        return sendSlack(receiver.url, renderOutageSlack(notice));
      case 'pagerduty':
        return sendPagerDuty(receiver.url, renderOutagePagerDuty(notice, receiver.routingKey ?? ''));
      case 'email':
        return receiver.email ? sendEmail(receiver.email, renderOutageEmail(notice)) : { kind: 'permanent', error: 'no SMTP settings' };
      default: {
        const payload = renderOutageWebhook(notice);
        return postJson(receiver.url, payload, { 'Idempotency-Key': payload.id });
      }
    }
  }

  private async mark(id: string, change: (n: NonNullable<OutageRecord['notice']>) => NonNullable<OutageRecord['notice']>): Promise<void> {
    await this.o.store.update((records) => records.map((r) => (r.id === id ? { ...r, notice: change(r.notice ?? { deliveredTo: [] }) } : r)));
  }
}

/** Where a receiver sends, hashed: the record names no URL or key (they are secrets). */
export function receiverKey(r: Receiver): string {
  const where = [r.type, r.url ?? '', r.routingKey ?? '', r.email?.to.join(',') ?? '', r.url || r.routingKey || r.email ? '' : `${r.name} ${r.source}`].join('\n');
  return createHash('sha256').update(where).digest('hex').slice(0, 16);
}
