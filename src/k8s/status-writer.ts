// The one way GoTel writes a Reservation's status, shared by check-ins and the reconciler.
//
// - One write in flight per Reservation; mutations that arrive meanwhile are batched into the next
//   write (concurrent patches to one object make the apiserver retry internally and collapse
//   throughput, see docs/architecture.md, "Measured limits").
// - Each write is a JSON merge patch of /status carrying metadata.resourceVersion (optimistic
//   lock). On 409 the object is read again and the batch's mutations are applied again, so a
//   mutation must be a pure function of the object it is given.
// - A caller's promise resolves only after its mutation is stored: a check-in is acknowledged only
//   once durable.
import { API_VERSION, GROUP, PLURAL, VERSION, type ObjectMeta, type Reservation } from '../api/reservation.ts';
import { KubeApiError, type KubeRest } from './rest.ts';
import { trimObject } from './trim.ts';

/** Any object with a status subresource (Reservations by default; Peers, src/ha). */
export interface StatusObject {
  metadata: ObjectMeta;
  status?: object;
}

/** Returns the new status, or `null` when nothing needs to change. Must not modify its input. */
export type StatusMutation<T extends StatusObject = Reservation> = (current: T) => T['status'] | null;

interface Pending<T extends StatusObject> {
  mutation: StatusMutation<T>;
  resolve: (r: T) => void;
  reject: (err: unknown) => void;
}

interface KeyState<T extends StatusObject> {
  queue: Pending<T>[];
  writing: boolean;
}

/** How many idle Reservations' last-known copies are kept to save a read before a write. */
const LATEST_CACHE_SIZE = 10_000;

export interface StatusWriterOptions {
  /** How many times a batch is retried after 409 Conflict before its callers get the error. */
  maxConflictRetries?: number;
  /** Called after every successful write (metrics, logs). */
  onWrite?: (key: string, batchSize: number) => void;
  /** The object's path (and its subresource's) for another kind; default: a Reservation's. */
  path?: (namespace: string, name: string, subresource?: string) => string;
}

export function reservationPath(namespace: string, name: string, subresource = ''): string {
  const base = `/apis/${GROUP}/${VERSION}/namespaces/${encodeURIComponent(namespace)}/${PLURAL}/${encodeURIComponent(name)}`;
  return subresource ? `${base}/${subresource}` : base;
}

export class StatusWriter<T extends StatusObject = Reservation> {
  private readonly keys = new Map<string, KeyState<T>>();
  /**
   * The object as last read, written or observed, per key (least recently used dropped first):
   * tried first to save a GET; a stale one costs a 409 and a read, never a lost update.
   */
  private readonly latest = new Map<string, T>();
  private readonly rest: KubeRest;
  private readonly maxConflictRetries: number;
  private readonly onWrite?: (key: string, batchSize: number) => void;
  private readonly path: (namespace: string, name: string, subresource?: string) => string;

  constructor(rest: KubeRest, options: StatusWriterOptions = {}) {
    this.rest = rest;
    this.maxConflictRetries = options.maxConflictRetries ?? 20;
    this.onWrite = options.onWrite;
    this.path = options.path ?? reservationPath;
  }

  /** Applies `mutation` to the stored Reservation's status; resolves with the stored object. */
  update(namespace: string, name: string, mutation: StatusMutation<T>): Promise<T> {
    const key = `${namespace}/${name}`;
    let state = this.keys.get(key);
    if (!state) {
      state = { queue: [], writing: false };
      this.keys.set(key, state);
    }
    const promise = new Promise<T>((resolve, reject) => state.queue.push({ mutation, resolve, reject }));
    if (!state.writing) void this.drain(key, namespace, name, state);
    return promise;
  }

  /** The copy last read, written or observed, if still cached. */
  latestCopy(namespace: string, name: string): T | undefined {
    return this.latest.get(`${namespace}/${name}`);
  }

  /**
   * Offers a fresher copy (e.g. from an informer) to save a read before the next write. The same
   * version is taken too: then this cache shares the informer's object instead of holding a second
   * copy of what the write answered.
   */
  observe(reservation: T): void {
    const key = `${reservation.metadata.namespace}/${reservation.metadata.name}`;
    const known = this.latest.get(key);
    if (!known || !newer(known, reservation)) this.remember(key, reservation);
  }

  private remember(key: string, reservation: T | undefined): void {
    this.latest.delete(key);
    if (!reservation) return;
    // Only status and resourceVersion are read from it (src/k8s/trim.ts drops the rest it never reads).
    this.latest.set(key, trimObject(reservation));
    if (this.latest.size > LATEST_CACHE_SIZE) this.latest.delete(this.latest.keys().next().value as string);
  }

  private async drain(key: string, namespace: string, name: string, state: KeyState<T>): Promise<void> {
    state.writing = true;
    try {
      while (state.queue.length > 0) {
        const batch = state.queue.splice(0, state.queue.length);
        await this.writeBatch(namespace, name, batch);
      }
    } finally {
      state.writing = false;
      // Idle keys leave the queue map; their last copy stays in the bounded `latest` cache.
      if (state.queue.length === 0) this.keys.delete(key);
      else void this.drain(key, namespace, name, state);
    }
  }

  private async writeBatch(namespace: string, name: string, batch: Pending<T>[]): Promise<void> {
    const key = `${namespace}/${name}`;
    let current = this.latest.get(key);
    for (let attempt = 0; ; attempt++) {
      try {
        current ??= await this.rest.request<T>({ method: 'GET', path: this.path(namespace, name) });
        // Apply each mutation in arrival order; one that throws fails alone.
        let working: T = current;
        const applied: Pending<T>[] = [];
        const failed: [Pending<T>, unknown][] = [];
        for (const pending of batch) {
          try {
            const next = pending.mutation(working);
            if (next) working = { ...working, status: next };
            applied.push(pending);
          } catch (err) {
            failed.push([pending, err]);
          }
        }
        for (const [pending, err] of failed) pending.reject(err);
        if (applied.length === 0) return;
        let stored = current;
        const patch = mergePatch(current.status ?? {}, working.status ?? {});
        if (patch !== undefined) {
          stored = await this.rest.request<T>({
            method: 'PATCH',
            path: this.path(namespace, name, 'status'),
            contentType: 'application/merge-patch+json',
            body: { apiVersion: API_VERSION, metadata: { resourceVersion: current.metadata.resourceVersion }, status: patch },
          });
          try {
            this.onWrite?.(`${namespace}/${name}`, applied.length);
          } catch {
            // A metrics callback must never turn a stored write into a failure (clients would retry).
          }
        }
        this.remember(key, stored);
        for (const pending of applied) pending.resolve(stored);
        return;
      } catch (err) {
        if (err instanceof KubeApiError && err.code === 409 && attempt < this.maxConflictRetries) {
          current = undefined; // read the current version, then apply the batch again
          continue;
        }
        this.remember(key, undefined);
        for (const pending of batch) pending.reject(err);
        return;
      }
    }
  }
}

/** Whether `a` is a later version of the object than `b` (by resourceVersion). */
export function newer(a: StatusObject, b: StatusObject | undefined): boolean {
  if (!b) return true;
  const ra = Number(a.metadata.resourceVersion);
  const rb = Number(b.metadata.resourceVersion);
  return Number.isFinite(ra) && Number.isFinite(rb) ? ra > rb : a.metadata.resourceVersion !== b.metadata.resourceVersion;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The RFC 7386 merge patch that turns `from` into `to`: changed leaves and whole arrays, `null` for
 * removed keys. `undefined` when they are equal.
 */
export function mergePatch(from: unknown, to: unknown): Json | undefined {
  if (isObject(from) && isObject(to)) {
    const patch: Record<string, Json> = {};
    for (const key of Object.keys(from)) if (!(key in to) || to[key] === undefined) patch[key] = null;
    for (const [key, value] of Object.entries(to)) {
      if (value === undefined) continue;
      const sub = key in from ? mergePatch(from[key], value) : (value as Json);
      if (sub !== undefined) patch[key] = sub;
    }
    return Object.keys(patch).length > 0 ? patch : undefined;
  }
  return JSON.stringify(from) === JSON.stringify(to) ? undefined : (to as Json);
}
