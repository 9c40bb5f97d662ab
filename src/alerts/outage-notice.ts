// What the one notice per GoTel outage says, for each kind of receiver: GoTel could not accept
// check-ins from T1 to T2; N Reservations had deadlines in that window (named); those whose runs
// still have no check-in after the catch-up are listed, so a job that really did not run is still
// reported. Pure: the notifier (src/operator/outage-notifier.ts) gathers the facts and sends.
import { API_VERSION } from '../api/reservation.ts';
import { formatDuration } from '../core/duration.ts';
import { clip } from '../core/text.ts';
import { escapeHtml, type EmailMessage, type PagerDutyEvent, type SlackMessage } from './render.ts';

export interface OutageNotice {
  id: string;
  start: number;
  end: number;
  catchUpMs: number;
  clusterName: string;
  /** What showed the outage: `apiserver`, `no-leader`. */
  causes: string[];
  /** Reservations (namespace/name) with a deadline in the window or its catch-up. */
  reservations: string[];
  /** Runs with no check-in even after the catch-up: unknown, possibly not run. */
  missing: { reservation: string; expectedTime: string }[];
}

/** The webhook receiver's JSON for a notice. */
export interface OutageWebhookPayload {
  version: typeof API_VERSION;
  kind: 'outage';
  /** `outage/<cluster>/<outage id>`: the same for every attempt (also the Idempotency-Key). */
  id: string;
  cluster: string;
  start: string;
  end: string;
  causes: string[];
  summary: string;
  reservations: string[];
  stillMissing: { reservation: string; expectedTime: string }[];
}

/** Names listed in one message at most (the count says how many there were). */
const MAX_LISTED = 50;

const at = (ms: number): string => new Date(ms).toISOString().replace(/\.000Z$/, 'Z');

function list(names: readonly string[]): string {
  const shown = names.slice(0, MAX_LISTED).join(', ');
  return names.length > MAX_LISTED ? `${shown} and ${names.length - MAX_LISTED} more` : shown;
}

/** One line: the outage and how many Reservations it touched. */
export function outageHeadline(n: OutageNotice): string {
  const count = n.reservations.length;
  return `GoTel could not accept check-ins from ${at(n.start)} to ${at(n.end)} (${formatDuration(Math.max(1000, Math.round((n.end - n.start) / 1000) * 1000))}); ${count} Reservation${count === 1 ? '' : 's'} had deadlines in that window`;
}

/** Who is still missing after the catch-up, in one sentence. */
function missingSentence(n: OutageNotice): string {
  const catchUp = formatDuration(n.catchUpMs);
  if (n.missing.length === 0) return `Every one of them checked in within the ${catchUp} catch-up after it.`;
  const runs = n.missing.map((m) => `${m.reservation} (run expected at ${m.expectedTime})`);
  return `Runs that still have no check-in after the ${catchUp} catch-up: ${list(runs)}.`;
}

/** The whole text: headline, the Reservations, who is still missing, and what it means. */
export function outageText(n: OutageNotice): string {
  return [
    `${outageHeadline(n)}: ${list(n.reservations)}.`,
    missingSentence(n),
    `Those runs are Unknown, not Missed, in their status (status.outageRuns, outage ${n.id}); runs due after the catch-up are judged as usual. Cluster ${n.clusterName}; seen by: ${n.causes.join(', ')}.`,
  ].join('\n');
}

export function renderOutageSlack(n: OutageNotice): SlackMessage {
  const text = outageText(n);
  return { text: clip(text, 3000), blocks: [{ type: 'section', text: { type: 'mrkdwn', text: clip(text, 3000) } }] };
}

export function renderOutageWebhook(n: OutageNotice): OutageWebhookPayload {
  return {
    version: API_VERSION,
    kind: 'outage',
    id: `outage/${n.clusterName}/${n.id}`,
    cluster: n.clusterName,
    start: at(n.start),
    end: at(n.end),
    causes: n.causes,
    summary: outageHeadline(n),
    reservations: n.reservations,
    stillMissing: n.missing,
  };
}

/** A trigger (error when runs are still missing, else warning), one dedup key per outage. */
export function renderOutagePagerDuty(n: OutageNotice, routingKey: string): PagerDutyEvent {
  return {
    routing_key: routingKey,
    event_action: 'trigger',
    dedup_key: clip(`gotel/${n.clusterName}/outage/${n.id}`, 255),
    payload: {
      summary: clip(outageHeadline(n), 1024),
      source: n.clusterName,
      severity: n.missing.length > 0 ? 'error' : 'warning',
      timestamp: at(n.end),
      class: 'GoTelOutage',
      custom_details: { reservations: list(n.reservations), stillMissing: n.missing.map((m) => `${m.reservation} ${m.expectedTime}`).join(', ') || '-' },
    },
  };
}

export function renderOutageEmail(n: OutageNotice): EmailMessage {
  const text = outageText(n);
  return {
    subject: clip(`[GoTel] GoTel could not accept check-ins from ${at(n.start)} to ${at(n.end)}`, 200),
    text,
    html: `<p>${escapeHtml(text).replace(/\n/g, '</p><p>')}</p>`,
    headers: { 'X-GoTel-Kind': 'outage', 'X-GoTel-Reason': 'GoTelOutage' },
  };
}
