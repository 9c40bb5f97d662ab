// Starts and stops takeovers (src/ha/takeover.ts) from the peer watch's verdicts, and records what
// each is doing in its Peer's status (status.takeover, and a `Takeover` notification in the
// Peer's outbox when it begins judging, listing what it cannot watch).
import { pruneOutbox } from '../alerts/outbox.ts';
import type { DefaultReceiver } from '../alerts/receivers.ts';
import type { Peer, TakeoverStatus } from '../api/peer.ts';
import type { OutboxEntry } from '../api/reservation.ts';
import { iso } from '../core/time.ts';
import type { KubeRest } from '../k8s/rest.ts';
import type { StatusWriter } from '../k8s/status-writer.ts';
import type { Logger } from '../log.ts';
import { peerLabel, peerNamespace } from './judge.ts';
import { Takeover, type TakeoverReport } from './takeover.ts';

export interface TakeoverControlOptions {
  writer: StatusWriter<Peer>;
  identity: string;
  clusterName: string;
  leaseDurationMs: number;
  defaultReceiver?: DefaultReceiver;
  logger: Logger;
  /** Offers a stored Peer to the outbox sender. */
  offer: (peer: Peer) => void;
}

/** How many not-watched Reservations the message names. */
const LISTED = 20;

export function takeoverMessage(peer: Peer, clusterName: string, r: TakeoverReport): string {
  const n = r.notWatched.length;
  const names = r.notWatched.slice(0, LISTED).join(', ') + (n > LISTED ? ` and ${n - LISTED} more` : '');
  const unwatched = n > 0 ? ` ${n} Reservation${n === 1 ? '' : 's'} depending on HTTP check-ins ${n === 1 ? 'is' : 'are'} not watched until it returns: ${names}.` : '';
  return `GoTel in cluster "${clusterName}" took over judging for ${peerLabel(peer)} while GoTel there is down: ${r.reservationsJudged} Reservation${r.reservationsJudged === 1 ? '' : 's'} with a jobRef ${r.reservationsJudged === 1 ? 'is' : 'are'} judged as usual.${unwatched}`;
}

export class TakeoverControl {
  private readonly o: TakeoverControlOptions;
  private readonly running = new Map<string, Takeover>();
  /** Handed back to the peer's own GoTel: no new takeover until the peer has been seen not Stale. */
  private readonly handedBack = new Set<string>();

  constructor(options: TakeoverControlOptions) {
    this.o = options;
  }

  /** After each verdict: `rest` is the peer's apiserver when it was just read, else undefined. */
  async steer(peer: Peer, rest: KubeRest | undefined): Promise<void> {
    const key = `${peer.metadata.namespace}/${peer.metadata.name}`;
    const stale = peer.status?.state === 'Stale';
    if (!stale) this.handedBack.delete(key);
    const running = this.running.get(key);
    if (running?.status.handedBack) {
      this.handedBack.add(key);
      await this.end(peer, key, running);
      return;
    }
    const want = peer.spec.takeover === true && !peer.spec.suspend && stale && rest !== undefined && !this.handedBack.has(key);
    if (want && !running) this.begin(peer, key, rest);
    else if (!want && running && (!stale || peer.spec.takeover !== true || peer.spec.suspend)) await this.end(peer, key, running);
  }

  retain(keys: Set<string>): void {
    for (const [key, t] of this.running) {
      if (keys.has(key)) continue;
      this.running.delete(key);
      void t.stop();
    }
  }

  async stopAll(): Promise<void> {
    const all = [...this.running.values()];
    this.running.clear();
    await Promise.all(all.map((t) => t.stop()));
  }

  private begin(peer: Peer, key: string, rest: KubeRest): void {
    const takeover = new Takeover({
      rest,
      namespace: peerNamespace(peer),
      identity: this.o.identity,
      peerClusterName: peer.status?.peerClusterName ?? peer.metadata.name,
      leaseDurationMs: this.o.leaseDurationMs,
      defaultReceiver: this.o.defaultReceiver,
      logger: this.o.logger.child({ takeover: key }),
      onChange: (report) => void this.recorded(peer, report),
    });
    this.running.set(key, takeover);
    this.o.logger.warn({ peer: key }, 'peer Stale: taking over its judging (candidate in its gotel-leader Lease)');
    void this.write(peer, () => ({ active: true, leading: false }));
    takeover.start().catch((err: unknown) => this.o.logger.warn({ peer: key, err: (err as Error).message }, 'takeover did not start'));
  }

  private async end(peer: Peer, key: string, takeover: Takeover): Promise<void> {
    this.running.delete(key);
    await takeover.stop();
    const alertsSent = await takeover.alertsSent();
    this.o.logger.warn({ peer: key, alertsSent }, 'takeover ended');
    await this.write(peer, (t) => ({ ...t, active: false, leading: false, alertsSent, endedTime: iso(Date.now()) }));
  }

  /** The takeover began or stopped judging: status, and a notification when it began. */
  private async recorded(peer: Peer, r: TakeoverReport): Promise<void> {
    const takeover: TakeoverStatus = { active: true, leading: r.leading, ...(r.since ? { since: r.since } : {}), reservationsJudged: r.reservationsJudged, alertsSent: r.alertsSent, notWatched: r.notWatched.slice(0, 100) };
    const now = Date.now();
    const entry: OutboxEntry | undefined = r.leading
      ? { id: `takeover-${now.toString(36)}`, kind: 'alert', reason: 'Takeover', dueTime: iso(now), createdTime: iso(now), message: takeoverMessage(peer, this.o.clusterName, r).slice(0, 4096) }
      : undefined;
    await this.write(peer, () => takeover, entry);
  }

  private async write(peer: Peer, change: (t: TakeoverStatus | undefined) => TakeoverStatus, entry?: OutboxEntry): Promise<void> {
    try {
      const stored = await this.o.writer.update(peer.metadata.namespace ?? 'default', peer.metadata.name, (current) => {
        const st = current.status ?? {};
        const next = { ...st, takeover: change(st.takeover) };
        if (entry && !st.alert?.outbox?.some((e) => e.id === entry.id)) next.alert = { ...(st.alert ?? { firing: true }), outbox: pruneOutbox([...(st.alert?.outbox ?? []), entry]) };
        return next;
      });
      this.o.offer(stored);
    } catch (err) {
      this.o.logger.warn({ peer: `${peer.metadata.namespace}/${peer.metadata.name}`, err: (err as Error).message }, 'takeover status not written');
    }
  }
}
