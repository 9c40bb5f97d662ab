// Prometheus metrics, one registry per process (or per test), Prometheus naming, low-cardinality
// labels. Served on /metrics by the operator's HTTP server.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  /** Check-ins stored, by signal (start, success, fail, log). */
  checkins: Counter<'signal'>;
  /** Check-in requests refused, by HTTP status code. */
  checkinErrors: Counter<'code'>;
  /** Alert deliveries by receiver name and result (delivered, retry, permanent_failure). */
  alerts: Counter<'receiver' | 'result'>;
  /** Reservations by state (set by the leader after each reconcile). */
  reservations: Gauge<'state'>;
  reconcileSeconds: Histogram<'result'>;
  /** From the instant an alert became due (deadline, failure) to the receiver's answer. */
  alertLatencySeconds: Histogram<'receiver'>;
  /** 1 while this replica holds the leader Lease. */
  leader: Gauge;
  /** Check-in journal batches written and deleted (op = create, delete). */
  journalBatches: Counter<'op'>;
  /** Check-ins this replica acknowledged and has not folded into status yet (read at scrape time from `unfoldedCheckins`). */
  checkinsUnfolded: Gauge;
  /** Where checkinsUnfolded reads from (the check-in store sets it). */
  unfoldedCheckins: { read: () => number };
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'gotel_process_' });
  const registers = [registry];
  const unfoldedCheckins = { read: () => 0 };
  return {
    registry,
    checkins: new Counter({ name: 'gotel_checkins_total', help: 'Check-ins stored, by signal.', labelNames: ['signal'], registers }),
    checkinErrors: new Counter({ name: 'gotel_checkin_errors_total', help: 'Check-in requests refused, by HTTP status.', labelNames: ['code'], registers }),
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
  };
}
