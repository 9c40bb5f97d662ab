// The e-mail receiver: one message per notification through the SMTP server of `--smtp-url`, sent
// with nodemailer. A new connection per message (alerts are rare; nothing to keep warm).
//
// Transport security: `smtps://` speaks TLS from the first byte. `smtp://` upgrades with STARTTLS
// whenever the server offers it; when the operator logs in (`--smtp-secret`), STARTTLS is required
// (nodemailer's requireTLS), so a password never crosses the network in clear text and a server
// (or someone in between) that does not offer STARTTLS gets no credentials. Without credentials,
// e.g. a relay on the node, plain SMTP is used when the server offers nothing better. Server
// certificates are verified against Node's CA store; a private CA is added with
// NODE_EXTRA_CA_CERTS.
//
// What the server's answer means (the same rules as for HTTP receivers, see classify.ts):
// - the message accepted for every recipient: delivered;
// - a 4xx reply (421 service not available, 450 mailbox busy, 451, 452, 454 temporary auth
//   failure), no connection, a timeout, a broken TLS handshake: transient, retried with backoff;
// - a 5xx reply (550 mailbox unavailable, 553 bad address, 554), 535 authentication failed, no
//   credentials the server can take: permanent;
// - some recipients accepted and others refused for good: permanent, naming both (those that were
//   accepted got it; a retry would send them a second copy).
import { isIP } from 'node:net';
import nodemailer from 'nodemailer';
import { briefBody, describeNetworkError, type SendOutcome } from './classify.ts';
import type { SmtpSettings } from './receiver-config.ts';
import type { EmailMessage } from './render.ts';
import { DEFAULT_SEND_TIMEOUT_MS, type SendOptions } from './slack.ts';

/** Where and how one e-mail receiver sends: the operator's SMTP settings, the recipients, the login. */
export interface EmailDelivery {
  smtp: SmtpSettings;
  to: string[];
  /** From the --smtp-secret Secret's `username` and `password` keys. */
  auth?: { user: string; pass: string };
}

/** What an SMTP reply code means, for messages people read. */
const SMTP_REPLIES: Readonly<Record<number, string>> = {
  421: 'the server is not available now',
  450: 'the mailbox is busy or unavailable for now',
  451: 'the server had a local error',
  452: 'the server is short of storage',
  454: 'authentication is temporarily unavailable',
  530: 'the server requires authentication (set --smtp-secret)',
  534: 'the server wants a stronger authentication mechanism',
  535: 'the server refused the username and password of --smtp-secret',
  550: 'the mailbox is unavailable',
  551: 'the user is not local to the server',
  552: 'the mailbox is over its storage allowance',
  553: 'the mailbox name is not allowed',
  554: 'the server refused the transaction',
};

export async function sendEmail(delivery: EmailDelivery, message: EmailMessage, options: SendOptions = {}): Promise<SendOutcome> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_SEND_TIMEOUT_MS;
  const { smtp } = delivery;
  const transport = nodemailer.createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    requireTLS: !smtp.secure && delivery.auth !== undefined,
    ...(delivery.auth ? { auth: { user: delivery.auth.user, pass: delivery.auth.pass } } : {}),
    // SNI takes a host name only; the certificate is checked against an IP address all the same.
    tls: { ...(isIP(smtp.host) ? {} : { servername: smtp.host }), ...smtp.tls },
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    // The message is ours, never a path or URL to fetch.
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  const signals = [AbortSignal.timeout(timeoutMs)];
  if (options.signal) signals.push(options.signal);
  try {
    const info = await transport.sendMail({
      from: smtp.from,
      to: delivery.to,
      subject: message.subject,
      text: message.text,
      html: message.html,
      headers: message.headers,
      signal: AbortSignal.any(signals),
    });
    const rejected = info.rejected.map(String);
    if (rejected.length === 0) return { kind: 'delivered', status: replyCode(info.response) ?? 250 };
    const why = (info.rejectedErrors ?? []).map((e) => briefBody(e.response ?? e.message)).join('; ');
    return { kind: 'permanent', error: `SMTP refused ${rejected.join(', ')}${why ? ` (${why})` : ''}; delivered to ${info.accepted.map(String).join(', ')}` };
  } catch (err) {
    return classifySmtpError(err);
  } finally {
    transport.close();
  }
}

function replyCode(response: string | undefined): number | undefined {
  const m = /^(\d{3})/.exec(response ?? '');
  return m ? Number(m[1]) : undefined;
}

/** Codes nodemailer gives errors that no retry can fix: the configuration or the message is wrong. */
const PERMANENT_CODES = new Set(['EAUTH', 'ENOAUTH', 'EENVELOPE', 'EMESSAGE', 'ECONFIG', 'EREQUIRETLS', 'EMAXRECIPIENTS']);

/**
 * Classifies what nodemailer threw: by the SMTP reply when there was one (4xx transient, 5xx
 * permanent), else by its error code (a login the server cannot take, a bad envelope: permanent;
 * no connection, timeout, TLS failure: transient).
 */
export function classifySmtpError(err: unknown): SendOutcome {
  const e = (err ?? {}) as { code?: unknown; responseCode?: unknown; response?: unknown; message?: unknown; name?: unknown; command?: unknown };
  const code = typeof e.responseCode === 'number' ? e.responseCode : replyCode(typeof e.response === 'string' ? e.response : undefined);
  const message = typeof e.message === 'string' ? e.message : String(err);
  if (code !== undefined && code >= 400) {
    const said = briefBody(typeof e.response === 'string' ? e.response : message);
    // Refused STARTTLS: we only ask when logging in requires it (see the top of this file).
    const explained = e.command === 'STARTTLS' ? 'the server does not offer STARTTLS, required to log in with --smtp-secret; use smtps:// or a server with STARTTLS' : SMTP_REPLIES[code];
    const error = `SMTP ${said.startsWith(String(code)) ? said : `${code} ${said}`}${explained ? ` (${explained})` : ''}`;
    return code >= 500 ? { kind: 'permanent', status: code, error } : { kind: 'transient', status: code, error };
  }
  if (typeof e.code === 'string' && PERMANENT_CODES.has(e.code)) return { kind: 'permanent', error: `SMTP ${e.code}: ${briefBody(message)}` };
  if (e.code === 'EABORT' || e.name === 'AbortError' || e.name === 'TimeoutError') return { kind: 'transient', error: 'no answer: timed out or aborted while sending' };
  // Socket errors carry the system's code (ECONNREFUSED, ECONNRESET) in their message only.
  const generic = e.code === undefined || e.code === 'ECONNECTION' || e.code === 'ESOCKET';
  const what = generic ? (/\b(E[A-Z]{4,})\b/.exec(message)?.[1] ?? describeNetworkError(err)) : String(e.code);
  return { kind: 'transient', error: `no answer: ${what}${what !== message ? ` (${briefBody(message)})` : ''}` };
}
