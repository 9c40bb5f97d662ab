// Who may see what, with the check-in API's own authentication (src/checkin/auth.ts): a bearer
// token the apiserver knows (TokenReview) whose user RBAC allows to `list` reservations.gotel.io
// (SubjectAccessReview, cached) cluster-wide, or in the namespaces shown; a single Reservation's
// badge also accepts `get` on that Reservation.
import { GROUP, PLURAL } from '../api/reservation.ts';
import { Authenticator, bearerToken, unauthorized, type UserInfo } from '../checkin/auth.ts';
import { HttpError } from '../checkin/errors.ts';
import type { Visibility } from './config.ts';

/** Which namespaces a viewer may see; `all` for every one. */
export type Scope = { all: true } | { all: false; namespaces: Set<string> };

export const ALL: Scope = { all: true };

export const inScope = (scope: Scope, namespace: string): boolean => scope.all || scope.namespaces.has(namespace);

async function allowed(auth: Authenticator, token: string, user: UserInfo, verb: string, namespace: string, name?: string, resource?: string): Promise<boolean> {
  try {
    await auth.requireAccess(token, user, { verb, namespace, ...(name ? { name } : {}), ...(resource ? { resource } : {}) });
    return true;
  } catch (err) {
    if (err instanceof HttpError && err.status === 403) return false;
    throw err;
  }
}

async function user(auth: Authenticator, authorization: string | undefined, what: string, flag: string): Promise<{ token: string; user: UserInfo }> {
  const token = bearerToken(authorization);
  if (token === undefined) throw unauthorized(`${what} needs a Kubernetes bearer token (Authorization: Bearer ...) whose user may "list" ${PLURAL}.${GROUP}, or the operator's ${flag}=public`);
  return { token, user: await auth.authenticate(token) };
}

const forbidden = (u: UserInfo, where: string): HttpError =>
  new HttpError(403, 'Forbidden', `${u.username} may not "list" ${PLURAL}.${GROUP} ${where} (grant it with a Role or ClusterRole: apiGroups ["${GROUP}"], resources ["${PLURAL}"], verbs ["list"])`);

/**
 * The namespaces the status page may show this request: all of them to a user allowed to list
 * Reservations cluster-wide, else those of `candidates` (or only `wanted`) where the user may.
 * Rejects with 401 (no or unknown token) or 403 (none at all).
 */
export async function pageScope(mode: Visibility, auth: Authenticator, authorization: string | undefined, candidates: string[], wanted?: string): Promise<Scope> {
  if (mode === 'public') return ALL;
  const { token, user: u } = await user(auth, authorization, 'the status page', '--status-page');
  if (wanted) {
    if (await allowed(auth, token, u, 'list', wanted)) return { all: false, namespaces: new Set([wanted]) };
    throw forbidden(u, `in namespace "${wanted}"`);
  }
  if (await allowed(auth, token, u, 'list', '')) return ALL;
  const checks = await Promise.all(candidates.map(async (ns) => ((await allowed(auth, token, u, 'list', ns)) ? ns : undefined)));
  const namespaces = new Set(checks.filter((ns): ns is string => ns !== undefined));
  if (namespaces.size === 0) throw forbidden(u, 'in any namespace');
  return { all: false, namespaces };
}

/** A badge: `list` in the namespace, or (for one Reservation) `get` on it. */
export async function requireBadgeAccess(mode: Visibility, auth: Authenticator, authorization: string | undefined, namespace: string, name?: string): Promise<void> {
  if (mode === 'public') return;
  const { token, user: u } = await user(auth, authorization, 'this badge', '--badges');
  if (await allowed(auth, token, u, 'list', namespace)) return;
  if (name && (await allowed(auth, token, u, 'get', namespace, name))) return;
  throw forbidden(u, `in namespace "${namespace}"${name ? ` (nor "get" ${name})` : ''}`);
}

/** Peers are shown to whoever may list them in GoTel's namespace (everyone when the page is public). */
export async function maySeePeers(mode: Visibility, auth: Authenticator, authorization: string | undefined, namespace: string): Promise<boolean> {
  if (mode === 'public') return true;
  const token = bearerToken(authorization);
  if (!token) return false;
  return allowed(auth, token, await auth.authenticate(token), 'list', namespace, undefined, 'peers');
}
