// Prometheus metrics, one registry per process (or per test), Prometheus naming, low-cardinality
// labels. Served on /metrics by the operator's HTTP server.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Reservation } from './api/reservation.ts';
import { isFailing, nextDeadlineOf, stateOf } from './status/model.ts';

export interface Metrics {
  registry: Registry;
  /** Check-ins stored, by signal (start, success, fail, log). */
  checkins: Counter<'signal'>;
  /** Check-in requests refused, by HTTP status code. */
  checkinErrors: Counter<'code'>;
  /** Check-ins refused by a per-client limit (src/checkin/client-limits.ts), by how the client was known: token or address. */
  checkinsThrottled: Counter<'by'>;
  /** Alert deliveries by receiver name and result (delivered, retry, permanent_failure). */
  alerts: Counter<'receiver' | 'result'>;
  /** Reservations by state (set by the leader after each reconcile). */
  reservations: Gauge<'state'>;
  reconcileSeconds: Histogram<'result'>;
  /** From the instant an alert became due (deadline, failure) to the receiver's answer. */
  alertLatencySeconds: Histogram<'receiver'>;
  /** 1 while this replica holds the leader Lease. */
  leader: Gauge;
  /** 1 once this leader's first pass has judged every Reservation, so each deadline has its timer. */
  deadlinesArmed: Gauge;
  /** Check-in journal batches written and deleted (op = create, delete). */
  journalBatches: Counter<'op'>;
  /** Check-ins this replica acknowledged and has not folded into status yet (read at scrape time from `unfoldedCheckins`). */
  checkinsUnfolded: Gauge;
  /** Where checkinsUnfolded reads from (the check-in store sets it). */
  unfoldedCheckins: { read: () => number };
  /** Per-Reservation series (gotel_reservation_*), computed from `reservationSource` at scrape time. */
  reservationGauges: ReservationGauges;
  /** Where the per-Reservation series read from: the operator's informer cache (set in src/operator/operator.ts). */
  reservationSource: { list: () => Reservation[] };
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'gotel_process_' });
  const registers = [registry];
  const unfoldedCheckins = { read: () => 0 };
  const reservationSource = { list: (): Reservation[] => [] };
  return {
    registry,
    checkins: new Counter({ name: 'gotel_checkins_total', help: 'Check-ins stored, by signal.', labelNames: ['signal'], registers }),
    checkinErrors: new Counter({ name: 'gotel_checkin_errors_total', help: 'Check-in requests refused, by HTTP status.', labelNames: ['code'], registers }),
    checkinsThrottled: new Counter({ name: 'gotel_checkins_throttled_total', help: 'Check-ins refused with 429 by the per-client limit, by client identity kind (token, address).', labelNames: ['by'], registers }),
    alerts: new Counter({ name: 'gotel_alerts_total', help: 'Alert deliveries by receiver and result.', labelNames: ['receiver', 'result'], registers }),
    reservations: new Gauge({ name: 'gotel_reservations', help: 'Reservations by state.', labelNames: ['state'], registers }),
    reconcileSeconds: new Histogram({
      name: 'gotel_reconcile_seconds',
      help: 'Time to reconcile one Reservation.',
      labelNames: ['result'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    alertLatencySeconds: new Histogram({
      name: 'gotel_alert_latency_seconds',
      help: 'From the instant an alert became due to the receiver accepting it.',
      labelNames: ['receiver'],
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
      registers,
    }),
    leader: new Gauge({ name: 'gotel_leader', help: '1 while this replica is the leader.', registers }),
    deadlinesArmed: new Gauge({ name: 'gotel_deadlines_armed', help: "1 once this leader's first pass has judged every Reservation and queued each deadline.", registers }),
    journalBatches: new Counter({ name: 'gotel_checkin_journal_batches_total', help: 'Check-in journal batches written and deleted.', labelNames: ['op'], registers }),
    checkinsUnfolded: new Gauge({
      name: 'gotel_checkins_unfolded',
      help: 'Check-ins acknowledged by this replica and not yet folded into status.',
      registers,
      collect() {
        this.set(unfoldedCheckins.read());
      },
    }),
    unfoldedCheckins,
    reservationGauges: reservationGauges(registers, () => reservationSource.list()),
    reservationSource,
  };
}

// Per-Reservation series for Prometheus, read from the informer cache when Prometheus scrapes
// (prom-client collect callbacks): nothing is kept or updated between scrapes, and a deleted
// Reservation's series are gone from the next scrape. One series per Reservation per gauge
// (gotel_reservation_state too: only the current state is exported), and a timestamp gauge only
// when the instant is known. Every replica exports them (they all hold the same cache): rules
// aggregate with max by (namespace, name).

type Labels = 'namespace' | 'name';

export interface ReservationGauges {
  up: Gauge<Labels>;
  state: Gauge<Labels | 'state'>;
  alerting: Gauge<Labels>;
  lastCheckin: Gauge<Labels>;
  lastSuccess: Gauge<Labels>;
  lastFailure: Gauge<Labels>;
  nextDeadline: Gauge<Labels>;
  consecutiveFailures: Gauge<Labels>;
}

const seconds = (t: string | undefined): number | undefined => {
  if (!t) return undefined;
  const v = Date.parse(t);
  return Number.isNaN(v) ? undefined : v / 1000;
};

const labels = (r: Reservation): Record<Labels, string> => ({ namespace: r.metadata.namespace ?? 'default', name: r.metadata.name });

/** A gauge rebuilt at each scrape from `value(r)` for every Reservation (undefined: no series). */
function perReservation(name: string, help: string, registers: Registry[], list: () => Reservation[], value: (r: Reservation) => number | undefined): Gauge<Labels> {
  return new Gauge({
    name,
    help,
    labelNames: ['namespace', 'name'],
    registers,
    collect() {
      this.reset();
      for (const r of list()) {
        const v = value(r);
        if (v !== undefined) this.set(labels(r), v);
      }
    },
  });
}

export function reservationGauges(registers: Registry[], list: () => Reservation[]): ReservationGauges {
  const g = (name: string, help: string, value: (r: Reservation) => number | undefined): Gauge<Labels> => perReservation(name, help, registers, list, value);
  return {
    up: g('gotel_reservation_up', '1 when the Reservation is not failing (not Missed, Failed, Late, Overrun, TooFast or Invalid).', (r) => (isFailing(r) ? 0 : 1)),
    state: new Gauge({
      name: 'gotel_reservation_state',
      help: 'The Reservation\'s current state (value 1; one series per Reservation).',
      labelNames: ['namespace', 'name', 'state'],
      registers,
      collect() {
        this.reset();
        for (const r of list()) this.set({ ...labels(r), state: stateOf(r) }, 1);
      },
    }),
    alerting: g('gotel_reservation_alerting', '1 while GoTel alerts for the Reservation (status.alert.firing).', (r) => (r.status?.alert?.firing ? 1 : 0)),
    lastCheckin: g('gotel_reservation_last_checkin_timestamp_seconds', 'When the last check-in arrived (any signal), Unix time.', (r) => seconds(r.status?.lastCheckin?.time)),
    lastSuccess: g('gotel_reservation_last_success_timestamp_seconds', 'When the last successful run ended, Unix time.', (r) => seconds(r.status?.lastSuccessTime)),
    lastFailure: g('gotel_reservation_last_failure_timestamp_seconds', 'When the last failed run ended, Unix time.', (r) => seconds(r.status?.lastFailureTime)),
    nextDeadline: g('gotel_reservation_next_deadline_timestamp_seconds', 'The next instant GoTel judges the Reservation (open deadline, else next expected run), Unix time.', (r) =>
      seconds(nextDeadlineOf(r)),
    ),
    consecutiveFailures: g('gotel_reservation_consecutive_failures', 'Bad runs in a row.', (r) => r.status?.consecutiveFailures ?? 0),
  };
}
