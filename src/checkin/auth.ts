// Who may check in, Kubernetes-native:
// - a ServiceAccount (or any) bearer token the apiserver knows: a TokenReview authenticates it and
//   a SubjectAccessReview asks RBAC whether that user may use the custom verb `checkin` on
//   `reservations.gotel.io` (resourceName = the Reservation) in its namespace, so a plain Role
//   grants it. Results are cached briefly, keyed by a hash of the token (kube-rbac-proxy does the
//   same), so a hot job costs the apiserver nothing per check-in;
// - a bearer token kept in a Secret the Reservation names (spec.tokenSecretRef), compared in
//   constant time, for jobs outside the cluster;
// - nothing at all, when the Reservation opts in with spec.anonymous: true.
//
// The operator's ServiceAccount needs: create tokenreviews.authentication.k8s.io, create
// subjectaccessreviews.authorization.k8s.io, get secrets (only those named by Reservations).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Reservation } from '../api/reservation.ts';
import { GROUP, PLURAL } from '../api/reservation.ts';
import { KubeApiError, type KubeRest } from '../k8s/rest.ts';
import { HttpError, fromKubeError } from './errors.ts';

export interface AuthOptions {
  /** How long a TokenReview / SubjectAccessReview answer is reused; default 30 s (denials 5 s). */
  cacheTtlMs?: number;
  /** How long a denial or an unknown token is remembered; default 5 s. */
  negativeCacheTtlMs?: number;
  /** How long a Secret's token is reused; default 10 s. */
  secretCacheTtlMs?: number;
  /** Audiences a TokenReview asks for (default: the apiserver's own). */
  audiences?: string[];
  /** Upper bound on cached entries of each kind; default 10,000. */
  maxEntries?: number;
  clock?: () => number;
}

export interface Principal {
  kind: 'anonymous' | 'secret-token' | 'kubernetes';
  /** The Kubernetes user name (e.g. system:serviceaccount:ns:sa) when known. */
  user?: string;
}

export interface UserInfo {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

/** What a request wants to do, as RBAC sees it. */
export interface AccessAttributes {
  verb: string;
  namespace: string;
  /** The Reservation's name; omitted for collection verbs (list, create). */
  name?: string;
  resource?: string;
  group?: string;
}

class TtlCache<V> {
  private readonly map = new Map<string, { value: V; expires: number }>();
  private readonly max: number;
  private readonly now: () => number;
  constructor(max: number, now: () => number) {
    this.max = max;
    this.now = now;
  }
  get(key: string): V | undefined {
    const hit = this.map.get(key);
    if (!hit) return undefined;
    if (hit.expires <= this.now()) {
      this.map.delete(key);
      return undefined;
    }
    return hit.value;
  }
  set(key: string, value: V, ttlMs: number): void {
    if (ttlMs <= 0) return;
    this.map.delete(key);
    if (this.map.size >= this.max) {
      const oldest = this.map.keys().next();
      if (!oldest.done) this.map.delete(oldest.value);
    }
    this.map.set(key, { value, expires: this.now() + ttlMs });
  }
  clear(): void {
    this.map.clear();
  }
}

const sha256 = (s: string | Buffer): Buffer => createHash('sha256').update(s).digest();

/** Constant-time comparison of two secrets of any length (both are hashed first). */
export function constantTimeEquals(a: string | Buffer, b: string | Buffer): boolean {
  return timingSafeEqual(sha256(a), sha256(b));
}

/** The token of an `Authorization: Bearer <token>` header; undefined when absent; throws 401 when malformed. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined || header === '') return undefined;
  const m = /^Bearer +([\x21-\x7e]+) *$/i.exec(header);
  if (!m?.[1]) throw unauthorized('the Authorization header must be "Bearer <token>"');
  return m[1];
}

/** The 401 for a check-in without credentials, whether its Reservation exists or not. */
function credentialsRequired(namespace: string, name: string): HttpError {
  return unauthorized(
    `a bearer token is required to check in for ${namespace}/${name}: a ServiceAccount token allowed the verb "checkin" on ${PLURAL}.${GROUP}, ` +
      `the token in the Secret named by spec.tokenSecretRef, or spec.anonymous: true on the Reservation`,
  );
}

export function unauthorized(message: string): HttpError {
  return new HttpError(401, 'Unauthorized', message, { headers: { 'WWW-Authenticate': 'Bearer realm="gotel"' } });
}

export class Authenticator {
  private readonly rest: KubeRest;
  private readonly ttl: number;
  private readonly negativeTtl: number;
  private readonly secretTtl: number;
  private readonly audiences?: string[];
  private readonly users: TtlCache<UserInfo | null>;
  private readonly access: TtlCache<boolean>;
  private readonly secrets: TtlCache<Buffer | null>;
  /** Hashes of tokens that passed a check-in's authorization lately (client-limits.ts keys on them). */
  private readonly vouched: TtlCache<true>;
  /** Requests in flight, so a burst with one new token makes one review, not hundreds. */
  private readonly inflight = new Map<string, Promise<unknown>>();

  constructor(rest: KubeRest, options: AuthOptions = {}) {
    this.rest = rest;
    const now = options.clock ?? Date.now;
    const max = options.maxEntries ?? 10_000;
    this.ttl = options.cacheTtlMs ?? 30_000;
    this.negativeTtl = options.negativeCacheTtlMs ?? 5_000;
    this.secretTtl = options.secretCacheTtlMs ?? 10_000;
    if (options.audiences) this.audiences = options.audiences;
    this.users = new TtlCache(max, now);
    this.access = new TtlCache(max, now);
    this.secrets = new TtlCache(max, now);
    this.vouched = new TtlCache(max, now);
  }

  /** A key for this token if it was accepted for a check-in lately (a cache look-up: no request), else undefined. */
  vouchedKey(token: string): string | undefined {
    const hash = sha256(token).toString('base64');
    return this.vouched.get(hash) === true ? hash : undefined;
  }

  /**
   * Decides whether a check-in for `reservation` with this Authorization header is allowed.
   * Resolves with who it is; rejects with HttpError 401/403 (or 503 when the apiserver cannot answer).
   */
  async authorizeCheckin(reservation: Reservation, authorization: string | undefined): Promise<Principal> {
    const fields = checkinFields(reservation);
    const namespace = reservation.metadata.namespace ?? 'default';
    const name = reservation.metadata.name;
    if (fields.anonymous) return { kind: 'anonymous' };
    const token = bearerToken(authorization);
    if (token === undefined) throw credentialsRequired(namespace, name);
    let principal: Principal | undefined;
    if (fields.tokenSecretRef) {
      const expected = await this.secretToken(namespace, fields.tokenSecretRef.name, fields.tokenSecretRef.key);
      if (expected && constantTimeEquals(token, expected)) principal = { kind: 'secret-token' };
    }
    principal ??= await this.authorizeToken(token, { verb: 'checkin', namespace, name });
    const hash = sha256(token).toString('base64');
    if (this.vouched.get(hash) === undefined) this.vouched.set(hash, true, this.ttl);
    return principal;
  }

  /**
   * The answer for a check-in to a Reservation that does not exist: the same 401 as for an
   * existing one without valid credentials (same body, nothing about the Reservation), so names
   * cannot be probed. Only a token that RBAC would let check in there learns it is a 404; any
   * other valid token gets the 403 it would get for an existing one. Always rejects.
   */
  async refuseUnknown(namespace: string, name: string, authorization: string | undefined): Promise<never> {
    const token = bearerToken(authorization);
    if (token === undefined) throw credentialsRequired(namespace, name);
    await this.authorizeToken(token, { verb: 'checkin', namespace, name });
    throw new HttpError(404, 'NotFound', `Reservation ${namespace}/${name} not found`);
  }

  /**
   * The Kubernetes half of a decision, for `checkin` and any other verb on Reservations (`snooze`):
   * a TokenReview says who the token is, a SubjectAccessReview whether RBAC lets them (both cached).
   */
  async authorizeToken(token: string, attrs: AccessAttributes): Promise<Principal> {
    const user = await this.authenticate(token);
    await this.requireAccess(token, user, attrs);
    return { kind: 'kubernetes', user: user.username };
  }

  /** TokenReview (cached): the user a token belongs to; rejects with 401 when the apiserver does not know it. */
  async authenticate(token: string): Promise<UserInfo> {
    const key = sha256(token).toString('base64');
    let user = this.users.get(key);
    if (user === undefined) {
      user = await this.once(`tr:${key}`, () => this.tokenReview(token, key));
    }
    if (!user) throw unauthorized('the bearer token is not valid (not a token the Kubernetes apiserver accepts, nor this Reservation\'s Secret token)');
    return user;
  }

  /** SubjectAccessReview (cached); rejects with 403 naming what is missing. */
  async requireAccess(token: string, user: UserInfo, attrs: AccessAttributes): Promise<void> {
    const resource = attrs.resource ?? PLURAL;
    const group = attrs.group ?? GROUP;
    const key = `${sha256(token).toString('base64')}|${attrs.verb}|${group}|${resource}|${attrs.namespace}|${attrs.name ?? ''}`;
    let allowed = this.access.get(key);
    if (allowed === undefined) allowed = await this.once(`sar:${key}`, () => this.subjectAccessReview(user, { ...attrs, resource, group }, key));
    if (!allowed) {
      throw new HttpError(
        403,
        'Forbidden',
        `${user.username} may not "${attrs.verb}" ${resource}.${group}${attrs.name ? ` "${attrs.name}"` : ''} in namespace "${attrs.namespace}" ` +
          `(grant it with a Role: apiGroups ["${group}"], resources ["${resource}"], verbs ["${attrs.verb}"]${attrs.name ? `, resourceNames ["${attrs.name}"]` : ''})`,
      );
    }
  }

  private async once<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const running = this.inflight.get(key) as Promise<T> | undefined;
    if (running) return running;
    const p = fn().finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  private async tokenReview(token: string, key: string): Promise<UserInfo | null> {
    // Not a JWT-shaped token: the apiserver would not know it either; save the round trip.
    if (token.length > 16_384) {
      this.users.set(key, null, this.negativeTtl);
      return null;
    }
    let review: { status?: { authenticated?: boolean; user?: UserInfo; error?: string } };
    try {
      review = await this.rest.request({
        method: 'POST',
        path: '/apis/authentication.k8s.io/v1/tokenreviews',
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, ...(this.audiences ? { audiences: this.audiences } : {}) } },
        timeoutMs: 10_000,
      });
    } catch (err) {
      throw fromKubeError(err, 'TokenReview');
    }
    const status = review.status ?? {};
    const user = status.authenticated && status.user?.username ? status.user : null;
    this.users.set(key, user, user ? this.ttl : this.negativeTtl);
    return user;
  }

  private async subjectAccessReview(user: UserInfo, attrs: Required<Omit<AccessAttributes, 'name'>> & { name?: string }, key: string): Promise<boolean> {
    let review: { status?: { allowed?: boolean } };
    try {
      review = await this.rest.request({
        method: 'POST',
        path: '/apis/authorization.k8s.io/v1/subjectaccessreviews',
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: {
            user: user.username,
            ...(user.uid ? { uid: user.uid } : {}),
            ...(user.groups ? { groups: user.groups } : {}),
            ...(user.extra ? { extra: user.extra } : {}),
            resourceAttributes: {
              namespace: attrs.namespace,
              verb: attrs.verb,
              group: attrs.group,
              resource: attrs.resource,
              ...(attrs.name ? { name: attrs.name } : {}),
            },
          },
        },
        timeoutMs: 10_000,
      });
    } catch (err) {
      throw fromKubeError(err, 'SubjectAccessReview');
    }
    const allowed = review.status?.allowed === true;
    this.access.set(key, allowed, allowed ? this.ttl : this.negativeTtl);
    return allowed;
  }

  private async secretToken(namespace: string, name: string, key: string): Promise<Buffer | null> {
    const cacheKey = `${namespace}/${name}/${key}`;
    const cached = this.secrets.get(cacheKey);
    if (cached !== undefined) return cached;
    return this.once(`secret:${cacheKey}`, async () => {
      let value: Buffer | null = null;
      try {
        const secret = await this.rest.request<{ data?: Record<string, string> }>({
          method: 'GET',
          path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`,
          timeoutMs: 10_000,
        });
        const data = secret.data?.[key];
        if (typeof data === 'string' && data.length > 0) {
          // Tolerate a trailing newline from `kubectl create secret --from-file`.
          value = Buffer.from(Buffer.from(data, 'base64').toString('utf8').trim(), 'utf8');
          if (value.length === 0) value = null;
        }
      } catch (err) {
        if (!(err instanceof KubeApiError && (err.code === 404 || err.code === 403))) throw fromKubeError(err, `Secret ${namespace}/${name}`);
      }
      this.secrets.set(cacheKey, value, value ? this.secretTtl : this.negativeTtl);
      return value;
    });
  }

  /** Forgets every cached answer (tests, or after an RBAC change that must apply at once). */
  clear(): void {
    this.users.clear();
    this.access.clear();
    this.secrets.clear();
    this.vouched.clear();
  }
}

/** The key of spec.tokenSecretRef when it names none. */
export const DEFAULT_TOKEN_KEY = 'token';

/** The check-in related spec fields of a Reservation, defensively read (the object came from the API). */
function checkinFields(res: Reservation): { anonymous: boolean; tokenSecretRef?: { name: string; key: string } } {
  const { anonymous, tokenSecretRef: ref } = res.spec ?? {};
  return {
    anonymous: anonymous === true,
    ...(ref && typeof ref.name === 'string' && ref.name ? { tokenSecretRef: { name: ref.name, key: typeof ref.key === 'string' && ref.key ? ref.key : DEFAULT_TOKEN_KEY } } : {}),
  };
}
