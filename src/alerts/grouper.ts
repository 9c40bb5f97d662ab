// Alert grouping: when many Reservations go bad together, each receiver gets one message per
// cause instead of one per Reservation (README "Alert grouping"; docs/architecture.md, promise 2).
//
// Per receiver (where it sends) and cause (kind and reason), a quiet period ends with the first
// notification: it goes alone, at once, and opens a window (--alert-group-window). What arrives
// for that receiver and cause within the window waits; when the window closes, one member alone is
// sent alone (mid-storm it first waits one more window for company), several become a group, and
// a new window opens (a storm keeps being grouped until a window closes empty).
//
// Durable like single alerts: every member's outbox entry is in its status before it gets here.
// A group is stored (GroupStore.create) before it is sent, and marked (GroupStore.mark) after the
// receiver answered; then each member's status is marked delivered with the group's id, at
// whatever pace status writes allow. A new leader reads the stored groups first: it finishes
// those not marked and marks the members of those that are, never sending a member again. The
// crash window is the single alerts' one: the receiver answered and the mark was not stored yet.
import type { OutboxEntry } from '../api/reservation.ts';
import { silentLogger, type Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { backoffDelay } from '../util/backoff.ts';
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
  | { kind: 'delivered'; group: string; time: number }
  | { kind: 'refused'; group: string; error: string };

export interface GrouperOptions {
  store: GroupRecords;
  windowMs: number;
  clock: Clock;
  gate: ReceiverGate;
  send: (target: Target, group: AlertGroup, options: SendOptions) => Promise<SendOutcome>;
  /** A member's group has been answered: look at its Reservation again. */
  wake: (namespace: string, name: string) => void;
  /** Where a stored group goes, found again from a member's spec.notify (after a restart). */
  resolveTarget: (group: AlertGroup) => Promise<Target | undefined>;
  logger?: Logger;
  metrics?: Pick<Metrics, 'alerts' | 'alertLatencySeconds'>;
  sendTimeoutMs?: number;
  maxRetryAfterMs?: number;
}

interface Window {
  key: string;
  target: Target;
  kind: OutboxEntry['kind'];
  reason: string;
  members: GroupMember[];
  timer: NodeJS.Timeout;
  /** Opened because the last window had members: a storm is going on. */
  storm: boolean;
  /** Holds a member carried over from the last window. */
  carried: boolean;
}

interface GroupState {
  group: AlertGroup;
  target?: Target;
  stored: boolean;
  mark?: GroupMark;
  /** The receiver's answer, kept while its mark is not stored: the mark is retried, never the send. */
  answer?: GroupMark;
  failures: number;
  /** Members whose status has the mark. */
  recorded: Set<string>;
}

type Held = { window: Window } | { state: GroupState } | 'alone';

/** Delivered groups are deleted once every member's status has the mark, or after this long. */
export const GROUP_TTL_MS = 3_600_000;
const BACKOFF = { initialMs: 1000, maxMs: 60_000, jitter: 0.1 };
/** How long a member routed alone is remembered so: longer than any status write or retry takes to bring it back. */
const ALONE_MEMORY_MS = 15 * 60_000;

export class AlertGrouper {
  /** Resolves once the stored groups are read: nothing is routed before. */
  readonly ready: Promise<void>;
  private readonly o: GrouperOptions;
  private readonly log: Logger;
  private readonly held = new Map<string, Held>();
  /** When each member held 'alone' was routed so, oldest first (to forget them). */
  private readonly aloneAt = new Map<string, number>();
  private readonly windows = new Map<string, Window>();
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
  route(namespace: string, name: string, entry: OutboxEntry, target: Target, expectedTime?: string): Route {
    const runKey = runKeyOf(entry);
    const member: GroupMember = { namespace, name, entryId: entry.id, receiver: target.name, dueTime: entry.dueTime, ...(runKey ? { runKey } : {}), ...(expectedTime ? { expectedTime } : {}) };
    const mk = memberKey(member);
    const held = this.held.get(mk);
    // Routed alone once: alone every time (a retry, or its status arriving after anticipate).
    if (held === 'alone') return { kind: 'alone' };
    if (held && 'state' in held) {
      const { mark, group } = held.state;
      if (!mark) return { kind: 'wait' };
      if (mark.result === 'delivered') return { kind: 'delivered', group: group.id, time: Date.parse(mark.time) };
      return { kind: 'refused', group: group.id, error: mark.error ?? `group ${group.id} refused` };
    }
    if (held) return { kind: 'wait' };
    if (this.o.windowMs <= 0 || this.stopped) return { kind: 'alone' };
    const key = causeKey(targetHash(target), entry);
    const window = this.windows.get(key);
    if (!window) {
      this.open(key, target, entry);
      this.setAlone(mk);
      return { kind: 'alone' };
    }
    window.members.push(member);
    this.held.set(mk, { window });
    return { kind: 'wait' };
  }

  /**
   * Announces an alert judged from the cache whose status write has not happened yet (a storm's
   * status writes take tens of seconds): it joins its cause's open window now, so the group that
   * names it goes out within the window, not at the pace of status writes. The first of a quiet
   * period is held 'alone': it is sent singly, after its status write, as always. The group is
   * stored before it is sent, and the member is found again by its run (runKeyOf) when its
   * status, or a new leader's judgement of it, arrives (route).
   */
  anticipate(namespace: string, name: string, entry: OutboxEntry, target: Target, expectedTime?: string): void {
    if (entry.kind !== 'alert') return;
    const mk = memberKey({ namespace, name, entryId: entry.id, receiver: target.name, runKey: runKeyOf(entry)! });
    if (this.held.has(mk)) return;
    this.route(namespace, name, entry, target, expectedTime);
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

  /** A member's status now has its group's mark: once all have it, the group is deleted. */
  recorded(namespace: string, name: string, entryId: string, receiver: string, runKey?: string): void {
    const mk = memberKey({ namespace, name, entryId, receiver, ...(runKey ? { runKey } : {}) });
    const held = this.held.get(mk);
    if (!held || held === 'alone' || !('state' in held)) return;
    const s = held.state;
    s.recorded.add(mk);
    if (s.mark && s.recorded.size >= s.group.members.length) void this.forget(s);
  }

  /**
   * Stops: windows and retry waits end (their members stay pending in status); a send in flight
   * gets `timeoutMs` to be answered and marked, then it is aborted.
   */
  async stop(timeoutMs = 5000): Promise<void> {
    this.stopped = true;
    for (const w of this.windows.values()) clearTimeout(w.timer);
    this.windows.clear();
    this.wakeUp.abort();
    const all = Promise.allSettled([...this.running.values(), this.ready]);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    this.abort.abort(new Error('the alert grouper is stopping'));
    await all;
  }

  private open(key: string, target: Target, entry: Pick<OutboxEntry, 'kind' | 'reason'>, storm = false): Window {
    const timer = setTimeout(() => this.close(key), this.o.windowMs);
    const window: Window = { key, target, kind: entry.kind, reason: entry.reason, members: [], timer, storm, carried: false };
    this.windows.set(key, window);
    return window;
  }

  /** A window closed: its members go out (alone, or as groups), and the next window opens. */
  private close(key: string): void {
    const w = this.windows.get(key);
    this.windows.delete(key);
    if (!w || this.stopped || w.members.length === 0) return;
    const next = this.open(key, w.target, w, true);
    if (w.members.length === 1) {
      const m = w.members[0]!;
      if (w.storm && !w.carried) {
        // Mid-storm, one straggler waits one more window for company rather than go alone.
        next.members.push(m);
        next.carried = true;
        this.held.set(memberKey(m), { window: next });
        return;
      }
      this.setAlone(memberKey(m));
      this.o.wake(m.namespace, m.name);
      return;
    }
    const now = this.now();
    for (let i = 0; i < w.members.length; i += MAX_GROUP_MEMBERS) {
      const members = w.members.slice(i, i + MAX_GROUP_MEMBERS);
      const id = `${now.toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
      const group: AlertGroup = { id, kind: w.kind, reason: w.reason, target: { type: w.target.type, hash: targetHash(w.target) }, createdTime: new Date(now).toISOString(), members };
      const state: GroupState = { group, target: w.target, stored: false, failures: 0, recorded: new Set() };
      for (const m of members) this.held.set(memberKey(m), { state });
      this.enqueue(state);
    }
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
          const state: GroupState = { group, stored: true, failures: 0, recorded: new Set(), ...(mark ? { mark } : {}) };
          for (const m of group.members) this.held.set(memberKey(m), { state });
          if (!mark) this.enqueue(state);
        }
        if (stored.length > 0) this.log.info({ groups: stored.length }, 'alert groups read');
        return;
      } catch (err) {
        this.log.warn({ err }, 'could not read the alert groups, retrying');
        await this.sleep(backoffDelay(failures, BACKOFF));
      }
    }
  }

  private enqueue(state: GroupState): void {
    const hash = state.group.target.hash;
    const queue = this.queues.get(hash) ?? [];
    queue.push(state);
    this.queues.set(hash, queue);
    if (this.running.has(hash)) return;
    const loop = this.drain(hash).finally(() => this.running.delete(hash));
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
    }
    state.target ??= await this.o.resolveTarget(group);
    if (!state.target) return this.finish(state, { result: 'refused', time: new Date(this.now()).toISOString(), error: 'the receiver can no longer be resolved from any member' });
    const target = state.target;
    const wait = this.o.gate.take(target.url, this.now());
    if (wait > 0) return wait;
    const outcome = await this.o.send(target, group, { signal: this.abort.signal, timeoutMs: this.o.sendTimeoutMs ?? 15_000, clock: this.o.clock });
    const answered = this.now();
    const fields = { group: group.id, kind: group.kind, reason: group.reason, members: group.members.length, receiver: target.name, url: redactUrl(target.url) };
    if (this.abort.signal.aborted) return 0;
    if (outcome.kind === 'delivered') {
      this.o.metrics?.alerts.inc({ receiver: target.name, result: 'delivered' });
      for (const m of group.members) {
        const due = Date.parse(m.dueTime);
        if (Number.isFinite(due)) this.o.metrics?.alertLatencySeconds.observe({ receiver: target.name }, Math.max(0, (answered - due) / 1000));
      }
      this.log.info(fields, 'alert group delivered');
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
