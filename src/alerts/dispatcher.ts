// The outbox sender. The reconciler records each notification in status.alert.outbox first (status
// before sending), then calls `sync(reservation)`; the dispatcher sends every pending entry to
// every receiver that has not accepted it yet and records the answer in status through the shared
// StatusWriter.
//
// Guarantees and their limits:
// - Nothing is lost: an entry stays pending in status until each receiver has accepted it or one
//   refused it for good, so a restart or a new leader sends what is still pending.
// - Nothing recorded is repeated: before each send the dispatcher reads the Reservation from the
//   apiserver (not a cache) and skips receivers already in `deliveredTo`; the marking mutation
//   refuses (returns null) when another replica already marked it. A receiver its alert group
//   holds is not sent to from here (the group is), so it is routed from the copy at hand.
// - The crash window: a receiver answers 2xx, and this process dies before the status write that
//   adds it to `deliveredTo` is stored. The next leader then sends that one message to that one
//   receiver again. The window is one apiserver round trip: the mark is written immediately after
//   each receiver's answer, per receiver (never batched behind other sends), and if the write
//   fails the delivery is kept in memory and the write is retried before anything else is sent,
//   so an apiserver outage alone never causes a repeat. A send that times out may also have been
//   accepted; it is retried (a possible repeat is better than a lost alert). Generic webhooks get
//   an Idempotency-Key so they can drop such a repeat; Slack offers no such key.
// - Order: per Reservation, entries go out oldest first and one send is in flight at a time, so a
//   recovery never overtakes its alert.
// - Retries are timers, not polling: a transient failure (429, 5xx, no answer) arms one timer per
//   Reservation: Retry-After when the receiver gave one (and every Reservation sending to that
//   URL waits too), else exponential backoff 1 s, 2 s, 4 s … capped at 5 min, ±10 % jitter.
//   Permanent refusals (other 4xx, a missing Secret) are not retried: the entry gets
//   failedPermanently and lastError naming the receiver and its answer.
import type { OutboxEntry, Reservation, ReservationStatus } from '../api/reservation.ts';
import { KubeApiError, type KubeRest } from '../k8s/rest.ts';
import { newer, reservationPath, type StatusWriter } from '../k8s/status-writer.ts';
import { silentLogger, type Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { SendOutcome } from './classify.ts';
import { closeEntry, isPending, markDelivered, markRefused, markRetrying, nextPending, type DeliveryMark, type FailureMark } from './outbox.ts';
import { sendEmail } from './email.ts';
import { sendPagerDuty } from './pagerduty.ts';
import type { ReceiverSettings } from './receiver-config.ts';
import { receiverNames, resolveReceivers, redactUrl, type DefaultReceiver, type Receiver } from './receivers.ts';
import { renderEmail, renderPagerDutyEvent, renderSlackMessage, renderWebhookPayload, type RenderContext } from './render.ts';
import { sendSlack, type SendOptions } from './slack.ts';
import { postJson, sendWebhook } from './webhook.ts';
import { renderEmailGroup, renderPagerDutyGroup, renderSlackGroup, renderWebhookGroup, runKeyOf, targetHash, type AlertGroup } from './group.ts';
import { withSecretMemo } from './secret-memo.ts';
import { GroupStore } from './group-store.ts';
import { AlertGrouper, type Target } from './grouper.ts';
import { ReceiverGate, type Rate } from './receiver-gate.ts';
import { backoffDelay, type BackoffOptions } from '../util/backoff.ts';
import { systemClock, type Clock } from '../util/clock.ts';
import { timerDelay } from '../util/timers.ts';

export { markDelivered, type DeliveryMark } from './outbox.ts';

/** Retry delays: 1 s, doubling, capped at 5 min, ±10 % jitter unless given otherwise. */
const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 1000, maxMs: 300_000, factor: 2, jitter: 0.1 };

/** One pure outbox change, applied to the freshest status inside the write. */
type OutboxChange = (status: ReservationStatus | undefined, generation: number | undefined) => ReservationStatus | null;

/** Sends one rendered notification to one receiver and classifies the answer. */
export type Sender = (receiver: Receiver & { url: string }, reservation: Reservation, entry: OutboxEntry, ctx: RenderContext, options: SendOptions) => Promise<SendOutcome>;

export interface AlertDispatcherOptions {
  rest: KubeRest;
  writer: StatusWriter;
  /** The operator's default receiver (parseDefaultReceiver of --slack-webhook-url), used when spec.notify is empty. */
  defaultReceiver?: DefaultReceiver;
  /** PagerDuty's events URL and the SMTP server (receiverSettings of the operator's flags). */
  receivers?: ReceiverSettings;
  /** --cluster-name, shown in messages ({srv}). */
  clusterName?: string;
  metrics?: Pick<Metrics, 'alerts' | 'alertLatencySeconds'>;
  logger?: Logger;
  backoff?: Partial<BackoffOptions>;
  /** The longest Retry-After honoured (a larger one is cut to this). Default 1 h. */
  maxRetryAfterMs?: number;
  /**
   * Alert grouping (--alert-group-window): notifications for one receiver and cause within this
   * window become one message (README "Alert grouping"). 0 or absent: every one goes alone.
   */
  groupWindowMs?: number;
  /** Where alert groups are stored (GoTel's namespace); grouping needs it. */
  groupNamespace?: string;
  /** Sends per second (and burst) to one Slack webhook URL. Default 1/s, bursts of 3. */
  slackRate?: Rate;
  /** How long one send may wait for an answer. Default 15 s. */
  sendTimeoutMs?: number;
  /** Replaces the Slack and webhook senders (tests). */
  send?: Sender;
  clock?: Clock;
  /**
   * The path of another kind of object that carries status.alert.outbox and spec.notify (a Peer,
   * src/ha); default: a Reservation's. `writer` must then write that kind too.
   */
  path?: (namespace: string, name: string) => string;
}

/** What pick() chose for one entry. */
interface Choice {
  target?: Target;
  waiting?: boolean;
  transientError?: string;
  /** Its group delivered it (or a stored record of one, then no `group`). */
  grouped?: Grouped;
}

type Grouped = { receiver: string; time: number; group?: string };

/** A delivery to record in status; `viaGrouper`: the grouper delivered it and waits for the record. */
type PendingMark = DeliveryMark & { viaGrouper?: boolean };

/** Slack takes about one message per second per webhook, with short bursts. */
export const SLACK_RATE: Rate = { perSecond: 1, burst: 3 };

interface KeyState {
  namespace: string;
  name: string;
  latest: Reservation;
  running: boolean;
  timer?: NodeJS.Timeout;
  /** Consecutive transient failures of `headId`: the backoff exponent. */
  failures: number;
  headId?: string;
  /** Receivers that refused an entry for good, by entry id, with what they said. */
  rejected: Map<string, Map<string, string>>;
  unrecorded: PendingMark[];
  /** Every receiver left is waiting for its alert group: the grouper wakes this key. */
  waiting?: boolean;
}

const defaultSender: Sender = (receiver, reservation, entry, ctx, options) => {
  switch (receiver.type) {
    case 'slack':
      return sendSlack(receiver.url, renderSlackMessage(reservation, entry, ctx), options);
    case 'pagerduty':
      return sendPagerDuty(receiver.url, renderPagerDutyEvent(reservation, entry, ctx, receiver.routingKey ?? ''), options);
    case 'email':
      if (!receiver.email) return Promise.resolve({ kind: 'permanent', error: 'no SMTP settings resolved' });
      return sendEmail(receiver.email, renderEmail(reservation, entry, ctx), options);
    default:
      return sendWebhook(receiver.url, renderWebhookPayload(reservation, entry, ctx), options);
  }
};

/** Sends one alert group to its receiver, rendered for the receiver's type. */
function sendGroup(target: Target, group: AlertGroup, ctx: RenderContext, options: SendOptions): Promise<SendOutcome> {
  switch (target.type) {
    case 'slack':
      return sendSlack(target.url, renderSlackGroup(group, ctx), options);
    case 'pagerduty':
      return sendPagerDuty(target.url, renderPagerDutyGroup(group, ctx, target.routingKey ?? ''), options);
    case 'email':
      if (!target.email) return Promise.resolve({ kind: 'permanent', error: 'no SMTP settings resolved' });
      return sendEmail(target.email, renderEmailGroup(group, ctx), options);
    default:
      return postJson(target.url, renderWebhookGroup(group, ctx), { 'Idempotency-Key': `group/${group.id}` }, options);
  }
}

export class AlertDispatcher {
  private readonly o: AlertDispatcherOptions;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly send: Sender;
  private readonly keys = new Map<string, KeyState>();
  /** Per receiver URL: its rate, and no send before a 429's Retry-After (which applies to everyone). */
  private readonly gate: ReceiverGate;
  /** Alert grouping, when a window is set. */
  private readonly grouper?: AlertGrouper;
  /** Slack URLs seen, for their rate. */
  private readonly slackUrls = new Set<string>();
  private readonly loops = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  /** Secret reads shared for a few seconds, for anticipate (a storm names the same few Secrets). */
  private readonly memoRest: KubeRest;
  private stopped = false;

  constructor(options: AlertDispatcherOptions) {
    this.o = options;
    this.log = options.logger ?? silentLogger;
    this.clock = options.clock ?? systemClock;
    this.send = options.send ?? defaultSender;
    const slackRate = options.slackRate ?? SLACK_RATE;
    this.gate = new ReceiverGate((url) => (this.slackUrls.has(url) ? slackRate : undefined));
    this.memoRest = withSecretMemo(options.rest, this.clock);
    if ((options.groupWindowMs ?? 0) > 0 && options.groupNamespace) {
      const ctx: RenderContext = this.o.clusterName ? { clusterName: this.o.clusterName } : {};
      this.grouper = new AlertGrouper({
        store: new GroupStore(options.rest, options.groupNamespace),
        windowMs: options.groupWindowMs ?? 0,
        clock: this.clock,
        gate: this.gate,
        send: (target, group, sendOptions) => sendGroup(target, group, ctx, sendOptions),
        sendSingle: (target, { reservation, entry }, sendOptions) => this.send(target, reservation, entry, this.renderContext(reservation), sendOptions),
        wake: (namespace, name) => this.wake(namespace, name),
        resolveTarget: (group) => this.resolveTarget(group),
        logger: this.log,
        ...(options.metrics ? { metrics: options.metrics } : {}),
        ...(options.sendTimeoutMs !== undefined ? { sendTimeoutMs: options.sendTimeoutMs } : {}),
        ...(options.maxRetryAfterMs !== undefined ? { maxRetryAfterMs: options.maxRetryAfterMs } : {}),
      });
    }
  }

  /** What a single message shows besides the Reservation: its receivers' names and the cluster. */
  private renderContext(reservation: Reservation, names = receiverNames(reservation, this.o.defaultReceiver).map((r) => r.name)): RenderContext {
    return { receivers: names, ...(this.o.clusterName ? { clusterName: this.o.clusterName } : {}) };
  }

  /** A member's alert group was answered: look at its Reservation again. */
  private wake(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    const state = this.keys.get(key);
    if (!state || this.stopped) return;
    state.waiting = false;
    if (!state.running && !state.timer) this.start(key, state);
  }

  /** Where a stored group goes, after a restart: the member receiver that sends where the group's target did. */
  private async resolveTarget(group: AlertGroup): Promise<Target | undefined> {
    for (const m of group.members.slice(0, 5)) {
      let member: Reservation;
      try {
        member = await this.o.rest.request<Reservation>({ method: 'GET', path: (this.o.path ?? reservationPath)(m.namespace, m.name) });
      } catch (err) {
        if (err instanceof KubeApiError && err.code === 404) continue;
        throw err;
      }
      const receivers = await resolveReceivers(this.o.rest, member, this.o.defaultReceiver, this.o.receivers);
      const r = receivers.find((x) => x.name === m.receiver && x.url && targetHash(x) === group.target.hash);
      if (r?.type === 'slack') this.slackUrls.add(r.url!);
      if (r) return r as Target;
    }
    return undefined;
  }

  /**
   * Offers the current Reservation (after each reconcile). Cheap and idempotent; never throws.
   * Starts sending its pending outbox entries unless a send or a retry timer is already under way
   * (they pick up this copy).
   */
  sync(reservation: Reservation): void {
    try {
      if (this.stopped) return;
      const namespace = reservation.metadata.namespace ?? 'default';
      const name = reservation.metadata.name;
      const key = `${namespace}/${name}`;
      this.settle(namespace, name, reservation);
      let state = this.keys.get(key);
      if (!state) {
        if (!nextPending(reservation.status)) return;
        state = { namespace, name, latest: reservation, running: false, failures: 0, rejected: new Map(), unrecorded: [] };
        this.keys.set(key, state);
      } else if (newer(reservation, state.latest)) {
        state.latest = reservation;
      }
      if (!state.running && !state.timer && !state.waiting) this.start(key, state);
    } catch (err) {
      this.log.error({ err }, 'alert dispatcher sync failed');
    }
  }

  /**
   * Tells the grouper which of this Reservation's entries its status already records as
   * delivered: a group read from the apiserver by a new leader is deleted once every member's
   * status has it, also the members whose status was marked in an earlier term.
   */
  private settle(namespace: string, name: string, reservation: Reservation): void {
    const grouper = this.grouper;
    const done = reservation.status?.alert?.outbox?.filter((e) => (e.deliveredTo?.length ?? 0) > 0) ?? [];
    if (!grouper || done.length === 0) return;
    void grouper.ready.then(() => {
      for (const e of done) for (const receiver of e.deliveredTo!) grouper.recorded(namespace, name, e.id, receiver, runKeyOf(e));
    });
  }

  /**
   * Offers a verdict judged from the cache before its status write (a deadline that just fired):
   * its new alert joins its group's window now (AlertGrouper.anticipate), so in a storm every
   * Reservation is named within the window although the status writes take much longer. Nothing
   * is sent from here: a lone alert still goes out after its write, through sync. Never throws.
   */
  anticipate(reservation: Reservation): void {
    const grouper = this.grouper;
    const pending = reservation.status?.alert?.outbox?.filter((e) => e.kind === 'alert' && isPending(e)) ?? [];
    if (!grouper || this.stopped || pending.length === 0) return;
    const namespace = reservation.metadata.namespace ?? 'default';
    void (async () => {
      await grouper.ready;
      const receivers = await resolveReceivers(this.memoRest, reservation, this.o.defaultReceiver, this.o.receivers);
      for (const entry of pending) {
        for (const r of receivers) {
          if (!r.url || r.error || r.transientError || entry.deliveredTo?.includes(r.name)) continue;
          if (r.type === 'slack') this.slackUrls.add(r.url);
          grouper.anticipate(namespace, reservation.metadata.name, entry, r as Target, expectedTimeOf(entry, reservation.status), reservation);
        }
      }
    })().catch((err: unknown) => this.log.warn({ err, reservation: `${namespace}/${reservation.metadata.name}` }, 'could not anticipate an alert'));
  }

  /** Forgets a deleted Reservation: cancels its retry timer (a send in flight finishes). */
  forget(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    const state = this.keys.get(key);
    if (!state) return;
    if (state.timer) clearTimeout(state.timer);
    this.keys.delete(key);
  }

  /** Reservations with pending work (sending, or waiting to retry). */
  get pendingKeys(): string[] {
    return [...this.keys.keys()];
  }

  /**
   * Stops: no new sends, retry timers cancelled; a send in flight gets `timeoutMs` (default 5 s)
   * to be answered (and its answer recorded), then it is aborted. What is not delivered stays
   * pending in status for the next leader.
   */
  async stop(options: { timeoutMs?: number } = {}): Promise<void> {
    this.stopped = true;
    const grouping = this.grouper?.stop(options.timeoutMs ?? 5000);
    for (const state of this.keys.values()) {
      if (state.timer) clearTimeout(state.timer);
      state.timer = undefined;
    }
    const all = Promise.allSettled([...this.loops]);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([all.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), options.timeoutMs ?? 5000)))]);
    clearTimeout(timer);
    if (timedOut) {
      this.abort.abort(new Error('the alert dispatcher is stopping'));
      await all;
    }
    await grouping;
    this.keys.clear();
  }

  private start(key: string, state: KeyState): void {
    state.running = true;
    const loop = this.run(key, state)
      .catch((err: unknown) => {
        // Not expected (run handles its errors): retry later rather than stall this Reservation.
        this.log.error({ err, reservation: key }, 'alert dispatcher loop failed');
        this.retryLater(key, state, this.backoffMs(++state.failures));
      })
      .finally(() => {
        state.running = false;
        this.loops.delete(loop);
        if (!this.stopped && !state.timer && !state.waiting && this.keys.get(key) === state) {
          // A sync may have brought new work while the loop was finishing.
          if (state.unrecorded.length > 0 || nextPending(state.latest.status)) this.start(key, state);
          else this.keys.delete(key);
        }
      });
    this.loops.add(loop);
  }

  private retryLater(key: string, state: KeyState, delayMs: number): void {
    if (this.stopped || this.keys.get(key) !== state) return;
    if (state.timer) clearTimeout(state.timer);
    state.timer = setTimeout(
      () => {
        state.timer = undefined;
        if (!this.stopped && !state.running && this.keys.get(key) === state) this.start(key, state);
      },
      timerDelay(delayMs),
    );
  }

  private backoffMs(failures: number): number {
    return backoffDelay(failures, { ...DEFAULT_BACKOFF, ...this.o.backoff });
  }

  private now(): number {
    return this.clock().getTime();
  }

  // Long on purpose: one loop whose numbered steps are the delivery order promise 2 depends on
  // (docs/architecture.md): record accepted deliveries, read fresh, route, send, record.
  /** Sends what is pending for one Reservation, one entry and one receiver at a time. */
  private async run(key: string, state: KeyState): Promise<void> {
    let heldAt: string | undefined;
    for (;;) {
      // 1. Deliveries already accepted but not yet stored come first (never send again for them).
      if (state.unrecorded.length > 0) {
        const mark = state.unrecorded[0]!;
        try {
          await this.record(state, (status, generation) => markDelivered(status, mark, generation));
          state.unrecorded.shift();
          if (mark.viaGrouper) this.grouper?.recorded(state.namespace, state.name, mark.entryId, mark.receiver, mark.runKey);
        } catch (err) {
          if (err instanceof KubeApiError && err.code === 404) return this.gone(key, state);
          this.log.warn({ err, reservation: key, entry: mark.entryId, receiver: mark.receiver }, 'could not record an alert delivery, retrying the status write');
          return this.retryLater(key, state, this.backoffMs(++state.failures));
        }
        continue;
      }
      if (this.stopped || this.keys.get(key) !== state) return;
      if (!nextPending(state.latest.status)) return;

      // 2. Held by its alert group: the group decides, from the copy at hand (no read). Once per
      // version of that copy: a mark that changed nothing goes the fresh way below.
      const version = state.latest.metadata.resourceVersion;
      const held = version === heldAt ? undefined : await this.heldByGroup(state);
      if (held === 'waiting') {
        state.waiting = true; // the grouper wakes this key when the group is answered
        return;
      }
      if (held) {
        heldAt = version;
        state.unrecorded.push(held);
        continue;
      }

      // 3. The freshest copy: another replica (or this one before a restart) may have sent it.
      let fresh: Reservation;
      try {
        fresh = await this.o.rest.request<Reservation>({ method: 'GET', path: (this.o.path ?? reservationPath)(state.namespace, state.name) });
      } catch (err) {
        if (err instanceof KubeApiError && err.code === 404) return this.gone(key, state);
        this.log.warn({ err, reservation: key }, 'could not read the reservation before sending an alert');
        return this.retryLater(key, state, this.backoffMs(++state.failures));
      }
      if (newer(fresh, state.latest) || fresh.metadata.resourceVersion === state.latest.metadata.resourceVersion) state.latest = fresh;
      this.o.writer.observe(fresh);
      const entry = nextPending(fresh.status);
      if (!entry) {
        state.latest = fresh;
        return;
      }
      if (entry.id !== state.headId) {
        state.headId = entry.id;
        state.failures = 0;
        for (const id of state.rejected.keys()) if (id !== entry.id) state.rejected.delete(id);
      }
      if (this.stopped) return;
      await this.grouper?.ready; // never route before the stored groups are known

      // 4. Who still has to get it.
      const receivers = await resolveReceivers(this.o.rest, fresh, this.o.defaultReceiver, this.o.receivers);
      const names = receivers.map((r) => r.name);
      const rejected = state.rejected.get(entry.id) ?? new Map<string, string>();
      state.rejected.set(entry.id, rejected);
      const pick = this.pick(key, fresh, entry, receivers, rejected);
      if (pick.transientError) {
        await this.recordFailure(state, { entryId: entry.id, error: pick.transientError, time: this.now(), attempted: false });
        return this.retryLater(key, state, this.backoffMs(++state.failures));
      }
      if (pick.grouped) {
        // Its group delivered it: record that (with the group's id), never send it again.
        state.unrecorded.push(groupedMark(entry, pick.grouped, names, rejected));
        continue;
      }
      const target = pick.target;
      if (!target && pick.waiting) {
        state.waiting = true; // the grouper wakes this key when the group is answered
        return;
      }
      if (!target) {
        // Everyone accepted it or refused it for good: close the entry.
        const error =
          receivers.length === 0
            ? 'no receiver: spec.notify is empty and the operator has no default receiver (--slack-webhook-url)'
            : [...rejected.values()].join('; ') || undefined;
        await this.recordOrRetry(key, state, entry.id, (st, generation) => closeEntry(st, entry.id, names, [...rejected], this.now(), error, generation));
        if (state.timer) return;
        continue;
      }

      // 5. One send, at the receiver's rate; a 429's Retry-After holds every Reservation sending to that URL.
      const wait = this.gate.take(target.url, this.now());
      if (wait > 0) return this.retryLater(key, state, wait);
      const ctx = this.renderContext(fresh, names);
      const outcome = await this.send(target, fresh, entry, ctx, { signal: this.abort.signal, timeoutMs: this.o.sendTimeoutMs ?? 15_000, clock: this.clock });
      const answered = this.now();
      const fields = { reservation: key, entry: entry.id, kind: entry.kind, reason: entry.reason, receiver: target.name, url: redactUrl(target.url) };

      if (outcome.kind === 'delivered') {
        this.o.metrics?.alerts.inc({ receiver: target.name, result: 'delivered' });
        const due = Date.parse(entry.dueTime);
        if (Number.isFinite(due)) this.o.metrics?.alertLatencySeconds.observe({ receiver: target.name }, Math.max(0, (answered - due) / 1000));
        this.log.info({ ...fields, status: outcome.status }, 'alert delivered');
        // Crash window opens here (accepted, not yet recorded) and closes when this write is stored.
        state.unrecorded.push({ entryId: entry.id, receiver: target.name, time: answered, receivers: names, rejected: [...rejected] });
        state.failures = 0;
        continue;
      }
      if (this.abort.signal.aborted) return; // our own shutdown: not the receiver's fault, nothing to record
      if (outcome.kind === 'permanent') {
        this.o.metrics?.alerts.inc({ receiver: target.name, result: 'permanent_failure' });
        this.log.warn({ ...fields, status: outcome.status, error: outcome.error }, 'alert refused by receiver, not retrying');
        rejected.set(target.name, `${target.name}: ${outcome.error}`);
        const error = `${target.name}: ${outcome.error}`;
        const refusal = { entryId: entry.id, error, time: answered, attempted: true, receivers: names, rejected: [...rejected] };
        await this.recordOrRetry(key, state, entry.id, (st, generation) => markRefused(st, refusal, generation));
        if (state.timer) return;
        continue;
      }
      this.o.metrics?.alerts.inc({ receiver: target.name, result: 'retry' });
      state.failures++;
      const delay = outcome.retryAfterMs !== undefined ? Math.min(outcome.retryAfterMs, this.o.maxRetryAfterMs ?? 3_600_000) : this.backoffMs(state.failures);
      if (outcome.retryAfterMs !== undefined) this.gate.holdUntil(target.url, answered + delay);
      this.log.warn({ ...fields, status: outcome.status, error: outcome.error, retryInMs: delay, failures: state.failures }, 'alert not delivered, will retry');
      await this.recordFailure(state, { entryId: entry.id, error: `${target.name}: ${outcome.error}`, time: answered, attempted: true });
      return this.retryLater(key, state, delay);
    }
  }

  /**
   * What the alert grouper already holds for the next pending entry of the Reservation as last
   * seen (`state.latest`): every receiver left waits for its group ('waiting'), or a group has
   * answered for one (the delivery to record). undefined when a receiver is not held: run() then
   * reads the Reservation and its Secrets fresh and routes it. A storm's members come here twice
   * (after their status write, and when their group is answered), so this path reads nothing from
   * the apiserver: Secrets through the shared memo, no GET of the Reservation. That is safe
   * because it never sends: the group does, and the mark is applied to the freshest status by the
   * writer (a mark already there is a no-op).
   */
  private async heldByGroup(state: KeyState): Promise<'waiting' | PendingMark | undefined> {
    const grouper = this.grouper;
    const latest = state.latest;
    const entry = nextPending(latest.status);
    if (!grouper || !entry) return undefined;
    await grouper.ready;
    const receivers = await resolveReceivers(this.memoRest, latest, this.o.defaultReceiver, this.o.receivers);
    const delivered = new Set(entry.deliveredTo ?? []);
    const rejected = state.rejected.get(entry.id);
    const expected = expectedTimeOf(entry, latest.status);
    let waiting = false;
    for (const r of receivers) {
      if (delivered.has(r.name) || rejected?.has(r.name)) continue;
      if (r.error || r.transientError || !r.url) return undefined;
      const route = grouper.routeHeld(state.namespace, state.name, entry, r as Target, expected, latest.status);
      if (route?.kind === 'wait') {
        waiting = true;
        continue;
      }
      if (route?.kind !== 'delivered') return undefined;
      return groupedMark(entry, { receiver: r.name, time: route.time, ...(route.group ? { group: route.group } : {}) }, receivers.map((x) => x.name), rejected);
    }
    return waiting ? 'waiting' : undefined;
  }

  /**
   * The next receiver of `entry` to send to, or why there is none now: a receiver not resolvable
   * yet, its alert group's answer, or every receiver left waiting for its group. Misconfigured
   * receivers and refusals by a group go into `rejected`.
   */
  private pick(key: string, fresh: Reservation, entry: OutboxEntry, receivers: Receiver[], rejected: Map<string, string>): Choice {
    const delivered = new Set(entry.deliveredTo ?? []);
    let waiting = false;
    for (const r of receivers) {
      if (delivered.has(r.name) || rejected.has(r.name)) continue;
      if (r.transientError) {
        this.log.warn({ reservation: key, receiver: r.name, error: r.transientError }, 'alert receiver not resolvable yet');
        return { transientError: `${r.name}: ${r.transientError}` };
      }
      if (r.error || !r.url) {
        const error = `${r.name} (${r.source}): ${r.error ?? 'no URL'}`;
        rejected.set(r.name, error);
        this.o.metrics?.alerts.inc({ receiver: r.name, result: 'permanent_failure' });
        this.log.warn({ reservation: key, receiver: r.name, entry: entry.id, error }, 'alert receiver misconfigured');
        continue;
      }
      const target = r as Target;
      if (target.type === 'slack') this.slackUrls.add(target.url);
      const route = this.grouper?.route(fresh.metadata.namespace ?? 'default', fresh.metadata.name, entry, target, expectedTimeOf(entry, fresh.status), fresh.status) ?? { kind: 'alone' };
      if (route.kind === 'alone') return { target, waiting };
      if (route.kind === 'wait') waiting = true;
      else if (route.kind === 'delivered') return { grouped: { receiver: r.name, time: route.time, ...(route.group ? { group: route.group } : {}) } };
      else rejected.set(r.name, route.error);
    }
    return { waiting };
  }

  /** A failed attempt in status (attempts, lastError), best effort: the retry does not depend on it. */
  private async recordFailure(state: KeyState, mark: FailureMark): Promise<void> {
    try {
      await this.record(state, (st, generation) => markRetrying(st, mark, generation));
    } catch (err) {
      this.log.warn({ err, reservation: `${state.namespace}/${state.name}`, entry: mark.entryId }, 'could not record an alert delivery error');
    }
  }

  /** A write that must land before going on; on failure a retry timer is armed (and state.timer is set). */
  private async recordOrRetry(key: string, state: KeyState, entryId: string, change: OutboxChange): Promise<void> {
    try {
      await this.record(state, change);
    } catch (err) {
      if (err instanceof KubeApiError && err.code === 404) return this.gone(key, state);
      this.log.warn({ err, reservation: key, entry: entryId }, 'could not record an alert result, retrying');
      this.retryLater(key, state, this.backoffMs(++state.failures));
    }
  }

  /** Stores what a pure outbox change (src/alerts/outbox.ts) returns (null: nothing to do) and keeps the stored copy. */
  private async record(state: KeyState, change: OutboxChange): Promise<void> {
    const stored = await this.o.writer.update(state.namespace, state.name, (current) => change(current.status, current.metadata.generation));
    if (newer(stored, state.latest) || stored.metadata.resourceVersion === state.latest.metadata.resourceVersion) state.latest = stored;
  }

  private gone(key: string, state: KeyState): void {
    this.log.info({ reservation: key }, 'reservation deleted, dropping its pending alerts');
    state.unrecorded.length = 0;
    if (this.keys.get(key) === state) this.keys.delete(key);
  }
}

/** The run a Missed alert is about (its group is that run's); other entries name none. */
function expectedTimeOf(entry: OutboxEntry, status: ReservationStatus | undefined): string | undefined {
  return entry.kind === 'alert' && entry.reason === 'Missed' ? status?.lastResult?.expectedTime : undefined;
}

/** A delivery its alert group made, as the mark to record (the entry is never sent again). */
function groupedMark(entry: OutboxEntry, grouped: Grouped, receivers: string[], rejected: ReadonlyMap<string, string> | undefined): PendingMark {
  const runKey = runKeyOf(entry);
  return { ...grouped, entryId: entry.id, ...(runKey ? { runKey } : {}), receivers, rejected: [...(rejected ?? [])], viaGrouper: true };
}
