// What an alert says: the Slack message (Block Kit blocks with a plain-text fallback), the
// generic webhook's JSON payload, the PagerDuty event and the e-mail for one outbox entry of one
// Reservation, all built from the same headline and facts (messageFacts). Pure: no I/O, no clock
// (times come from the entry and the status).
//
// The message names the reservation (namespace/name), what was expected (schedule or period,
// grace, deadline), what happened (Missed, Late, Failed with the exit code, Overrun, TooFast,
// Recovered; the last check-in and its message), the owner, and the Reservation's own
// `spec.alertMessage` rendered with GoTel's placeholders (see templateVars).
import type { IncomingWebhookSendArguments } from '@slack/webhook';
import { createHash } from 'node:crypto';
import { API_VERSION, type OutboxEntry, type Reservation } from '../api/reservation.ts';

export type SlackBlock = NonNullable<IncomingWebhookSendArguments['blocks']>[number];

/** What rendering needs beyond the Reservation and the entry. */
export interface RenderContext {
  /** `--cluster-name`: GoTel's `{srv}`, shown in the message footer. */
  clusterName?: string;
  /** Names of the receivers the alert goes to: GoTel's `{notify}`. */
  receivers?: readonly string[];
}

export interface SlackMessage {
  /** Plain-text fallback (notifications, clients without Block Kit). */
  text: string;
  blocks: SlackBlock[];
}

/** Placeholder value when a known placeholder has nothing to show. */
const NONE = '-';

/**
 * Replaces `{placeholder}`s with their values. Unknown placeholders are left as written, so a typo
 * shows in the message instead of vanishing.
 */
export function renderTemplate(template: string, vars: Readonly<Record<string, string>>): string {
  return template.replace(/\{([A-Za-z][A-Za-z0-9_]*)\}/g, (all, key: string) => (Object.hasOwn(vars, key) ? vars[key]! : all));
}

/** `namespace/name`. */
export function reservationKey(res: Reservation): string {
  return `${res.metadata.namespace ?? 'default'}/${res.metadata.name}`;
}

/** `cron 0 2 * * * (Europe/Berlin)` or `every 5m`: GoTel's `{frequency}` and `{schedule}`. */
export function describeFrequency(res: Reservation): string {
  const { schedule, every, timeZone } = res.spec ?? {};
  if (schedule) return `${schedule}${timeZone && timeZone !== 'UTC' ? ` (${timeZone})` : ''}`;
  if (every) return `every ${every}`;
  return NONE;
}

/**
 * GoTel's {app} and {component}: the recommended labels, else the annotations GoTel's API keeps
 * (`gotel.io/app`, `gotel.io/component`), else a name `app-component`.
 */
export function appAndComponent(res: Reservation): { app: string; component: string } {
  const labels = res.metadata.labels ?? {};
  const notes = res.metadata.annotations ?? {};
  const name = res.metadata.name;
  const dash = name.indexOf('-');
  const app = labels['app.kubernetes.io/name'] || notes['gotel.io/app'] || (dash > 0 ? name.slice(0, dash) : name);
  const component = labels['app.kubernetes.io/component'] || notes['gotel.io/component'] || (dash > 0 ? name.slice(dash + 1) : NONE);
  return { app, component };
}

/** An instant for people: in the Reservation's time zone, with the zone named (`2026-03-28 02:00:00 CET`). */
export function formatInstant(instant: string | undefined, timeZone: string | undefined): string {
  if (!instant) return NONE;
  const t = Date.parse(instant);
  if (!Number.isFinite(t)) return instant;
  const zone = timeZone || 'UTC';
  try {
    const parts = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
      timeZoneName: 'short',
    }).formatToParts(new Date(t));
    const p = (type: Intl.DateTimeFormatPartTypes): string => parts.find((x) => x.type === type)?.value ?? '';
    return `${p('year')}-${p('month')}-${p('day')} ${p('hour')}:${p('minute')}:${p('second')} ${p('timeZoneName')}`;
  } catch {
    // An unknown zone (the reconciler reports it as Ready=False): show UTC rather than nothing.
    return new Date(t).toISOString().replace(/\.000Z$/, 'Z');
  }
}

function exitCodeOf(res: Reservation): number | undefined {
  const st = res.status ?? {};
  return st.lastResult?.exitCode ?? st.lastCheckin?.exitCode;
}

/**
 * The placeholders `spec.alertMessage` can use:
 * - `{name} {namespace}`; `{owner}` (spec.owner); `{last}` the last check-in's time, `{since}` since
 *   when the alert fires, both in the Reservation's zone; `{checkins}` check-ins received;
 *   `{schedule}` the cron expression or `every <period>`; `{state}` the failing state (Missed,
 *   Late, Failed, Overrun, TooFast) or, for a recovery, the current one; `{exitCode}` of the
 *   last judged run; `{message}` what the job said in its last check-in.
 * - GoTel's own: `{app}` and `{component}` (labels app.kubernetes.io/name and /component, else a
 *   name `app-component`), `{jobid}` (the Reservation's uid, else its name), `{notify}` (annotation
 *   gotel.io/notify as GoTel's API keeps it, else the receivers' names), `{frequency}` (as {schedule}), `{srv}` (the cluster name).
 * Known placeholders with nothing to show render as `-` (`{message}` as empty text).
 */
export function templateVars(res: Reservation, entry: OutboxEntry, ctx: RenderContext = {}): Record<string, string> {
  const st = res.status ?? {};
  const tz = res.spec?.timeZone;
  const { app, component } = appAndComponent(res);
  const exitCode = exitCodeOf(res);
  const frequency = describeFrequency(res);
  return {
    name: res.metadata.name,
    namespace: res.metadata.namespace ?? 'default',
    owner: res.spec?.owner || NONE,
    last: formatInstant(st.lastCheckin?.time, tz),
    since: formatInstant(st.alert?.since ?? (entry.kind === 'recovery' ? undefined : entry.dueTime), tz),
    checkins: String(st.checkins ?? 0),
    schedule: frequency,
    state: entry.kind === 'recovery' ? (st.state ?? 'Healthy') : entry.reason,
    exitCode: exitCode === undefined ? NONE : String(exitCode),
    message: st.lastCheckin?.message ?? '',
    app,
    component,
    jobid: res.metadata.uid ?? res.metadata.name,
    notify: res.metadata.annotations?.['gotel.io/notify'] || (ctx.receivers && ctx.receivers.length > 0 ? ctx.receivers.join(', ') : NONE),
    frequency,
    srv: ctx.clusterName || NONE,
  };
}

/** The Reservation's `spec.alertMessage` rendered for this entry, or undefined when it has none. */
export function renderAlertMessage(res: Reservation, entry: OutboxEntry, ctx: RenderContext = {}): string | undefined {
  const template = res.spec?.alertMessage;
  return template ? renderTemplate(template, templateVars(res, entry, ctx)) : undefined;
}

/** One line saying what happened, for the header and the fallback text. */
export function headline(res: Reservation, entry: OutboxEntry): string {
  const key = reservationKey(res);
  if (entry.kind === 'recovery') return `Recovered: ${key} is healthy again (was ${entry.reason})`;
  const code = exitCodeOf(res);
  const what: Record<string, string> = {
    Missed: `${key} missed its check-in`,
    Late: `${key} started late`,
    Failed: `${key} failed${code !== undefined && entry.reason === 'Failed' ? ` with exit code ${code}` : ''}`,
    Overrun: `${key} is running past its maxRuntime${res.spec?.maxRuntime ? ` of ${res.spec.maxRuntime}` : ''}`,
    TooFast: `${key} finished faster than its minRuntime${res.spec?.minRuntime ? ` of ${res.spec.minRuntime}` : ''}`,
  };
  const text = what[entry.reason] ?? `${key}: ${entry.reason}`;
  return entry.kind === 'renotify' ? `Still failing: ${text}` : `${entry.reason}: ${text}`;
}

/** Marks code in a fact: backticks for Slack, nothing for plain text. */
type CodeStyle = (text: string) => string;
const backticks: CodeStyle = (text) => `\`${text}\``;
const plain: CodeStyle = (text) => text;

function expected(res: Reservation, code: CodeStyle = backticks): string {
  const spec = res.spec ?? {};
  const parts: string[] = [];
  if (spec.schedule) parts.push(`cron ${code(spec.schedule)} in ${spec.timeZone || 'UTC'}`);
  else if (spec.every) parts.push(`every ${spec.every}`);
  if (spec.grace) parts.push(`grace ${spec.grace}`);
  if (spec.maxRuntime) parts.push(`maxRuntime ${spec.maxRuntime}`);
  if (spec.minRuntime) parts.push(`minRuntime ${spec.minRuntime}`);
  return parts.length > 0 ? parts.join(', ') : NONE;
}

function lastCheckinText(res: Reservation): string {
  const c = res.status?.lastCheckin;
  if (!c) return 'never';
  const extra: string[] = [];
  if (c.exitCode !== undefined) extra.push(`exit code ${c.exitCode}`);
  if (c.durationSeconds !== undefined) extra.push(`${c.durationSeconds}s`);
  if (c.runId) extra.push(`run ${c.runId}`);
  return `${c.signal} at ${formatInstant(c.time, res.spec?.timeZone)}${extra.length > 0 ? ` (${extra.join(', ')})` : ''}`;
}

const DUE_LABEL: Record<string, string> = {
  Missed: 'Deadline',
  Late: 'Deadline',
  Failed: 'Failed at',
  Overrun: 'Overrun at',
  TooFast: 'Finished at',
};

/** Slack mrkdwn escaping: `&`, `<`, `>` (so a job's message cannot ping `<!channel>`). */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

const EMOJI = { alert: ':red_circle:', renotify: ':repeat:', recovery: ':large_green_circle:' } as const;

/**
 * The facts every message shows, as label/value pairs in order: the reservation, what was
 * expected, when it fell due, the last check-in, owner, state, next deadline, exit code. Slack,
 * PagerDuty (custom_details) and e-mail all show these, so they say the same thing.
 */
export function messageFacts(res: Reservation, entry: OutboxEntry, code: CodeStyle = plain): [string, string][] {
  const st = res.status ?? {};
  const tz = res.spec?.timeZone;
  const dueLabel = entry.kind === 'recovery' ? 'Recovered at' : (DUE_LABEL[entry.reason] ?? 'Since');
  const fields: [string, string][] = [
    ['Reservation', code(reservationKey(res))],
    ['Expected', expected(res, code)],
    [dueLabel, formatInstant(entry.dueTime, tz)],
    ['Last check-in', lastCheckinText(res)],
    ['Owner', res.spec?.owner || NONE],
    ['State', st.state ?? NONE],
  ];
  if (st.deadline && entry.kind !== 'recovery') fields.push(['Next deadline', formatInstant(st.deadline, tz)]);
  const exitCode = exitCodeOf(res);
  if (exitCode !== undefined && entry.reason === 'Failed') fields.push(['Exit code', String(exitCode)]);
  return fields;
}

/** `GoTel · cluster prod · alert <id>`: the footer line of every message. */
function footerLine(entry: OutboxEntry, ctx: RenderContext): string {
  return [`GoTel`, ctx.clusterName ? `cluster ${ctx.clusterName}` : undefined, `${entry.kind} ${entry.id}`].filter(Boolean).join(' · ');
}

/** The Slack message for `entry`: header, what happened, facts, the rendered alertMessage, footer. */
export function renderSlackMessage(res: Reservation, entry: OutboxEntry, ctx: RenderContext = {}): SlackMessage {
  const st = res.status ?? {};
  const title = headline(res, entry);
  const custom = renderAlertMessage(res, entry, ctx);
  const fields = messageFacts(res, entry, backticks);

  const blocks: SlackBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: clip(title, 150), emoji: true } },
    { type: 'section', text: { type: 'mrkdwn', text: clip(`${EMOJI[entry.kind]} ${escapeMrkdwn(entry.message ?? title)}`, 3000) } },
    {
      type: 'section',
      fields: fields.slice(0, 10).map(([k, v]) => ({ type: 'mrkdwn' as const, text: clip(`*${k}*\n${escapeMrkdwn(v)}`, 2000) })),
    },
  ];
  const said = st.lastCheckin?.message;
  if (said) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: clip(`*Last message*\n\`\`\`${escapeMrkdwn(said)}\`\`\``, 3000) } });
  if (custom) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: clip(escapeMrkdwn(custom), 3000) } });
  const footer = footerLine(entry, ctx);
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: clip(escapeMrkdwn(footer), 3000) }] });

  const text = clip(`[GoTel] ${title}${custom ? ` — ${custom}` : entry.message ? ` — ${entry.message}` : ''}`, 3000);
  return { text, blocks };
}

/**
 * The generic webhook's JSON body. Stable shape (`version: gotel.io/v1alpha1`); fields are only
 * ever added. Times are RFC 3339 UTC. `id` is the same for every attempt of one notification, so a
 * receiver can drop a repeat (it is also sent as the `Idempotency-Key` header).
 */
export interface WebhookPayload {
  version: typeof API_VERSION;
  /** alert, renotify or recovery. */
  kind: OutboxEntry['kind'];
  /** `<uid or namespace/name>/<entry id>`: unique per notification. */
  id: string;
  /** Missed, Late, Failed, Overrun or TooFast (for a recovery: what it recovered from). */
  reason: string;
  /** true for alert and renotify, false for recovery. */
  firing: boolean;
  reservation: { namespace: string; name: string; uid?: string; labels?: Record<string, string> };
  /** One line: what happened. */
  summary: string;
  /** The alert text GoTel recorded in the outbox. */
  message?: string;
  /** spec.alertMessage rendered, when the Reservation has one. */
  alertMessage?: string;
  owner?: string;
  expected: { schedule?: string; every?: string; timeZone: string; grace?: string; maxRuntime?: string; minRuntime?: string };
  /** When the condition began (deadline, failure); for a recovery, when it recovered. */
  dueTime: string;
  createdTime: string;
  state?: string;
  since?: string;
  deadline?: string;
  exitCode?: number;
  checkins: number;
  lastCheckin?: { time: string; signal: string; runId?: string; exitCode?: number; durationSeconds?: number; message?: string };
  cluster?: string;
  receivers?: string[];
}

export function webhookDeliveryId(res: Reservation, entry: OutboxEntry): string {
  return `${res.metadata.uid ?? reservationKey(res)}/${entry.id}`;
}

export function renderWebhookPayload(res: Reservation, entry: OutboxEntry, ctx: RenderContext = {}): WebhookPayload {
  const st = res.status ?? {};
  const spec = res.spec ?? {};
  const exitCode = exitCodeOf(res);
  const c = st.lastCheckin;
  const alertMessage = renderAlertMessage(res, entry, ctx);
  const payload: WebhookPayload = {
    version: API_VERSION,
    kind: entry.kind,
    id: webhookDeliveryId(res, entry),
    reason: entry.reason,
    firing: entry.kind !== 'recovery',
    reservation: { namespace: res.metadata.namespace ?? 'default', name: res.metadata.name },
    summary: headline(res, entry),
    expected: { timeZone: spec.timeZone || 'UTC' },
    dueTime: entry.dueTime,
    createdTime: entry.createdTime,
    checkins: st.checkins ?? 0,
  };
  if (res.metadata.uid) payload.reservation.uid = res.metadata.uid;
  if (res.metadata.labels && Object.keys(res.metadata.labels).length > 0) payload.reservation.labels = { ...res.metadata.labels };
  if (entry.message) payload.message = entry.message;
  if (alertMessage) payload.alertMessage = alertMessage;
  if (spec.owner) payload.owner = spec.owner;
  for (const k of ['schedule', 'every', 'grace', 'maxRuntime', 'minRuntime'] as const) if (spec[k]) payload.expected[k] = spec[k];
  if (st.state) payload.state = st.state;
  if (st.alert?.since) payload.since = st.alert.since;
  if (st.deadline) payload.deadline = st.deadline;
  if (exitCode !== undefined) payload.exitCode = exitCode;
  if (c) {
    payload.lastCheckin = { time: c.time, signal: c.signal };
    if (c.runId) payload.lastCheckin.runId = c.runId;
    if (c.exitCode !== undefined) payload.lastCheckin.exitCode = c.exitCode;
    if (c.durationSeconds !== undefined) payload.lastCheckin.durationSeconds = c.durationSeconds;
    if (c.message) payload.lastCheckin.message = c.message;
  }
  if (ctx.clusterName) payload.cluster = ctx.clusterName;
  if (ctx.receivers && ctx.receivers.length > 0) payload.receivers = [...ctx.receivers];
  return payload;
}

/** PagerDuty's severities, most to least urgent (its default urgency rules page on critical and error). */
export type PagerDutySeverity = 'critical' | 'error' | 'warning' | 'info';

/**
 * The severity of a reason: a run that did not happen at all (Missed) is critical; one that failed
 * or is stuck past maxRuntime is an error; one that started late or finished suspiciously fast is a
 * warning (the work probably happened). Reasons not listed here (e.g. from Peers) are errors.
 */
export const PAGERDUTY_SEVERITY: Readonly<Record<string, PagerDutySeverity>> = {
  Missed: 'critical',
  Failed: 'error',
  Overrun: 'error',
  Late: 'warning',
  TooFast: 'warning',
};

export function pagerDutySeverity(reason: string): PagerDutySeverity {
  return PAGERDUTY_SEVERITY[reason] ?? 'error';
}

/** PagerDuty allows dedup keys of up to 255 characters. */
const DEDUP_KEY_MAX = 255;

/**
 * `gotel/<cluster>/<namespace>/<name>`: the same for every event of one Reservation, so a renotify
 * updates the open incident, a recovery resolves it, and the next alert after that opens a new one
 * (PagerDuty's rule for a resolved key). A key longer than PagerDuty allows is cut and ends in a
 * hash of the whole key, so it stays unique.
 */
export function pagerDutyDedupKey(res: Reservation, ctx: RenderContext = {}): string {
  const key = `gotel/${ctx.clusterName || 'default'}/${reservationKey(res)}`;
  if (key.length <= DEDUP_KEY_MAX) return key;
  const hash = createHash('sha256').update(key).digest('hex').slice(0, 16);
  return `${key.slice(0, DEDUP_KEY_MAX - hash.length - 1)}~${hash}`;
}

/** A PagerDuty Events API v2 event (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/). */
export interface PagerDutyEvent {
  routing_key: string;
  event_action: 'trigger' | 'resolve';
  dedup_key: string;
  /** Only on trigger: PagerDuty ignores a resolve's payload. */
  payload?: {
    summary: string;
    source: string;
    severity: PagerDutySeverity;
    timestamp?: string;
    component?: string;
    group?: string;
    class?: string;
    custom_details?: Record<string, string>;
  };
  client?: string;
}

/**
 * The event for `entry`: alert and renotify trigger (same dedup_key, so PagerDuty folds a renotify
 * into the open alert), recovery resolves. source is the cluster (`--cluster-name`), component the
 * Reservation, group its namespace, class the reason; custom_details holds the same facts as the
 * Slack message, the job's last message and the rendered spec.alertMessage.
 */
export function renderPagerDutyEvent(res: Reservation, entry: OutboxEntry, ctx: RenderContext, routingKey: string): PagerDutyEvent {
  const dedup_key = pagerDutyDedupKey(res, ctx);
  if (entry.kind === 'recovery') return { routing_key: routingKey, event_action: 'resolve', dedup_key, client: 'GoTel' };
  const details: Record<string, string> = Object.fromEntries(messageFacts(res, entry));
  if (entry.message) details['What happened'] = entry.message;
  const said = res.status?.lastCheckin?.message;
  if (said) details['Last message'] = said;
  const custom = renderAlertMessage(res, entry, ctx);
  if (custom) details['Alert message'] = custom;
  details.Notification = `${entry.kind} ${entry.id}`;
  const timestamp = Number.isFinite(Date.parse(entry.dueTime)) ? entry.dueTime : undefined;
  return {
    routing_key: routingKey,
    event_action: 'trigger',
    dedup_key,
    payload: {
      summary: clip(`[GoTel] ${headline(res, entry)}`, 1024),
      source: ctx.clusterName || 'gotel',
      severity: pagerDutySeverity(entry.reason),
      ...(timestamp ? { timestamp } : {}),
      component: reservationKey(res),
      group: res.metadata.namespace ?? 'default',
      class: entry.reason,
      custom_details: details,
    },
    client: 'GoTel',
  };
}

export interface EmailMessage {
  subject: string;
  text: string;
  html: string;
  /** X-GoTel-* headers, for mail filters. */
  headers: Record<string, string>;
}

/** HTML escaping for text and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/**
 * The e-mail for `entry`: the subject is `[GoTel] ` and the headline (it names the Reservation and
 * what happened); the plain-text and HTML bodies carry the same content as the Slack message.
 */
export function renderEmail(res: Reservation, entry: OutboxEntry, ctx: RenderContext = {}): EmailMessage {
  const title = headline(res, entry);
  const facts = messageFacts(res, entry);
  const said = res.status?.lastCheckin?.message;
  const custom = renderAlertMessage(res, entry, ctx);
  const footer = footerLine(entry, ctx);
  const width = Math.max(...facts.map(([k]) => k.length)) + 2;
  const text = [
    title,
    '',
    ...(entry.message ? [entry.message, ''] : []),
    ...facts.map(([k, v]) => `${`${k}:`.padEnd(width)}${v}`),
    ...(said ? ['', 'Last message:', ...said.split('\n').map((l) => `  ${l}`)] : []),
    ...(custom ? ['', custom] : []),
    '',
    '-- ',
    footer,
    '',
  ].join('\n');
  const colour = entry.kind === 'recovery' ? '#2e7d32' : '#c62828';
  const rows = facts.map(([k, v]) => `<tr><th align="left" style="padding:2px 12px 2px 0;vertical-align:top">${escapeHtml(k)}</th><td style="padding:2px 0">${escapeHtml(v)}</td></tr>`);
  const html = [
    '<!DOCTYPE html><html><body style="font-family:sans-serif;font-size:14px">',
    `<h2 style="color:${colour};font-size:18px">${escapeHtml(title)}</h2>`,
    ...(entry.message ? [`<p>${escapeHtml(entry.message)}</p>`] : []),
    `<table style="border-collapse:collapse">${rows.join('')}</table>`,
    ...(said ? [`<p><b>Last message</b></p><pre style="background:#f4f4f4;padding:8px;white-space:pre-wrap">${escapeHtml(said)}</pre>`] : []),
    ...(custom ? [`<p>${escapeHtml(custom)}</p>`] : []),
    `<p style="color:#777;font-size:12px">${escapeHtml(footer)}</p>`,
    '</body></html>',
  ].join('\n');
  const headers = { 'X-GoTel-Reservation': reservationKey(res), 'X-GoTel-Kind': entry.kind, 'X-GoTel-Reason': entry.reason };
  return { subject: clip(`[GoTel] ${title}`, 250), text, html, headers };
}
