// Runs operators in-process against the suite's control plane, and the other small things
// operator tests share: creating Reservations, writing check-ins the way the check-in API stores
// them, reading Events and Leases.
import { randomBytes } from 'node:crypto';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION, type Reservation, type ReservationSpec } from '../../src/api/reservation.ts';
import { applyCheckin, type CheckinInput } from '../../src/core/index.ts';
import { KubeRest } from '../../src/k8s/rest.ts';
import { StatusWriter, reservationPath } from '../../src/k8s/status-writer.ts';
import { silentLogger } from '../../src/log.ts';
import { createMetrics } from '../../src/metrics.ts';
import { toOperatorConfig, type OperatorConfig } from '../../src/operator/config.ts';
import { Operator } from '../../src/operator/operator.ts';
import { kubeConfig } from './helpers.ts';

export const rest = new KubeRest(kubeConfig());
const writer = new StatusWriter(rest);

export async function startOperator(namespace: string, overrides: Partial<OperatorConfig> = {}): Promise<Operator> {
  const config: OperatorConfig = {
    ...toOperatorConfig({ listen: '127.0.0.1:0', namespaces: namespace, leaderElectionNamespace: namespace, leaseDuration: '2s', resync: '10m' }),
    identity: `op-${randomBytes(3).toString('hex')}`,
    ...overrides,
  };
  const operator = new Operator(config, kubeConfig(), createMetrics({ defaultMetrics: false }), silentLogger);
  await operator.start();
  return operator;
}

export async function createReservation(namespace: string, name: string, spec: ReservationSpec): Promise<Reservation> {
  return rest.request<Reservation>({
    method: 'POST',
    path: `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`,
    body: { apiVersion: API_VERSION, kind: KIND, metadata: { name }, spec },
  });
}

export async function getReservation(namespace: string, name: string): Promise<Reservation> {
  return rest.request<Reservation>({ method: 'GET', path: reservationPath(namespace, name) });
}

/** Stores a check-in exactly as the check-in API does: applyCheckin inside the status writer. */
export async function checkIn(namespace: string, name: string, input: CheckinInput): Promise<Reservation> {
  return writer.update(namespace, name, (current) => applyCheckin(current, input, new Date()));
}

export interface KubeEvent {
  reason: string;
  message: string;
  type: string;
  involvedObject: { name: string; kind: string };
}

export async function events(namespace: string, name?: string): Promise<KubeEvent[]> {
  const list = await rest.request<{ items: KubeEvent[] }>({ method: 'GET', path: `/api/v1/namespaces/${namespace}/events` });
  return list.items.filter((e) => !name || e.involvedObject.name === name);
}
