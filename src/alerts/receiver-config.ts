// The operator's settings for the PagerDuty and e-mail receivers, from its flags (and their GOTEL_*
// twins): `--pagerduty-events-url`, `--smtp-url`, `--smtp-secret`, `--smtp-from`. Parsed once at
// start-up so a typo is one clear error naming the flag; the SMTP credentials themselves are read
// from the Secret at each delivery (rotated credentials are picked up without a restart).
import type { ConnectionOptions } from 'node:tls';

/** PagerDuty's public Events API v2 endpoint. */
export const DEFAULT_PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';

/** Default ports when `--smtp-url` names none: submission (587, STARTTLS) and implicit TLS (465). */
export const SMTP_DEFAULT_PORTS = { 'smtp:': 587, 'smtps:': 465 } as const;

export interface SmtpSettings {
  /** `smtp://host:port` (STARTTLS when offered) or `smtps://host:port` (TLS from the first byte). */
  url: string;
  host: string;
  port: number;
  secure: boolean;
  /** The From: address (`--smtp-from`). */
  from: string;
  /** `--smtp-secret NS/NAME`: the Secret with keys `username` and `password`. */
  secret?: { namespace: string; name: string };
  /** Extra TLS options (a private CA in tests); users trust a private CA with NODE_EXTRA_CA_CERTS. */
  tls?: ConnectionOptions;
}

export interface ReceiverSettings {
  /** Where PagerDuty events go (`--pagerduty-events-url`). */
  pagerdutyEventsUrl: string;
  /** Unset: no SMTP server is configured and e-mail receivers are refused with a message saying so. */
  smtp?: SmtpSettings;
}

export const DEFAULT_RECEIVER_SETTINGS: ReceiverSettings = { pagerdutyEventsUrl: DEFAULT_PAGERDUTY_EVENTS_URL };

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** `team@example.com` or `GoTel <gotel@example.com>`. */
const FROM = /^(?:[^<>@\r\n]*<[^<>\s@]+@[^<>\s@]+>|[^<>\s@]+@[^<>\s@]+)$/;

/**
 * Reads the receivers' flags from what commander parsed (camelCase keys: pagerdutyEventsUrl,
 * smtpUrl, smtpSecret, smtpFrom). Throws an Error naming the flag when one is wrong.
 */
export function receiverSettings(opts: Record<string, unknown>): ReceiverSettings {
  const str = (k: string): string | undefined => (typeof opts[k] === 'string' && opts[k].trim() !== '' ? opts[k].trim() : undefined);
  const pagerdutyEventsUrl = parsePagerDutyUrl(str('pagerdutyEventsUrl') ?? DEFAULT_PAGERDUTY_EVENTS_URL);
  const smtpUrl = str('smtpUrl');
  const secret = str('smtpSecret');
  const from = str('smtpFrom');
  if (!smtpUrl) {
    if (secret) throw new Error('--smtp-secret needs --smtp-url (the SMTP server to log in to)');
    if (from) throw new Error('--smtp-from needs --smtp-url (the SMTP server to send through)');
    return { pagerdutyEventsUrl };
  }
  if (!from) throw new Error('--smtp-url needs --smtp-from: the address e-mail alerts come from, e.g. "GoTel <gotel@example.com>"');
  if (!FROM.test(from)) throw new Error(`--smtp-from: "${from}" is not an address such as gotel@example.com or "GoTel <gotel@example.com>"`);
  return { pagerdutyEventsUrl, smtp: { ...parseSmtpUrl(smtpUrl), from, ...(secret ? { secret: parseSecretRef(secret) } : {}) } };
}

function parsePagerDutyUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`--pagerduty-events-url: "${value}" is not a URL (default ${DEFAULT_PAGERDUTY_EVENTS_URL})`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`--pagerduty-events-url must be http(s), not ${url.protocol}`);
  return value;
}

/** `smtp://host[:port]` or `smtps://host[:port]`; credentials belong in --smtp-secret, not the URL. */
export function parseSmtpUrl(value: string): Pick<SmtpSettings, 'url' | 'host' | 'port' | 'secure'> {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`--smtp-url: "${value}" is not a URL such as smtp://mail.example.com:587 or smtps://mail.example.com:465`);
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') throw new Error(`--smtp-url must start with smtp:// or smtps://, not ${url.protocol}//`);
  if (url.username || url.password) throw new Error('--smtp-url must not hold credentials: put them in a Secret with keys username and password and name it with --smtp-secret NS/NAME');
  if (!url.hostname) throw new Error(`--smtp-url: "${value}" names no host`);
  if ((url.pathname && url.pathname !== '/') || url.search) throw new Error(`--smtp-url: "${value}" must be only smtp(s)://host:port`);
  const port = url.port ? Number(url.port) : SMTP_DEFAULT_PORTS[url.protocol];
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return { url: `${url.protocol}//${url.host}${url.port ? '' : `:${port}`}`, host, port, secure: url.protocol === 'smtps:' };
}

function parseSecretRef(value: string): { namespace: string; name: string } {
  const m = /^([^/\s]+)\/([^/\s]+)$/.exec(value);
  if (!m) throw new Error(`--smtp-secret: "${value}" is not NS/NAME (a Secret with keys username and password)`);
  const [, namespace, name] = m as unknown as [string, string, string];
  if (!DNS_LABEL.test(namespace)) throw new Error(`--smtp-secret: "${namespace}" is not a valid namespace name`);
  if (!DNS_SUBDOMAIN.test(name)) throw new Error(`--smtp-secret: "${name}" is not a valid Secret name`);
  return { namespace, name };
}
