// Reservations in every state for the status page and metrics tests, written through the real
// apiserver (status subresource, merge patch), and a leader Lease held by a replica that does not
// exist, so the operators under test are standbys: they serve the page from their cache and never
// re-judge the states written here.
import { STATES, type ReservationStatus, type State } from '../../src/api/reservation.ts';
import { reservationPath } from '../../src/k8s/status-writer.ts';
import { createReservation, rest } from './operator-harness.ts';

export async function holdLeaderLease(namespace: string): Promise<void> {
  const now = new Date().toISOString().replace('Z', '000Z');
  await rest.request({
    method: 'POST',
    path: `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`,
    body: {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'gotel-leader' },
      spec: { holderIdentity: 'a-leader-elsewhere', leaseDurationSeconds: 3600, acquireTime: now, renewTime: now },
    },
  });
}

export async function writeStatus(namespace: string, name: string, status: ReservationStatus): Promise<void> {
  await rest.request({ method: 'PATCH', path: `${reservationPath(namespace, name)}/status`, body: { status }, contentType: 'application/merge-patch+json' });
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** A plausible status for each state: check-ins a few minutes old, deadlines ahead or just passed. */
export function statusFor(state: State, now = Date.now()): ReservationStatus {
  const failing = ['Missed', 'Failed', 'Late', 'Overrun', 'TooFast', 'Invalid'].includes(state);
  const last = iso(now - 7 * 60_000);
  const recent = [
    { time: iso(now - 67 * 60_000), signal: 'success' as const },
    { time: iso(now - 37 * 60_000), signal: 'start' as const, runId: 'r2' },
    { time: last, signal: failing ? ('fail' as const) : ('success' as const), runId: 'r2', ...(failing ? { exitCode: 3 } : {}), message: `${state} run` },
  ];
  return {
    state,
    lastCheckin: recent[2],
    recent,
    checkins: 3,
    lastSuccessTime: iso(now - 67 * 60_000),
    ...(failing ? { lastFailureTime: last, consecutiveFailures: 2, alert: { firing: true, reason: state, since: last } } : { consecutiveFailures: 0 }),
    ...(state === 'Running' ? { deadline: iso(now + 23 * 60_000) } : { nextExpectedTime: iso(now + (failing ? -3 : 25) * 60_000) }),
    conditions: [
      { type: 'Healthy', status: failing ? 'False' : 'True', reason: state, message: failing ? `${state} since ${last}` : `state ${state}`, lastTransitionTime: last },
    ],
  };
}

/** One Reservation per state, named after it (lower case), alternating between the namespaces. */
export async function reservationsInEveryState(namespaces: [string, string]): Promise<Map<State, { namespace: string; name: string }>> {
  const where = new Map<State, { namespace: string; name: string }>();
  for (const [i, state] of STATES.entries()) {
    const namespace = namespaces[i % 2]!;
    const name = state.toLowerCase();
    await createReservation(namespace, name, { every: '1h' });
    await writeStatus(namespace, name, statusFor(state));
    where.set(state, { namespace, name });
  }
  return where;
}
