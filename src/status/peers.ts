// The Peers (peers.gotel.io) in GoTel's namespace, read straight from the apiserver for the status
// page and cached a few seconds. Read defensively: the resource may not be installed (404: the
// page says none) and a Peer's status may be partial.
import { GROUP, VERSION } from '../api/reservation.ts';
import type { KubeRest } from '../k8s/rest.ts';
import { peerRowOf, type PeerRow } from './model.ts';

export interface PeerReader {
  /** The Peers now, or undefined when peers.gotel.io is not installed or cannot be read. */
  list(now: Date): Promise<PeerRow[] | undefined>;
}

export function peerReader(rest: KubeRest, namespace: string, ttlMs = 5_000, clock: () => number = Date.now): PeerReader {
  let cached: { at: number; items: unknown[] | undefined } | undefined;
  let inflight: Promise<unknown[] | undefined> | undefined;
  const fetchItems = async (): Promise<unknown[] | undefined> => {
    try {
      const list = await rest.request<{ items?: unknown[] }>({ method: 'GET', path: `/apis/${GROUP}/${VERSION}/namespaces/${encodeURIComponent(namespace)}/peers`, timeoutMs: 5_000 });
      return Array.isArray(list.items) ? list.items : [];
    } catch {
      // 404: the CRD is not installed; 403: GoTel may not read Peers; or the apiserver is away.
      // The page still renders: its Peers section says none.
      return undefined;
    }
  };
  return {
    async list(now) {
      if (!cached || clock() - cached.at > ttlMs) {
        inflight ??= fetchItems().finally(() => (inflight = undefined));
        cached = { at: clock(), items: await inflight };
      }
      const items = cached.items;
      if (!items) return undefined;
      return items.map((p) => peerRowOf(p, now)).filter((p): p is PeerRow => p !== undefined).sort((a, b) => a.name.localeCompare(b.name));
    },
  };
}
