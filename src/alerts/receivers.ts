// Where a Reservation's alerts go: each `spec.notify[]` entry (a Slack incoming webhook or a
// generic JSON webhook, its URL read from a Secret key in the Reservation's namespace, key `url`
// by default), or, when notify is empty, the operator's default receiver (`--slack-webhook-url`:
// a URL or a Secret reference `namespace/name#key`).
//
// URLs are read from the Secret at each delivery (alerts are rare; a rotated URL is picked up
// without a restart). A missing Secret, a missing key, or a value that is not an http(s) URL is a
// permanent error for that receiver, with a message saying which Secret and key to fix.
import type { NotifyTarget, Reservation } from '../api/reservation.ts';
import { KubeApiError, type KubeRest } from '../k8s/rest.ts';

export type ReceiverType = 'slack' | 'webhook';

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
  url?: string;
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

/** Reads one key of a Secret; `{ url }`, or a permanent `error`, or a `transientError`. */
export async function readSecretUrl(rest: KubeRest, namespace: string, name: string, key: string): Promise<{ url?: string; error?: string; transientError?: string }> {
  const where = `Secret ${namespace}/${name}`;
  let secret: SecretObject;
  try {
    secret = await rest.request<SecretObject>({ method: 'GET', path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}` });
  } catch (err) {
    if (err instanceof KubeApiError && err.code === 404) return { error: `${where} not found` };
    if (err instanceof KubeApiError && err.code === 403) return { error: `not allowed to read ${where} (the operator needs RBAC get on secrets there): ${err.message}` };
    return { transientError: `could not read ${where}: ${err instanceof Error ? err.message : String(err)}` };
  }
  const encoded = secret.data?.[key];
  if (encoded === undefined) {
    const keys = Object.keys(secret.data ?? {});
    return { error: `${where} has no key "${key}"${keys.length > 0 ? ` (it has: ${keys.join(', ')})` : ' (it is empty)'}` };
  }
  // Values made with `echo` end in a newline; trim it.
  const url = Buffer.from(encoded, 'base64').toString('utf8').trim();
  if (!/^https?:\/\/[^\s]+$/i.test(url) || !URL.canParse(url)) return { error: `${where} key "${key}" does not hold an http(s) URL` };
  return { url };
}

function targetType(t: NotifyTarget): ReceiverType | undefined {
  if (t.slack && !t.webhook) return 'slack';
  if (t.webhook && !t.slack) return 'webhook';
  return undefined;
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
export async function resolveReceivers(rest: KubeRest, reservation: Reservation, defaultReceiver: DefaultReceiver | undefined): Promise<Receiver[]> {
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
      if (!type) return { name, type: 'webhook', source: field, error: `${field} must set exactly one of slack or webhook` };
      const ref = target[type]!.urlSecretRef;
      const key = ref.key || 'url';
      const source = `${field}.${type}.urlSecretRef (Secret ${namespace}/${ref.name} key ${key})`;
      return { name, type, source, ...(await readSecretUrl(rest, namespace, ref.name, key)) };
    }),
  );
}
