// Spec fields that check-ins need, until they are part of ReservationSpec in src/api/reservation.ts
// (and the CRD in src/api/crd.ts). Read them through `checkinFields()` so the switch is one line.
import type { Reservation } from '../api/reservation.ts';

export interface TokenSecretRef {
  /** A Secret in the Reservation's namespace. */
  name: string;
  /** The key holding the bearer token; default `token`. */
  key?: string;
}

export interface CheckinSpecFields {
  /** Accept check-ins without credentials (explicit opt-in; default false). */
  anonymous?: boolean;
  /** A Secret holding a bearer token that authorises check-ins for this Reservation (jobs outside the cluster). */
  tokenSecretRef?: TokenSecretRef;
}

export const DEFAULT_TOKEN_KEY = 'token';

/** The check-in related spec fields of a Reservation, defensively typed (the object came from the API). */
export function checkinFields(res: Reservation): { anonymous: boolean; tokenSecretRef?: Required<TokenSecretRef> } {
  const spec = (res.spec ?? {}) as CheckinSpecFields;
  const ref = spec.tokenSecretRef;
  return {
    anonymous: spec.anonymous === true,
    ...(ref && typeof ref.name === 'string' && ref.name
      ? { tokenSecretRef: { name: ref.name, key: typeof ref.key === 'string' && ref.key ? ref.key : DEFAULT_TOKEN_KEY } }
      : {}),
  };
}
