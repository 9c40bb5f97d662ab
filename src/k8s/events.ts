// Kubernetes Events (core/v1) on a Reservation, so `kubectl describe rsv` and `kubectl get events`
// show each transition. Best effort: a failed Event is logged, never fails a reconcile.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { API_VERSION, KIND, type ObjectMeta } from '../api/reservation.ts';
import type { KubeRest } from './rest.ts';

/** The object an Event is about: a Reservation unless it says another kind (a Peer). */
export interface EventSubject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
}

export interface EventRecorder {
  record(reservation: EventSubject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
}

export function createEventRecorder(rest: KubeRest, identity: string, logger: Logger): EventRecorder {
  return {
    async record(reservation, type, reason, message) {
      const namespace = reservation.metadata.namespace ?? 'default';
      const now = new Date().toISOString();
      const body = {
        apiVersion: 'v1',
        kind: 'Event',
        // Event names are DNS subdomains (<= 253): keep room for the unique suffix.
        metadata: { name: `${reservation.metadata.name.slice(0, 220)}.${Date.now().toString(16)}${randomBytes(3).toString('hex')}`, namespace },
        involvedObject: {
          apiVersion: reservation.apiVersion ?? API_VERSION,
          kind: reservation.kind ?? KIND,
          name: reservation.metadata.name,
          namespace,
          uid: reservation.metadata.uid,
          resourceVersion: reservation.metadata.resourceVersion,
        },
        reason,
        message: message.slice(0, 1024),
        type,
        source: { component: 'gotel' },
        reportingComponent: 'gotel.io/operator',
        reportingInstance: identity.slice(0, 128),
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      };
      try {
        await rest.request({ method: 'POST', path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`, body });
      } catch (err) {
        logger.warn({ reservation: `${namespace}/${reservation.metadata.name}`, reason, err: (err as Error).message }, 'event not recorded');
      }
    },
  };
}
