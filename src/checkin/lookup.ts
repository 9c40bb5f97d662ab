// Reading a Reservation for a check-in (its spec decides how the request authenticates). A short
// cache keeps a hot Reservation from costing a GET per check-in; the operator may instead hand in
// its informer cache (`get`), with a GET as the fallback for what the cache has not seen yet.
import type { Reservation } from '../api/reservation.ts';
import type { KubeRest } from '../k8s/rest.ts';
import { reservationPath } from '../k8s/status-writer.ts';
import { matchesSelector, parseSelector, type Requirement } from '../core/selector.ts';
import { HttpError, fromKubeError } from './errors.ts';

export interface ReservationSource {
  /** A copy from an informer cache, or undefined when it has none. */
  get(namespace: string, name: string): Reservation | undefined;
}

export class ReservationLookup {
  private readonly rest: KubeRest;
  private readonly cache = new Map<string, { value: Reservation; expires: number }>();
  private readonly inflight = new Map<string, Promise<Reservation>>();
  private readonly ttlMs: number;
  private readonly source?: ReservationSource;
  private readonly now: () => number;
  private readonly selector?: { text: string; requirements: Requirement[] };

  constructor(rest: KubeRest, options: { ttlMs?: number; source?: ReservationSource; clock?: () => number; selector?: string } = {}) {
    this.rest = rest;
    if (options.selector) this.selector = { text: options.selector, requirements: parseSelector(options.selector) };
    this.ttlMs = options.ttlMs ?? 2_000;
    if (options.source) this.source = options.source;
    this.now = options.clock ?? Date.now;
  }

  /**
   * The Reservation; rejects with HttpError 404 when it does not exist or this deployment's
   * --selector does not select it (NotInShard: another shard takes its check-ins), 503 when the
   * apiserver cannot be reached.
   */
  async get(namespace: string, name: string): Promise<Reservation> {
    const r = await this.read(namespace, name);
    if (this.selector && !matchesSelector(this.selector.requirements, r.metadata.labels)) {
      throw new HttpError(404, 'NotInShard', `Reservation ${namespace}/${name} is not judged by this GoTel deployment (its --selector is "${this.selector.text}"); send its check-ins to the deployment whose selector matches its labels`);
    }
    return r;
  }

  private async read(namespace: string, name: string): Promise<Reservation> {
    const fromSource = this.source?.get(namespace, name);
    if (fromSource) return fromSource;
    const key = `${namespace}/${name}`;
    const hit = this.cache.get(key);
    if (hit && hit.expires > this.now()) return hit.value;
    const running = this.inflight.get(key);
    if (running) return running;
    const p = this.rest
      .request<Reservation>({ method: 'GET', path: reservationPath(namespace, name), timeoutMs: 10_000 })
      .then((value) => {
        if (this.cache.size > 10_000) this.cache.clear();
        this.cache.set(key, { value, expires: this.now() + this.ttlMs });
        return value;
      })
      .catch((err: unknown) => {
        throw fromKubeError(err, `Reservation ${namespace}/${name}`);
      })
      .finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  /** Drops a cached copy (after a spec change this replica made itself). */
  forget(namespace: string, name: string): void {
    this.cache.delete(`${namespace}/${name}`);
  }
}
