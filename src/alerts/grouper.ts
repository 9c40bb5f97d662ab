// Alert grouping: when many Reservations go bad together, each receiver gets one message per
// cause instead of one per Reservation (README "Alert grouping"; docs/architecture.md, promise 2).
//
// Per receiver (where it sends) and cause (kind and reason), the first notification after a quiet
// period (QUIET_WINDOWS windows with none) goes alone, at once. What follows joins the cause's
// pending batch, and the receiver's pace decides when it goes (group commit): the batch is sent as
// one message as soon as the receiver is free (nothing of its own in flight, its rate allows a send
// now: Slack about one a second) and the window allows one (at most one message per window per
// receiver and cause, on average), after lingering a moment for company (deadlines are whole
// seconds, so a second's worth falls due together). A batch of one goes as a single message.
//
// Durable like single alerts: every member's outbox entry is in its status, or in a stored group,
// before anything names it. A group is stored (GroupStore.create) before it is sent, and marked
// (GroupStore.mark) after the receiver answered; then each member's status is marked delivered
// with the group's id, at whatever pace status writes allow. A notification announced before its
// status write (anticipate) that goes alone takes the same path as a stored group of one
// (`alone`), so it need not wait behind a storm's status writes: its status records no group. A
// new leader reads the stored groups first: it finishes those not marked, marks the members of
// those that are, and drops an unmarked alone one (its member is judged and routed again), never
// sending a marked member again. The crash window is the single alerts' one: the receiver
// answered and the mark was not stored yet.
import type { OutboxEntry, Reservation, ReservationStatus } from '../api/reservation.ts';
import { silentLogger, type Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { backoffDelay } from '../util/backoff.ts';
import { TokenBucket } from '../util/token-bucket.ts';
import type { Clock } from '../util/clock.ts';
import { timerDelay } from '../util/timers.ts';
import type { SendOutcome } from './classify.ts';
import { causeKey, MAX_GROUP_MEMBERS, memberKey, runKeyOf, targetHash, type AlertGroup, type GroupMark, type GroupMember } from './group.ts';
import type { GroupRecords } from './group-store.ts';
import type { ReceiverGate } from './receiver-gate.ts';
import { redactUrl, type Receiver } from './receivers.ts';
import type { SendOptions } from './slack.ts';

export type Target = Receiver & { url: string };

/** What the dispatcher does with one receiver of one entry. */
export type Route =
  | { kind: 'alone' }
  | { kind: 'wait' }
  /** Delivered by its stored group (`group`), or alone through a stored record of one (no `group`). */
  | { kind: 'delivered'; group?: string; time: number }
  | { kind: 'refused'; group?: string; error: string };

/** What a single message is rendered from: the Reservation as judged and its entry. */
export interface Single {
  reservation: Reservation;
  entry: OutboxEntry;
}

export interface GrouperOptions {
  store: GroupRecords;
  windowMs: number;
  clock: Clock;
  gate: ReceiverGate;
  send: (target: Target, group: AlertGroup, options: SendOptions) => Promise<SendOutcome>;
  /** Sends one notification as the normal single message. */
  sendSingle: (target: Target, single: Single, options: SendOptions) => Promise<SendOutcome>;
  /** A member's group has been answered: look at its Reservation again. */
  wake: (namespace: string, name: string) => void;
  /** Where a stored group goes, found again from a member's spec.notify (after a restart). */
  resolveTarget: (group: AlertGroup) => Promise<Target | undefined>;
  logger?: Logger;
  metrics?: Pick<Metrics, 'alerts' | 'alertLatencySeconds'>;
  sendTimeoutMs?: number;
  maxRetryAfterMs?: number;
}

/** One receiver and cause's notifications waiting for its next message. */
interface Batch {
  key: string;
  /** targetHash(target): the receiver's queue. */
  hash: string;
  target: Target;
  kind: OutboxEntry['kind'];
  reason: string;
  members: GroupMember[];
  /** Its only member, when it was announced before its status write: sent singly if it stays alone. */
  single?: Single;
  lastAt: number;
  /** When its first member joined (for the delivered log's timings). */
  firstAt: number;
  /** Set once it waits for the next whole second's burst (holdFor): at most once. */
  heldUntil?: number;
  /** When its turn came (the receiver and the window allowed a send): lingering starts then. */
  turnAt?: number;
  /** Set while a look is due; unset while the receiver's queue is busy (kick looks again). */
  timer?: NodeJS.Timeout;
}

/** Per receiver and cause: when its last notification came, and its pace (one message per window, bursts of PACE_BURST). */
interface Cause {
  lastAt: number;
  pace: TokenBucket;
}

interface GroupState {
  group: AlertGroup;
  target?: Target;
  stored: boolean;
  mark?: GroupMark;
  /** The receiver's answer, kept while its mark is not stored: the mark is retried, never the send. */
  answer?: GroupMark;
  /** A group of one (group.alone) sent as the normal single message. */
  single?: Single;
  failures: number;
  /** Members whose status has the mark. */
  recorded: Set<string>;
  /** Epoch ms of its members' first and last arrival and of its flush, for the delivered log. */
  times?: { first: number; last: number; flush: number; stored?: number; sent?: number };
}

type Held = { batch: Batch } | { state: GroupState } | 'alone';

/** Delivered groups are deleted once every member's status has the mark, or after this long. */
export const GROUP_TTL_MS = 3_600_000;
const BACKOFF = { initialMs: 1000, maxMs: 60_000, jitter: 0.1 };
/** How long a member routed alone is remembered so: longer than any status write or retry takes to bring it back. */
const ALONE_MEMORY_MS = 15 * 60_000;
/** A cause is quiet (its next notification goes alone) after this many windows without one. */
export const QUIET_WINDOWS = 2;
/**
 * A cause's pace allows bursts of this many messages (one per window on average): a storm's first
 * second costs two (its lone first notification, then the rest as one group), and the one left
 * over lets the turn move back to just after the next second's burst when a turn came late (a
 * budget with none over keeps every later turn as late as the latest one, Slack's burst of 3 too).
 */
const PACE_BURST = 3;
/** A burst's batch whose turn comes this late in its second waits for the next one's (holdFor). */
const LATE_TURN_MS = 500;
/**
 * At its turn, a batch is sent once no member joined for this long (a second's deadlines fire
 * together, but are judged over some tens of ms on a loaded machine: 50 ms split bursts) ...
 */
const LINGER_GAP_MS = 100;
/** ... or once its turn came this long ago (a storm that keeps coming). */
const LINGER_MAX_MS = 250;

export class AlertGrouper {
  /** Resolves once the stored groups are read: nothing is routed before. */
  readonly ready: Promise<void>;
  private readonly o: GrouperOptions;
  private readonly log: Logger;
  private readonly held = new Map<string, Held>();
  /** When each member held 'alone' was routed so, oldest first (to forget them). */
  private readonly aloneAt = new Map<string, number>();
  private readonly batches = new Map<string, Batch>();
  /** Alert groups by the outage of each member (outageKey): a later run of it is the same alert (sameOutage). */
  private readonly outages = new Map<string, Set<GroupState>>();
  /** A later run's member key -> the stored member it stands for (sameOutage). */
  private readonly aliases = new Map<string, string>();
  private readonly causes = new Map<string, Cause>();
  /** Groups waiting to be stored, sent or marked, per target hash: one send in flight per receiver. */
  private readonly queues = new Map<string, GroupState[]>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly abort = new AbortController();
  /** Ends every wait between attempts (stop). */
  private readonly wakeUp = new AbortController();
  private stopped = false;

  constructor(options: GrouperOptions) {
    this.o = options;
    this.log = options.logger ?? silentLogger;
    this.ready = this.load();
  }

  private now(): number {
    return this.o.clock().getTime();
  }

  /** Routes one receiver of one pending entry: alone now, wait for its group, or its group's answer. */
  route(namespace: string, name: string, entry: OutboxEntry, target: Target, expectedTime?: string, status?: ReservationStatus): Route {
    const held = this.routeHeld(namespace, name, entry, target, expectedTime, status);
    if (held) return held;
    if (this.o.windowMs <= 0 || this.stopped) return { kind: 'alone' };
    // Its status is written: alone, the dispatcher sends it itself.
    const member = memberOf(namespace, name, entry, target, expectedTime);
    return this.place(member, target, entry) ? { kind: 'wait' } : { kind: 'alone' };
  }

  /**
   * The route of a member already held (in a batch, a group, or routed alone), without placing
   * it anywhere: undefined when the grouper does not hold it. The dispatcher asks this first, so a
   * member its group sends needs no fresh read of its Reservation.
   */
  routeHeld(namespace: string, name: string, entry: OutboxEntry, target: Target, expectedTime?: string, status?: ReservationStatus): Route | undefined {
    const member = memberOf(namespace, name, entry, target, expectedTime);
    const mk = memberKey(member);
    const held = this.held.get(mk) ?? this.sameOutage(member, mk, status);
    // Routed alone once: alone every time (a retry, or its status arriving after anticipate).
    if (held === 'alone') return { kind: 'alone' };
    if (held && 'state' in held) {
      const { mark, group } = held.state;
      const id = group.alone ? {} : { group: group.id };
      if (!mark) return { kind: 'wait' };
      if (mark.result === 'delivered') return { kind: 'delivered', ...id, time: Date.parse(mark.time) };
      return { kind: 'refused', ...id, error: mark.error ?? `group ${group.id} refused` };
    }
    return held ? { kind: 'wait' } : undefined;
  }

  /**
   * Announces an alert judged from the cache whose status write has not happened yet (a storm's
   * status writes take tens of seconds): it joins its cause's batch now, so the message that names
   * it goes at the receiver's next turn, not at the pace of status writes. The first of a quiet
   * period goes alone at once, as the normal single message, through a stored group of one. Either
   * way it is stored before it is sent, and the member is found again by its run (runKeyOf) when
   * its status, or a new leader's judgement of it, arrives (route). `reservation` is the
   * Reservation as judged, with this entry in its status: what a single message is rendered from.
   */
  anticipate(namespace: string, name: string, entry: OutboxEntry, target: Target, expectedTime?: string, reservation?: Reservation): void {
    if (entry.kind !== 'alert' || this.o.windowMs <= 0 || this.stopped) return;
    const member = memberOf(namespace, name, entry, target, expectedTime);
    const mk = memberKey(member);
    if (this.held.has(mk) || this.sameOutage(member, mk, reservation?.status)) return;
    this.place(member, target, entry, reservation ? { reservation, entry } : undefined);
  }

  /**
   * A new notification for its receiver and cause. After a quiet period it goes alone: held
   * 'alone' for the dispatcher (false), or, announced before its status write (`single`), sent
   * now through a stored group of one (true). Otherwise it joins the cause's batch (true).
   */
  private place(member: GroupMember, target: Target, entry: Pick<OutboxEntry, 'kind' | 'reason'>, single?: Single): boolean {
    const hash = targetHash(target);
    const key = causeKey(hash, entry);
    const now = this.now();
    const cause = this.cause(key, now);
    const quiet = !this.batches.has(key) && now - cause.lastAt >= QUIET_WINDOWS * this.o.windowMs;
    cause.lastAt = now;
    const mk = memberKey(member);
    if (quiet) {
      cause.pace.take(now, this.paceRate()); // it is a message: the next one waits its turn
      if (!single) {
        this.setAlone(mk);
        return false;
      }
      this.enqueueAlone(member, target, entry, single);
      return true;
    }
    let batch = this.batches.get(key);
    if (!batch) {
      batch = { key, hash, target, kind: entry.kind, reason: entry.reason, members: [], lastAt: now, firstAt: now };
      this.batches.set(key, batch);
    }
    batch.members.push(member);
    batch.lastAt = now;
    if (batch.members.length === 1 && single) batch.single = single;
    else delete batch.single;
    this.held.set(mk, { batch });
    if (!batch.timer) this.look(batch);
    return true;
  }

  /** Messages per second one cause may send on average: one per window. */
  private paceRate(): number {
    return 1000 / this.o.windowMs;
  }

  /** A cause's state; causes quiet for long are forgotten on the way. */
  private cause(key: string, now: number): Cause {
    let cause = this.causes.get(key);
    if (cause) return cause;
    for (const [k, c] of this.causes) if (now - c.lastAt > 2 * QUIET_WINDOWS * this.o.windowMs && !this.batches.has(k)) this.causes.delete(k);
    cause = { lastAt: -Infinity, pace: new TokenBucket(PACE_BURST, now) };
    this.causes.set(key, cause);
    return cause;
  }

  /**
   * How long until `batch` may go: Infinity while its receiver has a message in flight (kick
   * looks again when it is done), else until its turn (the receiver's rate and Retry-After, the
   * cause's pace), then its linger. 0 takes the cause's pace token: it goes now.
   */
  private waitFor(batch: Batch): number {
    if (this.running.has(batch.hash)) return Infinity;
    const now = this.now();
    const gap = Math.min(LINGER_GAP_MS, this.o.windowMs);
    const pace = this.causes.get(batch.key)?.pace ?? new TokenBucket(PACE_BURST, now);
    const turn = Math.max(this.o.gate.wait(batch.target.url, now), Math.ceil(pace.waitAt(now, this.paceRate())));
    if (turn > 0) return turn;
    const hold = this.holdFor(batch, pace, now);
    if (hold > 0) return hold;
    // Its turn has come: linger from then (not from its first member, who may have waited a whole
    // turn already) until no member joined for a moment, so a second's burst is not split. After a
    // hold, the second's burst is what it waits for: linger as if a member joined at the second.
    batch.turnAt ??= now;
    const lastAt = Math.max(batch.lastAt, batch.heldUntil ?? -Infinity);
    const linger = Math.min(Math.max(0, lastAt + gap - now), Math.max(0, batch.turnAt + Math.min(LINGER_MAX_MS, this.o.windowMs) - now));
    if (linger > 0) return linger;
    return pace.take(now, this.paceRate()) ? 0 : 1;
  }

  /**
   * How long a batch whose turn has come waits for the next whole second instead (0: not at all).
   * Deadlines are whole seconds (Kubernetes times, cron minutes), so in a storm the next second's
   * burst comes for this receiver too, and every message costs the receiver's rate budget, which
   * refills at one a second: a second with a burst never leaves any over. A batch that would spend
   * the token the next second's burst needs goes with that burst instead, once, when it is a batch
   * of stragglers (its first member came well after its second's burst) or its turn came late in
   * its second (LATE_TURN_MS: the budget was spent late, by a refusal or a slow send; sending now
   * would keep every later turn as late). Otherwise that burst, and every one after it, waits for
   * its token. With a token to spare it goes at once.
   */
  private holdFor(batch: Batch, pace: TokenBucket, now: number): number {
    if (batch.heldUntil !== undefined) return Math.max(0, batch.heldUntil - now);
    const second = Math.floor(batch.firstAt / 1000) * 1000;
    if (now - second >= 1000) return 0; // its turn came in a later second: it goes now
    const own = batch.firstAt - second < Math.min(LINGER_MAX_MS, this.o.windowMs);
    if (own && now - second < LATE_TURN_MS) return 0; // its own second's burst, on time
    const next = second + 1000;
    const spends = pace.afterTake(now, next, this.paceRate()) < 1 || !this.o.gate.keeps(batch.target.url, now, next);
    if (!spends) return 0;
    batch.heldUntil = next;
    return next - now;
  }

  /** Sends `batch` if it may go now, else looks again when it may. */
  private look(batch: Batch): void {
    if (batch.timer) clearTimeout(batch.timer);
    delete batch.timer;
    if (this.stopped || this.batches.get(batch.key) !== batch) return;
    const wait = this.waitFor(batch);
    if (wait === 0) return this.flush(batch);
    if (wait !== Infinity) batch.timer = setTimeout(() => this.look(batch), timerDelay(wait));
  }

  /** The receiver `hash` has nothing in flight any more: its waiting batches may go. */
  private kick(hash: string): void {
    for (const batch of this.batches.values()) if (batch.hash === hash && !batch.timer) this.look(batch);
  }

  /** Remembers that a member went alone, for ALONE_MEMORY_MS (its retries and late routes agree). */
  private setAlone(mk: string): void {
    const now = this.now();
    this.held.set(mk, 'alone');
    this.aloneAt.delete(mk); // re-inserted: the map stays in time order for the loop below
    this.aloneAt.set(mk, now);
    for (const [k, at] of this.aloneAt) {
      if (now - at < ALONE_MEMORY_MS) break; // in insertion order: the rest are younger
      this.aloneAt.delete(k);
      if (this.held.get(k) === 'alone') this.held.delete(k);
    }
  }

  /**
   * A stored group's member for the same outage as `member`, whose status never recorded it: a
   * leader that died before a member's status write named it in a group for one run, and the next
   * leader judged a later run of the same outage (its runKey differs). It is the same alert, so
   * `member` is held by that group (never sent again): same Reservation, receiver, kind and
   * reason, an earlier or equal due time, and no success or recovery since that due time.
   */
  private sameOutage(member: GroupMember, mk: string, status: ReservationStatus | undefined): Held | undefined {
    if (!member.runKey || !status) return undefined;
    const states = this.outages.get(outageKey(member));
    if (!states) return undefined;
    const due = Date.parse(member.dueTime);
    for (const state of states) {
      const m = state.group.members.find((x) => x.namespace === member.namespace && x.name === member.name && x.receiver === member.receiver);
      const from = m ? Date.parse(m.dueTime) : NaN;
      if (!m || !(from <= due) || state.recorded.has(memberKey(m)) || this.recoveredSince(status, from)) continue;
      const held = { state };
      this.held.set(mk, held);
      this.aliases.set(mk, memberKey(m));
      return held;
    }
    return undefined;
  }

  private recoveredSince(status: ReservationStatus, from: number): boolean {
    if (status.lastSuccessTime && Date.parse(status.lastSuccessTime) >= from) return true;
    return (status.alert?.outbox ?? []).some((e) => e.kind === 'recovery' && Date.parse(e.dueTime) >= from);
  }

  /** A member's status now has its group's mark: once all have it, the group is deleted. */
  recorded(namespace: string, name: string, entryId: string, receiver: string, runKey?: string): void {
    const key = memberKey({ namespace, name, entryId, receiver, ...(runKey ? { runKey } : {}) });
    const held = this.held.get(key);
    if (!held || held === 'alone' || !('state' in held) || !held.state.mark) return;
    const mk = this.aliases.get(key) ?? key;
    const s = held.state;
    s.recorded.add(mk);
    if (s.mark && s.recorded.size >= s.group.members.length) void this.forget(s);
  }

  /**
   * Stops: batches and retry waits end (their members stay pending in status); a send in flight
   * gets `timeoutMs` to be answered and marked, then it is aborted.
   */
  async stop(timeoutMs = 5000): Promise<void> {
    this.stopped = true;
    for (const b of this.batches.values()) clearTimeout(b.timer);
    this.batches.clear();
    this.wakeUp.abort();
    const all = Promise.allSettled([...this.running.values(), this.ready]);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    this.abort.abort(new Error('the alert grouper is stopping'));
    await all;
  }

  /** A batch's turn: one member goes alone, several as groups (of at most MAX_GROUP_MEMBERS). */
  private flush(batch: Batch): void {
    this.batches.delete(batch.key);
    if (batch.members.length === 1) {
      const m = batch.members[0]!;
      if (batch.single) return this.enqueueAlone(m, batch.target, batch, batch.single, { first: batch.firstAt, last: batch.lastAt, flush: this.now() });
      this.setAlone(memberKey(m)); // its status is written: the dispatcher sends it
      this.o.wake(m.namespace, m.name);
      return;
    }
    for (let i = 0; i < batch.members.length; i += MAX_GROUP_MEMBERS) {
      const members = batch.members.slice(i, i + MAX_GROUP_MEMBERS);
      const times = { first: batch.firstAt, last: batch.lastAt, flush: this.now() };
      const state: GroupState = { group: this.newGroup(batch.target, batch, members), target: batch.target, stored: false, failures: 0, recorded: new Set(), times };
      for (const m of members) this.held.set(memberKey(m), { state });
      this.enqueue(state);
    }
  }

  /** One notification announced before its status write, sent alone: stored as a group of one first. */
  private enqueueAlone(member: GroupMember, target: Target, cause: Pick<OutboxEntry, 'kind' | 'reason'>, single: Single, times?: GroupState['times']): void {
    const now = this.now();
    const state: GroupState = { group: { ...this.newGroup(target, cause, [member]), alone: true }, target, single, stored: false, failures: 0, recorded: new Set(), times: times ?? { first: now, last: now, flush: now } };
    this.held.set(memberKey(member), { state });
    this.enqueue(state);
  }

  private newGroup(target: Target, cause: Pick<OutboxEntry, 'kind' | 'reason'>, members: GroupMember[]): AlertGroup {
    const now = this.now();
    const id = `${now.toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    return { id, kind: cause.kind, reason: cause.reason, target: { type: target.type, hash: targetHash(target) }, createdTime: new Date(now).toISOString(), members };
  }

  /** Reads the stored groups: finishes what is not marked, remembers what is, drops what is old. */
  private async load(): Promise<void> {
    for (let failures = 1; !this.stopped; failures++) {
      try {
        const stored = await this.o.store.list((name, err) => this.log.warn({ err, configMap: name }, 'unreadable alert group record, ignored'));
        const now = this.now();
        for (const { group, mark, createdMs } of stored) {
          if (mark && now - createdMs > GROUP_TTL_MS) {
            await this.o.store.delete(group.id).catch((err: unknown) => this.log.warn({ err, group: group.id }, 'could not delete an old alert group'));
            continue;
          }
          if (group.alone && !mark) {
            // Not known to be sent, and a single message cannot be rendered from its record: its
            // member is still pending in status (or judged again), so it is routed anew.
            await this.o.store.delete(group.id).catch((err: unknown) => this.log.warn({ err, group: group.id }, 'could not delete an unsent alone alert record'));
            continue;
          }
          const state: GroupState = { group, stored: true, failures: 0, recorded: new Set(), ...(mark ? { mark } : {}) };
          for (const m of group.members) this.held.set(memberKey(m), { state });
          if (!mark) this.enqueue(state);
          else this.track(state);
        }
        if (stored.length > 0) this.log.info({ groups: stored.length }, 'alert groups read');
        return;
      } catch (err) {
        this.log.warn({ err }, 'could not read the alert groups, retrying');
        await this.sleep(backoffDelay(failures, BACKOFF));
      }
    }
  }

  /** Indexes an alert group's members by their outage (sameOutage). */
  private track(state: GroupState): void {
    if (state.group.kind !== 'alert') return;
    for (const m of state.group.members) {
      const key = outageKey(m);
      const set = this.outages.get(key) ?? new Set();
      set.add(state);
      this.outages.set(key, set);
    }
  }

  private untrack(state: GroupState): void {
    for (const m of state.group.members) {
      const set = this.outages.get(outageKey(m));
      set?.delete(state);
      if (set?.size === 0) this.outages.delete(outageKey(m));
    }
  }

  private enqueue(state: GroupState): void {
    this.track(state);
    const hash = state.group.target.hash;
    const queue = this.queues.get(hash) ?? [];
    queue.push(state);
    this.queues.set(hash, queue);
    if (this.running.has(hash)) return;
    const loop = this.drain(hash).finally(() => {
      this.running.delete(hash);
      this.kick(hash); // group commit: what gathered meanwhile goes next
    });
    this.running.set(hash, loop);
  }

  /** One receiver's groups, oldest first, one at a time: a slow receiver holds up only its own. */
  private async drain(hash: string): Promise<void> {
    const queue = this.queues.get(hash)!;
    while (queue.length > 0 && !this.stopped) {
      const state = queue[0]!;
      try {
        const wait = await this.deliver(state);
        if (wait > 0) {
          await this.sleep(wait);
          continue;
        }
      } catch (err) {
        this.log.warn({ err, group: state.group.id }, 'alert group not finished, retrying');
        await this.sleep(backoffDelay(++state.failures, BACKOFF));
        continue;
      }
      queue.shift();
    }
    if (queue.length === 0) this.queues.delete(hash);
  }

  /** Stores, sends and marks one group; returns how long to wait before trying again (0: done). */
  private async deliver(state: GroupState): Promise<number> {
    const { group } = state;
    if (state.answer) return this.finish(state, state.answer);
    if (!state.stored) {
      await this.o.store.create(group); // throws: retried; members stay pending meanwhile
      state.stored = true;
      if (state.times) state.times.stored = this.now();
    }
    state.target ??= await this.o.resolveTarget(group);
    if (!state.target) return this.finish(state, { result: 'refused', time: new Date(this.now()).toISOString(), error: 'the receiver can no longer be resolved from any member' });
    const target = state.target;
    const wait = this.o.gate.take(target.url, this.now());
    if (wait > 0) return wait;
    const options: SendOptions = { signal: this.abort.signal, timeoutMs: this.o.sendTimeoutMs ?? 15_000, clock: this.o.clock };
    if (state.times) state.times.sent = this.now();
    const outcome = await (state.single ? this.o.sendSingle(target, state.single, options) : this.o.send(target, group, options));
    const answered = this.now();
    const fields = { group: group.id, kind: group.kind, reason: group.reason, members: group.members.length, ...(group.alone ? { alone: true } : {}), receiver: target.name, url: redactUrl(target.url), target: group.target.hash };
    if (this.abort.signal.aborted) return 0;
    if (outcome.kind === 'delivered') {
      this.o.metrics?.alerts.inc({ receiver: target.name, result: 'delivered' });
      for (const m of group.members) {
        const due = Date.parse(m.dueTime);
        if (Number.isFinite(due)) this.o.metrics?.alertLatencySeconds.observe({ receiver: target.name }, Math.max(0, (answered - due) / 1000));
      }
      this.log.info({ ...fields, ...timings(group, state.times, answered) }, 'alert group delivered');
      // Crash window: accepted, not yet marked (a new leader would send this group once more).
      return this.finish(state, { result: 'delivered', time: new Date(answered).toISOString() });
    }
    if (outcome.kind === 'permanent') {
      this.o.metrics?.alerts.inc({ receiver: target.name, result: 'permanent_failure' });
      this.log.warn({ ...fields, error: outcome.error }, 'alert group refused by receiver, not retrying');
      return this.finish(state, { result: 'refused', time: new Date(answered).toISOString(), error: `${target.name}: ${outcome.error}` });
    }
    this.o.metrics?.alerts.inc({ receiver: target.name, result: 'retry' });
    const delay = outcome.retryAfterMs !== undefined ? Math.min(outcome.retryAfterMs, this.o.maxRetryAfterMs ?? 3_600_000) : backoffDelay(++state.failures, BACKOFF);
    if (outcome.retryAfterMs !== undefined) this.o.gate.holdUntil(target.url, answered + delay);
    this.log.warn({ ...fields, error: outcome.error, retryInMs: delay }, 'alert group not delivered, will retry');
    return Math.max(1, delay);
  }

  /** Stores the answer (retried until it is), then wakes every member to record it in its status. */
  private async finish(state: GroupState, mark: GroupMark): Promise<number> {
    state.answer = mark;
    await this.o.store.mark(state.group.id, mark); // false: marked already; its answer stands either way
    state.mark = mark;
    for (const m of state.group.members) this.o.wake(m.namespace, m.name);
    return 0;
  }

  private async forget(state: GroupState): Promise<void> {
    for (const m of state.group.members) this.held.delete(memberKey(m));
    for (const alias of this.aliases.keys()) {
      const held = this.held.get(alias);
      const mine = held !== undefined && held !== 'alone' && 'state' in held && held.state === state;
      if (mine) this.held.delete(alias);
      if (mine || !held) this.aliases.delete(alias);
    }
    this.untrack(state);
    try {
      await this.o.store.delete(state.group.id);
    } catch (err) {
      this.log.warn({ err, group: state.group.id }, 'could not delete a finished alert group (it expires)');
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        this.timers.delete(t);
        this.wakeUp.signal.removeEventListener('abort', done);
        resolve();
      };
      if (this.wakeUp.signal.aborted) return resolve();
      const t = setTimeout(done, timerDelay(ms));
      this.timers.add(t);
      this.wakeUp.signal.addEventListener('abort', done, { once: true });
    });
  }
}

/**
 * Where a delivered group's time went, in ms after its earliest member's due time: its members'
 * first and last arrival, its flush (the turn and the linger), its record stored, its send begun
 * (the receiver's rate), the receiver's answer. For tuning the pacing from the operator's log.
 */
function timings(group: AlertGroup, times: GroupState['times'], answered: number): Record<string, number> {
  const dues = group.members.map((m) => Date.parse(m.dueTime)).filter(Number.isFinite);
  const due = Math.min(...dues);
  if (!times || !Number.isFinite(due)) return {};
  const at = (t: number | undefined): number => (t === undefined ? NaN : t - due);
  return { dueSpreadMs: Math.max(...dues) - due, firstMs: at(times.first), lastMs: at(times.last), flushMs: at(times.flush), storedMs: at(times.stored), sendMs: at(times.sent), answeredMs: at(answered) };
}

function memberOf(namespace: string, name: string, entry: OutboxEntry, target: Target, expectedTime?: string): GroupMember {
  const runKey = runKeyOf(entry);
  return { namespace, name, entryId: entry.id, receiver: target.name, dueTime: entry.dueTime, ...(runKey ? { runKey } : {}), ...(expectedTime ? { expectedTime } : {}) };
}

/** One Reservation's alerts of one reason to one receiver: its outage, whatever run is judged. */
function outageKey(m: Pick<GroupMember, 'namespace' | 'name' | 'receiver' | 'runKey'>): string {
  const reason = m.runKey?.split('|')[1] ?? '';
  return `${m.namespace}/${m.name}|${m.receiver}|${reason}`;
}
