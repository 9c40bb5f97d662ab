// Storing check-ins durably: the judging core folds each into status (applyCheckinDetailed, which
// also drops a repeated (runId, signal)) and judges the result (evaluate), and the shared
// StatusWriter writes it (one write in flight per Reservation, resourceVersion, 409 retry). A
// promise resolves only once the apiserver has stored its check-in.
//
// Check-ins that arrive for a Reservation while its previous write is in flight are gathered and
// stored by the next write: one mutation applies them all in arrival order and judges once
// (evaluate costs far more than recording a check-in), so a burst costs one evaluation and one
// apiserver write, not one per check-in.
import type { Checkin, Reservation, ReservationStatus, State } from '../api/reservation.ts';
import { applyCheckinDetailed, evaluate, type CheckinInput } from '../core/index.ts';
import type { StatusWriter } from '../k8s/status-writer.ts';

export interface StoredCheckin {
  /** The Reservation as stored after this check-in. */
  reservation: Reservation;
  /** The same (runId, signal) had been stored before: nothing changed. */
  duplicate: boolean;
  checkin: Checkin;
}

export interface Verdict {
  state?: State;
  nextExpectedTime?: string;
  deadline?: string;
  checkins: number;
}

/**
 * The Reservation as the judge sees it. The operator passes its own (a Reservation that follows a
 * CronJob takes that CronJob's schedule); without one, a Reservation with neither schedule nor
 * every is recorded but not judged here (the reconciler judges it).
 */
export type ResolveSpec = (reservation: Reservation) => Reservation;

interface Item {
  input: CheckinInput;
  now: Date;
  resolve: (s: StoredCheckin) => void;
  reject: (err: unknown) => void;
  duplicate?: boolean;
  checkin?: Checkin;
}

interface KeyQueue {
  items: Item[];
  writing: boolean;
}

/** Applies `items` in order to `current` and judges once; records each item's outcome. Pure in `current`. */
export function applyCheckins(current: Reservation, items: Pick<Item, 'input' | 'now' | 'duplicate' | 'checkin'>[], resolve?: ResolveSpec): ReservationStatus | null {
  const effective = resolve ? resolve(current) : current;
  let status = effective.status;
  let changed = false;
  let last: Date | undefined;
  for (const item of items) {
    const result = applyCheckinDetailed({ ...effective, ...(status ? { status } : {}) }, item.input, item.now);
    item.duplicate = result.duplicate;
    item.checkin = result.checkin;
    if (result.duplicate) continue;
    status = result.status;
    changed = true;
    last = item.now;
  }
  if (!changed || !status) return null;
  if (!effective.spec?.schedule && !effective.spec?.every) return status;
  return evaluate({ ...effective, status }, last ?? new Date()).status;
}

class CheckinBatcher {
  private readonly writer: StatusWriter;
  private readonly queues = new Map<string, KeyQueue>();
  constructor(writer: StatusWriter) {
    this.writer = writer;
  }

  submit(namespace: string, name: string, input: CheckinInput, now: Date, resolve?: ResolveSpec): Promise<StoredCheckin> {
    const key = `${namespace}/${name}`;
    let q = this.queues.get(key);
    if (!q) {
      q = { items: [], writing: false };
      this.queues.set(key, q);
    }
    const queue = q;
    const promise = new Promise<StoredCheckin>((res, rej) => queue.items.push({ input, now, resolve: res, reject: rej }));
    if (!queue.writing) void this.flush(key, namespace, name, queue, resolve);
    return promise;
  }

  private async flush(key: string, namespace: string, name: string, q: KeyQueue, resolve?: ResolveSpec): Promise<void> {
    q.writing = true;
    try {
      while (q.items.length > 0) {
        const batch = q.items.splice(0, q.items.length);
        try {
          const reservation = await this.writer.update(namespace, name, (current) => applyCheckins(current, batch, resolve));
          for (const item of batch) item.resolve({ reservation, duplicate: item.duplicate ?? false, checkin: item.checkin as Checkin });
        } catch (err) {
          for (const item of batch) item.reject(err);
        }
      }
    } finally {
      q.writing = false;
      this.queues.delete(key);
    }
  }
}

const batchers = new WeakMap<StatusWriter, CheckinBatcher>();

/** Stores one check-in (gathered with others for the same Reservation); resolves once it is stored. */
export function storeCheckin(writer: StatusWriter, namespace: string, name: string, input: CheckinInput, now: Date, resolve?: ResolveSpec): Promise<StoredCheckin> {
  let b = batchers.get(writer);
  if (!b) {
    b = new CheckinBatcher(writer);
    batchers.set(writer, b);
  }
  return b.submit(namespace, name, input, now, resolve);
}

/** What GoTel now thinks of a Reservation, for a check-in's answer. */
export function verdictOf(reservation: Reservation): Verdict {
  const st = reservation.status ?? {};
  return {
    ...(st.state ? { state: st.state } : {}),
    ...(st.nextExpectedTime ? { nextExpectedTime: st.nextExpectedTime } : {}),
    ...(st.deadline ? { deadline: st.deadline } : {}),
    checkins: st.checkins ?? 0,
  };
}
