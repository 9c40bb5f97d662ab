// The peer watch: the leader polls each Peer's heartbeat Lease in the peer cluster, judges it
// (src/ha/judge.ts), writes the Peer's status and alerts through the same durable outbox as
// Reservations (AlertDispatcher, pointed at Peers). Peers are read only from GoTel's own
// namespace. Each leadership term starts afresh: a new leader waits `timeout` before it calls a
// peer it has not seen Stale itself, and carries on from the durable status (a Peer already Stale
// is not alerted again).
import { AlertDispatcher } from '../alerts/dispatcher.ts';
import type { DefaultReceiver } from '../alerts/receivers.ts';
import { PEER_PLURAL, type Peer } from '../api/peer.ts';
import { GROUP, VERSION, type Reservation } from '../api/reservation.ts';
import type { EventRecorder } from '../k8s/events.ts';
import { Informer } from '../k8s/informer.ts';
import type { KubeRest } from '../k8s/rest.ts';
import { StatusWriter } from '../k8s/status-writer.ts';
import { silentLogger, type Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { judgePeer, newMemory, peerTimeoutMs, type Observation, type PeerMemory } from './judge.ts';
import { PeerClients, readHeartbeat } from './peer-client.ts';
import { peerSender } from './render.ts';
import { TakeoverControl } from './takeover-control.ts';

export function peerPath(namespace: string, name = '', subresource = ''): string {
  const base = `/apis/${GROUP}/${VERSION}/namespaces/${encodeURIComponent(namespace)}/${PEER_PLURAL}`;
  const one = name ? `${base}/${encodeURIComponent(name)}` : base;
  return subresource ? `${one}/${subresource}` : one;
}

/** How often a peer is read: a fifth of its timeout, at most every 5 s. */
export function pollIntervalMs(peer: Peer): number {
  return Math.max(200, Math.min(5_000, Math.floor(peerTimeoutMs(peer) / 5)));
}

export interface PeerWatchOptions {
  rest: KubeRest;
  /** GoTel's own namespace: the only one Peers are read from. */
  namespace: string;
  events: EventRecorder;
  isLeader: () => boolean;
  defaultReceiver?: DefaultReceiver;
  clusterName: string;
  /** This replica's identity and leader Lease duration: a takeover runs as `<identity>@<clusterName>`. */
  identity: string;
  leaseDurationMs: number;
  metrics: Pick<Metrics, 'alerts' | 'alertLatencySeconds'>;
  logger?: Logger;
  now?: () => number;
}

interface Tracked {
  memory: PeerMemory;
  nextPoll: number;
  polling: boolean;
}

/** How often leadership and due polls are looked at. */
const TICK_MS = 200;
/** The longest a Peer send may wait for an answer, and how long a new term waits before sending. */
const SEND_TIMEOUT_MS = 5_000;
const SEND_HOLD_MS = SEND_TIMEOUT_MS + 1_000;

export class PeerWatch {
  private readonly o: PeerWatchOptions;
  private readonly log: Logger;
  private readonly now: () => number;
  readonly informer: Informer<Peer>;
  private readonly writer: StatusWriter<Peer>;
  private readonly clients: PeerClients;
  private readonly tracked = new Map<string, Tracked>();
  private dispatcher?: AlertDispatcher;
  private dispatcherStopping: Promise<void> = Promise.resolve();
  /** A leadership term is under way (its sender starts SEND_HOLD_MS after it began). */
  private term = false;
  private holdTimer?: NodeJS.Timeout;
  private timer?: NodeJS.Timeout;
  private readonly polls = new Set<Promise<void>>();
  private readonly takeovers: TakeoverControl;

  constructor(options: PeerWatchOptions) {
    this.o = options;
    this.log = options.logger ?? silentLogger;
    this.now = options.now ?? Date.now;
    this.writer = new StatusWriter<Peer>(options.rest, { path: peerPath });
    this.clients = new PeerClients(options.rest);
    this.takeovers = new TakeoverControl({
      writer: this.writer,
      identity: `${options.identity}@${options.clusterName}`,
      clusterName: options.clusterName,
      leaseDurationMs: options.leaseDurationMs,
      defaultReceiver: options.defaultReceiver,
      logger: this.log,
      offer: (peer) => this.dispatcher?.sync(asOutboxObject(peer)),
    });
    this.informer = new Informer<Peer>(options.rest, {
      path: peerPath(options.namespace),
      onChange: (key) => {
        const peer = this.informer.get(key);
        if (peer) this.writer.observe(peer);
        if (peer) this.dispatcher?.sync(asOutboxObject(peer));
      },
      logger: this.log,
    });
  }

  list(): Peer[] {
    return this.informer.list();
  }

  start(): void {
    this.informer.start();
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.allSettled([...this.polls]);
    await this.takeovers.stopAll();
    await this.endTerm();
    await this.dispatcherStopping;
    await this.informer.stop();
    this.clients.close();
  }

  private tick(): void {
    if (!this.o.isLeader()) {
      if (this.term || this.tracked.size > 0) void this.endTerm();
      return;
    }
    if (!this.informer.synced) return;
    if (!this.term) this.beginTerm();
    const now = this.now();
    const peers = this.informer.list();
    const keys = new Set(peers.map((p) => `${p.metadata.namespace}/${p.metadata.name}`));
    for (const key of this.tracked.keys()) if (!keys.has(key)) this.tracked.delete(key);
    this.clients.retain(keys);
    this.takeovers.retain(keys);
    for (const peer of peers) {
      const key = `${peer.metadata.namespace}/${peer.metadata.name}`;
      let t = this.tracked.get(key);
      if (!t) this.tracked.set(key, (t = { memory: newMemory(now), nextPoll: now, polling: false }));
      if (t.polling || now < t.nextPoll) continue;
      t.polling = true;
      t.nextPoll = now + pollIntervalMs(peer);
      const poll = this.poll(peer, t).finally(() => {
        t.polling = false;
        this.polls.delete(poll);
      });
      this.polls.add(poll);
    }
  }

  private beginTerm(): void {
    this.term = true;
    // A former leader (another replica) may still finish a Peer send in flight after it released
    // the leader Lease: this term's sender starts once any such send has timed out.
    this.holdTimer = setTimeout(() => this.startSender(), SEND_HOLD_MS);
  }

  private startSender(): void {
    // The last term's sender must have finished its send in flight before a new one looks at the outbox.
    const dispatcher = new AlertDispatcher({
      rest: this.o.rest,
      writer: this.writer as unknown as StatusWriter,
      path: (ns, name) => peerPath(ns, name),
      send: peerSender,
      defaultReceiver: this.o.defaultReceiver,
      clusterName: this.o.clusterName,
      metrics: this.o.metrics,
      logger: this.log,
      sendTimeoutMs: SEND_TIMEOUT_MS,
    });
    this.dispatcher = dispatcher;
    void this.dispatcherStopping.then(() => {
      if (this.dispatcher !== dispatcher) return;
      for (const peer of this.informer.list()) dispatcher.sync(asOutboxObject(peer));
    });
  }

  private async endTerm(): Promise<void> {
    this.term = false;
    clearTimeout(this.holdTimer);
    this.tracked.clear();
    await this.takeovers.stopAll();
    const d = this.dispatcher;
    this.dispatcher = undefined;
    if (d) this.dispatcherStopping = d.stop().catch(() => {});
    await this.dispatcherStopping;
  }

  /** Reads the peer, judges, stores the verdict, then emits its Events and offers the outbox. */
  private async poll(peer: Peer, t: Tracked): Promise<void> {
    const { observation, rest } = await this.observe(peer);
    if (!this.o.isLeader()) return;
    const now = this.now();
    const ns = peer.metadata.namespace ?? this.o.namespace;
    let verdict: ReturnType<typeof judgePeer> | undefined;
    try {
      const stored = await this.writer.update(ns, peer.metadata.name, (current) => {
        verdict = judgePeer(current, observation, t.memory, now);
        return verdict.status;
      });
      if (!verdict) return;
      t.memory = verdict.memory;
      if (verdict.entry) this.log.warn({ peer: `${ns}/${peer.metadata.name}`, kind: verdict.entry.kind, reason: verdict.entry.reason }, 'peer alert recorded');
      for (const e of verdict.events) await this.o.events.record(stored, e.type, e.reason, e.message);
      this.dispatcher?.sync(asOutboxObject(stored));
      const reachable = observation.kind === 'lease' || observation.kind === 'absent';
      await this.takeovers.steer(stored, reachable ? rest : undefined);
    } catch (err) {
      this.log.warn({ peer: `${ns}/${peer.metadata.name}`, err: (err as Error).message }, 'peer status not written');
    }
  }

  private async observe(peer: Peer): Promise<{ observation: Observation; rest?: KubeRest }> {
    const connection = await this.clients.connect(peer);
    if ('kind' in connection) return { observation: connection };
    const timeoutMs = Math.max(1000, Math.min(10_000, Math.floor(peerTimeoutMs(peer) / 2)));
    return { observation: await readHeartbeat(connection.rest, peer, timeoutMs), rest: connection.rest };
  }
}

/**
 * A Peer as the alert dispatcher sees it. The dispatcher is typed for Reservations, but all it
 * reads is metadata, spec.notify and status.alert.outbox, which a Peer has in the same shape.
 */
function asOutboxObject(peer: Peer): Reservation {
  return peer as unknown as Reservation;
}
