// The peer watch's metrics, registered on the operator's registry: gotel_peer_up{peer},
// gotel_peer_last_seen_seconds{peer} (read from the Peers' status at scrape time, so every
// replica shows what the leader concluded) and gotel_heartbeat_pings_total{result}.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Peer } from '../api/peer.ts';

export interface HaMetrics {
  pings: Counter<'result'>;
}

export function registerHaMetrics(registry: Registry, peers: () => Peer[], now: () => number = Date.now): HaMetrics {
  const registers = [registry];
  new Gauge({
    name: 'gotel_peer_up',
    help: '1 while the peer is Up (its heartbeat Lease changes and it can be read), else 0.',
    labelNames: ['peer'],
    registers,
    collect() {
      this.reset();
      for (const p of peers()) {
        const ready = p.status?.conditions?.find((c) => c.type === 'Ready')?.status !== 'False';
        this.set({ peer: p.metadata.name }, p.status?.state === 'Up' && ready ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: 'gotel_peer_last_seen_seconds',
    help: 'Seconds since this GoTel last saw the peer\'s heartbeat Lease change (local clock).',
    labelNames: ['peer'],
    registers,
    collect() {
      this.reset();
      for (const p of peers()) {
        const seen = Date.parse(p.status?.lastSeenTime ?? '');
        if (Number.isFinite(seen)) this.set({ peer: p.metadata.name }, Math.max(0, (now() - seen) / 1000));
      }
    },
  });
  const pings = new Counter({ name: 'gotel_heartbeat_pings_total', help: 'Dead man\'s switch pings to --heartbeat-url, by result (success, failure).', labelNames: ['result'], registers });
  return { pings };
}
