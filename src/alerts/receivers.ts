// Where a Reservation's alerts go: each `spec.notify[]` entry, or, when notify is empty, the
// operator's default receiver (`--slack-webhook-url`: a URL or a Secret reference
// `namespace/name#key`). An entry is one of:
// - `slack` / `webhook`: a URL read from a Secret key in the Reservation's namespace (key `url` by
//   default);
// - `pagerduty`: a PagerDuty Events API v2 routing key read from a Secret key in the Reservation's
//   namespace (key `routingKey` by default), sent to the operator's `--pagerduty-events-url`;
// - `email`: recipients (`to`), sent through the operator's `--smtp-url` as `--smtp-from`, logging
//   in with the `username` and `password` of `--smtp-secret` when it is set.
//
// Secrets are read at each delivery (alerts are rare; a rotated URL, key or password is picked up
// without a restart). A missing Secret, a missing key, a value that is not what it should be, or an
// e-mail receiver on an operator without --smtp-url is a permanent error for that receiver, with a
// message saying what to fix.
import type { NotifyTarget, Reservation } from '../api/reservation.ts';
import { KubeApiError, type KubeRest } from '../k8s/rest.ts';
import type { EmailDelivery } from './email.ts';
import { DEFAULT_RECEIVER_SETTINGS, type ReceiverSettings } from './receiver-config.ts';

export type ReceiverType = 'slack' | 'webhook' | 'pagerduty' | 'email';

/** Where the operator's default receiver's URL comes from. */
export type DefaultReceiver =
  | { type: 'slack'; url: string }
  | { type: 'slack'; secretRef: { namespace: string; name: string; key: string } };

/** One receiver of one Reservation. `url` is set when it resolved, `error` when it cannot be used. */
export interface Receiver {
  /** Unique within the Reservation: used in deliveredTo, metrics and messages. */
  name: string;
  type: ReceiverType;
  /** Where the URL came from, for messages (`Secret data/slack key url`, `--slack-webhook-url`). */
  source: string;
  /** Where it is sent: the webhook URL, the PagerDuty events URL, the SMTP server's `smtp(s)://host:port`. */
  url?: string;
  /** PagerDuty: the routing (integration) key. */
  routingKey?: string;
  /** E-mail: the SMTP settings, recipients and login. */
  email?: EmailDelivery;
  /** Why this receiver cannot be used (permanent). */
  error?: string;
  /** The apiserver could not be asked (transient): try again later. */
  transientError?: string;
}

/** The name the default receiver has in deliveredTo and metrics. */
export const DEFAULT_RECEIVER_NAME = 'default';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * Parses `--slack-webhook-url`: an `https://…` (or `http://…`) URL, or a Secret reference
 * `namespace/name#key` (`#key` optional, default `url`). Throws an Error saying what is wrong.
 */
export function parseDefaultReceiver(value: string): DefaultReceiver {
  const v = value.trim();
  if (v === '') throw new Error('--slack-webhook-url is empty: give an https:// URL or a Secret reference namespace/name#key');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) {
    let url: URL;
    try {
      url = new URL(v);
    } catch {
      throw new Error(`--slack-webhook-url is not a valid URL: ${redactUrl(v)}`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`--slack-webhook-url must be http(s), not ${url.protocol}`);
    return { type: 'slack', url: v };
  }
  const m = /^([^/#\s]+)\/([^/#\s]+)(?:#([^#\s]+))?$/.exec(v);
  if (!m) throw new Error(`--slack-webhook-url "${v}" is neither an https:// URL nor a Secret reference namespace/name#key`);
  const [, namespace, name, key = 'url'] = m as unknown as [string, string, string, string | undefined];
  if (!DNS_LABEL.test(namespace)) throw new Error(`--slack-webhook-url: "${namespace}" is not a valid namespace name`);
  if (!DNS_SUBDOMAIN.test(name)) throw new Error(`--slack-webhook-url: "${name}" is not a valid Secret name`);
  if (!/^[-._a-zA-Z0-9]+$/.test(key)) throw new Error(`--slack-webhook-url: "${key}" is not a valid Secret key`);
  return { type: 'slack', secretRef: { namespace, name, key } };
}

/** A URL for logs and messages: scheme, host and the start of the path only (webhook URLs are secrets). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    const path = u.pathname.length > 12 ? `${u.pathname.slice(0, 12)}…` : u.pathname;
    return `${u.protocol}//${u.host}${path}`;
  } catch {
    return '(unreadable URL)';
  }
}

interface SecretObject {
  data?: Record<string, string>;
}

type SecretRead<T> = T & { error?: string; transientError?: string };

/** A Secret's data, decoded; or a permanent `error`, or a `transientError`. */
async function readSecret(rest: KubeRest, namespace: string, name: string): Promise<SecretRead<{ data?: Record<string, string> }>> {
  const where = `Secret ${namespace}/${name}`;
  let secret: SecretObject;
  try {
    secret = await rest.request<SecretObject>({ method: 'GET', path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}` });
  } catch (err) {
    if (err instanceof KubeApiError && err.code === 404) return { error: `${where} not found` };
    if (err instanceof KubeApiError && err.code === 403) return { error: `not allowed to read ${where} (the operator needs RBAC get on secrets there): ${err.message}` };
    return { transientError: `could not read ${where}: ${err instanceof Error ? err.message : String(err)}` };
  }
  return { data: Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')])) };
}

function missingKey(where: string, key: string, data: Record<string, string>): string {
  const keys = Object.keys(data);
  return `${where} has no key "${key}"${keys.length > 0 ? ` (it has: ${keys.join(', ')})` : ' (it is empty)'}`;
}

/** Reads one key of a Secret; `{ value }`, or a permanent `error`, or a `transientError`. */
export async function readSecretValue(rest: KubeRest, namespace: string, name: string, key: string): Promise<SecretRead<{ value?: string }>> {
  const { data, error, transientError } = await readSecret(rest, namespace, name);
  if (!data) return error !== undefined ? { error } : { transientError: transientError ?? 'unreadable Secret' };
  // Values made with `echo` end in a newline; trim it.
  const value = data[key]?.trim();
  if (value === undefined) return { error: missingKey(`Secret ${namespace}/${name}`, key, data) };
  if (value === '') return { error: `Secret ${namespace}/${name} key "${key}" is empty` };
  return { value };
}

/** Reads one key of a Secret; `{ url }`, or a permanent `error`, or a `transientError`. */
export async function readSecretUrl(rest: KubeRest, namespace: string, name: string, key: string): Promise<{ url?: string; error?: string; transientError?: string }> {
  const { value: url, ...failed } = await readSecretValue(rest, namespace, name, key);
  if (url === undefined) return failed;
  if (!/^https?:\/\/[^\s]+$/i.test(url) || !URL.canParse(url)) return { error: `Secret ${namespace}/${name} key "${key}" does not hold an http(s) URL` };
  return { url };
}

/** The routing key of a PagerDuty receiver; PagerDuty itself says whether it knows the key. */
async function readRoutingKey(rest: KubeRest, namespace: string, name: string, key: string): Promise<SecretRead<{ routingKey?: string }>> {
  const { value, ...failed } = await readSecretValue(rest, namespace, name, key);
  if (value === undefined) return failed;
  if (!/^[\x21-\x7e]{1,128}$/.test(value)) return { error: `Secret ${namespace}/${name} key "${key}" does not hold a PagerDuty routing key (one word of printable characters)` };
  return { routingKey: value };
}

/** The SMTP login from --smtp-secret's `username` and `password` keys. */
async function readSmtpLogin(rest: KubeRest, secret: { namespace: string; name: string }): Promise<SecretRead<{ auth?: { user: string; pass: string } }>> {
  const { data, error, transientError } = await readSecret(rest, secret.namespace, secret.name);
  if (!data) return error !== undefined ? { error } : { transientError: transientError ?? 'unreadable Secret' };
  const where = `Secret ${secret.namespace}/${secret.name}`;
  // A password may end in spaces; only the newline `echo` adds is dropped.
  const user = data.username?.trim();
  const pass = data.password?.replace(/\r?\n$/, '');
  for (const [key, value] of [['username', user], ['password', pass]] as const) {
    if (value === undefined) return { error: missingKey(where, key, data) };
    if (value === '') return { error: `${where} key "${key}" is empty` };
  }
  return { auth: { user: user!, pass: pass! } };
}

const TYPES: readonly ReceiverType[] = ['slack', 'webhook', 'pagerduty', 'email'];

function targetType(t: NotifyTarget): ReceiverType | undefined {
  const set = TYPES.filter((type) => t[type] !== undefined && t[type] !== null);
  return set.length === 1 ? set[0] : undefined;
}

/**
 * The receivers' names (no I/O): `spec.notify[i].name`, else the type; a repeated name gets `-2`,
 * `-3`… so each is unique. With no notify entries: `default` when there is a default receiver.
 */
export function receiverNames(reservation: Reservation, defaultReceiver: DefaultReceiver | undefined): { name: string; type: ReceiverType | undefined; target?: NotifyTarget; index?: number }[] {
  const targets = reservation.spec?.notify ?? [];
  if (targets.length === 0) return defaultReceiver ? [{ name: DEFAULT_RECEIVER_NAME, type: defaultReceiver.type }] : [];
  const used = new Set<string>();
  return targets.map((target, index) => {
    const type = targetType(target);
    const base = (target.name || type || 'receiver').slice(0, 60);
    let name = base;
    for (let n = 2; used.has(name); n++) name = `${base}-${n}`;
    used.add(name);
    return { name, type, target, index };
  });
}

/** Resolves every receiver of `reservation` (reads Secrets). Never throws. */
export async function resolveReceivers(
  rest: KubeRest,
  reservation: Reservation,
  defaultReceiver: DefaultReceiver | undefined,
  settings: ReceiverSettings = DEFAULT_RECEIVER_SETTINGS,
): Promise<Receiver[]> {
  const namespace = reservation.metadata.namespace ?? 'default';
  return Promise.all(
    receiverNames(reservation, defaultReceiver).map(async ({ name, type, target, index }): Promise<Receiver> => {
      if (!target) {
        // The operator's default receiver.
        const d = defaultReceiver!;
        if ('url' in d) return { name, type: d.type, source: '--slack-webhook-url', url: d.url };
        const { namespace: ns, name: secret, key } = d.secretRef;
        const source = `--slack-webhook-url Secret ${ns}/${secret} key ${key}`;
        return { name, type: d.type, source, ...(await readSecretUrl(rest, ns, secret, key)) };
      }
      const field = `spec.notify[${index}]`;
      if (!type) return { name, type: 'webhook', source: field, error: `${field} must set exactly one of slack, webhook, pagerduty or email` };
      if (type === 'pagerduty') return resolvePagerDuty(rest, namespace, name, target, field, settings);
      if (type === 'email') return resolveEmail(rest, name, target, field, settings);
      const ref = target[type]!.urlSecretRef;
      const key = ref.key || 'url';
      const source = `${field}.${type}.urlSecretRef (Secret ${namespace}/${ref.name} key ${key})`;
      return { name, type, source, ...(await readSecretUrl(rest, namespace, ref.name, key)) };
    }),
  );
}

/** The default key of a PagerDuty receiver's routingKeySecretRef. */
export const PAGERDUTY_DEFAULT_KEY = 'routingKey';

async function resolvePagerDuty(rest: KubeRest, namespace: string, name: string, target: NotifyTarget, field: string, settings: ReceiverSettings): Promise<Receiver> {
  const ref = target.pagerduty!.routingKeySecretRef;
  const key = ref.key || PAGERDUTY_DEFAULT_KEY;
  const source = `${field}.pagerduty.routingKeySecretRef (Secret ${namespace}/${ref.name} key ${key})`;
  const { routingKey, ...failed } = await readRoutingKey(rest, namespace, ref.name, key);
  if (routingKey === undefined) return { name, type: 'pagerduty', source, ...failed };
  return { name, type: 'pagerduty', source, url: settings.pagerdutyEventsUrl, routingKey };
}

async function resolveEmail(rest: KubeRest, name: string, target: NotifyTarget, field: string, settings: ReceiverSettings): Promise<Receiver> {
  const source = `${field}.email`;
  const to = (target.email?.to ?? []).map((a) => a.trim()).filter(Boolean);
  if (to.length === 0) return { name, type: 'email', source, error: `${field}.email.to names no address` };
  const smtp = settings.smtp;
  if (!smtp) return { name, type: 'email', source, error: 'the operator has no SMTP server: start it with --smtp-url and --smtp-from (see the README, Receivers)' };
  if (!smtp.secret) return { name, type: 'email', source, url: smtp.url, email: { smtp, to } };
  const { auth, ...failed } = await readSmtpLogin(rest, smtp.secret);
  if (!auth) return { name, type: 'email', source: `${source} (--smtp-secret ${smtp.secret.namespace}/${smtp.secret.name})`, ...failed };
  return { name, type: 'email', source, url: smtp.url, email: { smtp, to, auth } };
}
