// A tiny operator for tests: check-ins through applyCheckin, evaluations through evaluate, the
// status carried from one to the next, outbox entries collected.
import type { Reservation, ReservationSpec, ReservationStatus } from '../../../src/api/reservation.ts';
import { applyCheckinDetailed, evaluate, type CheckinInput, type Evaluation } from '../../../src/core/index.ts';

export const T = (s: string) => new Date(s);

export function reservation(spec: ReservationSpec, created = '2026-03-01T00:00:00Z', status?: ReservationStatus): Reservation {
  return {
    apiVersion: 'gotel.io/v1alpha1',
    kind: 'Reservation',
    metadata: { name: 'job', namespace: 'ns', generation: 1, creationTimestamp: created },
    spec,
    ...(status ? { status } : {}),
  };
}

export class Sim {
  res: Reservation;
  last?: Evaluation;

  constructor(spec: ReservationSpec, created = '2026-03-01T00:00:00Z') {
    this.res = reservation(spec, created);
  }

  /** Evaluates at `at` and keeps the status. */
  eval(at: string | Date): Evaluation {
    const e = evaluate(this.res, typeof at === 'string' ? new Date(at) : at);
    this.res = { ...this.res, status: e.status };
    this.last = e;
    return e;
  }

  checkin(at: string, input: CheckinInput) {
    const r = applyCheckinDetailed(this.res, input, new Date(at));
    this.res = { ...this.res, status: r.status };
    return r;
  }

  /** Check-in, then the evaluation the operator runs right after the status changed. */
  ping(at: string, input: CheckinInput): Evaluation {
    this.checkin(at, input);
    return this.eval(at);
  }

  /** Evaluates at every wake-up up to `until` (inclusive), like the operator's timers. */
  runUntil(until: string): Evaluation[] {
    const end = Date.parse(until);
    const out: Evaluation[] = [];
    for (let i = 0; i < 10_000; i++) {
      const w = this.last?.nextWakeup;
      if (!w || w.getTime() > end) break;
      out.push(this.eval(w));
    }
    return out;
  }

  setSpec(spec: ReservationSpec): void {
    this.res = { ...this.res, spec, metadata: { ...this.res.metadata, generation: (this.res.metadata.generation ?? 1) + 1 } };
  }

  get status(): ReservationStatus {
    return this.res.status ?? {};
  }

  outbox() {
    return (this.status.alert?.outbox ?? []).map((e) => ({ kind: e.kind, reason: e.reason, dueTime: e.dueTime, createdTime: e.createdTime }));
  }
}

export const iso = (d: Date | null | undefined) => (d ? d.toISOString().replace('.000Z', 'Z') : null);
