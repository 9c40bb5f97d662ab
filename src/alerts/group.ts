// Alert groups, pure: what one grouped notification is (a cause, one receiver, its members), how it
// is kept durably (one ConfigMap, written before it is sent; its delivery mark another ConfigMap,
// created after the receiver answered), and how it reads in each receiver (README "Alert
// grouping"; docs/architecture.md, promise 2).
import { createHash } from 'node:crypto';
import type { OutboxEntry } from '../api/reservation.ts';
import type { EmailDelivery } from './email.ts';
import type { Receiver, ReceiverType } from './receivers.ts';
import { escapeHtml, escapeMrkdwn, pagerDutySeverity, type EmailMessage, type PagerDutyEvent, type RenderContext, type SlackBlock, type SlackMessage } from './render.ts';
import { clip } from '../core/text.ts';

/** One Reservation's notification inside a group. */
export interface GroupMember {
  namespace: string;
  name: string;
  /** The outbox entry it stands for. */
  entryId: string;
  /**
   * For alerts: the run it stands for (kind, reason, due time), the same in every judgement of
   * that run, so a member announced before its status was written (AlertGrouper.anticipate), or
   * judged again by a new leader, is still the same member.
   */
  runKey?: string;
  /** The receiver's name in this Reservation's spec.notify (what its deliveredTo records). */
  receiver: string;
  dueTime: string;
  /** The run it missed, for Missed alerts. */
  expectedTime?: string;
}

export interface AlertGroup {
  /** Also the record's name: `gotel-alert-group-<id>`. */
  id: string;
  kind: OutboxEntry['kind'];
  reason: string;
  /** The one receiver it goes to: its type and a hash of where it sends (never the URL: it is a secret). */
  target: { type: ReceiverType; hash: string };
  createdTime: string;
  members: GroupMember[];
  /**
   * One notification sent alone before its status write (AlertGrouper.anticipate): stored so its
   * delivery mark is durable, sent as the normal single message; its status names no group.
   */
  alone?: boolean;
}

/** What the receiver answered, stored once (a ConfigMap that is created, never changed). */
export interface GroupMark {
  result: 'delivered' | 'refused';
  time: string;
  error?: string;
}

/**
 * Members per group at most: keeps one record far below etcd's 1.5 MiB object limit (about 150
 * bytes a member); a larger burst becomes several groups.
 */
export const MAX_GROUP_MEMBERS = 2000;
/** Names a message lists before "and N more". */
export const NAMES_SHOWN = 20;
export const GROUP_LABEL = 'gotel.io/alert-group';
export const GROUP_PREFIX = 'gotel-alert-group-';

export const recordName = (id: string): string => `${GROUP_PREFIX}${id}`;
export const markName = (id: string): string => `${GROUP_PREFIX}${id}-sent`;

/** Where a receiver sends, as a short hash: two Reservations' receivers that send to the same place share groups. */
export function targetHash(receiver: Pick<Receiver, 'type' | 'url' | 'routingKey'> & { email?: Pick<EmailDelivery, 'to'> }): string {
  const where = [receiver.type, receiver.url ?? '', receiver.routingKey ?? '', (receiver.email?.to ?? []).join(',')].join('|');
  return createHash('sha256').update(where).digest('hex').slice(0, 20);
}

/** The key windows are kept by: one receiver, one cause. */
export function causeKey(targetKey: string, entry: Pick<OutboxEntry, 'kind' | 'reason'>): string {
  return `${targetKey}|${entry.kind}|${entry.reason}`;
}

export function memberKey(m: Pick<GroupMember, 'namespace' | 'name' | 'entryId' | 'receiver' | 'runKey'>): string {
  return `${m.namespace}/${m.name}|${m.runKey ?? m.entryId}|${m.receiver}`;
}

/**
 * What an entry stands for across judgements: an alert is one run's (its id has the judging time
 * in it, its due time does not); other kinds are keyed by their id.
 */
export function runKeyOf(entry: Pick<OutboxEntry, 'kind' | 'reason' | 'dueTime'>): string | undefined {
  return entry.kind === 'alert' ? `alert|${entry.reason}|${entry.dueTime}` : undefined;
}

const VERB: Record<string, string> = {
  Missed: 'missed their run',
  Late: 'checked in late',
  Failed: 'failed',
  Overrun: 'ran longer than their maxRuntime',
  TooFast: 'finished faster than their minRuntime',
};

/** The run every member missed, when they all missed the same one (`02:00 UTC`). */
function commonRun(g: AlertGroup): string | undefined {
  const first = g.members[0]?.expectedTime;
  if (!first || !g.members.every((m) => m.expectedTime === first)) return undefined;
  const d = new Date(first);
  if (!Number.isFinite(d.getTime())) return undefined;
  const hm = d.toISOString().slice(11, 16);
  return d.getUTCSeconds() === 0 ? `${hm} UTC` : `${d.toISOString().slice(11, 19)} UTC`;
}

/** "412 Reservations missed their 02:00 UTC run", "200 Reservations recovered (were Missed)". */
export function groupHeadline(g: AlertGroup): string {
  const n = g.members.length;
  const subject = `${n} Reservation${n === 1 ? '' : 's'}`;
  if (g.kind === 'recovery') return `${subject} recovered (were ${g.reason})`;
  const run = g.reason === 'Missed' ? commonRun(g) : undefined;
  const what = run ? `missed their ${run} run` : (VERB[g.reason] ?? g.reason);
  return g.kind === 'renotify' ? `${subject} still failing: ${what}` : `${subject} ${what}`;
}

/** Namespaces with their counts, most first: `team-a (300), team-b (112)`. */
export function groupNamespaces(g: AlertGroup): [string, number][] {
  const counts = new Map<string, number>();
  for (const m of g.members) counts.set(m.namespace, (counts.get(m.namespace) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

/** The first names and how many are not shown. */
export function groupNames(g: AlertGroup, shown = NAMES_SHOWN): { names: string[]; more: number } {
  const names = g.members.slice(0, shown).map((m) => `${m.namespace}/${m.name}`);
  return { names, more: Math.max(0, g.members.length - names.length) };
}

const EMOJI = { alert: ':red_circle:', renotify: ':repeat:', recovery: ':large_green_circle:' } as const;

export function renderSlackGroup(g: AlertGroup, ctx: RenderContext = {}): SlackMessage {
  const title = groupHeadline(g);
  const ns = groupNamespaces(g).map(([n, c]) => `\`${escapeMrkdwn(n)}\` (${c})`);
  const { names, more } = groupNames(g);
  const list = names.map((n) => `• \`${escapeMrkdwn(n)}\``).join('\n') + (more > 0 ? `\n…and ${more} more` : '');
  const footer = `GoTel${ctx.clusterName ? ` · cluster ${ctx.clusterName}` : ''} · group ${g.id} · each Reservation's status names this group`;
  const blocks: SlackBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: clip(title, 150), emoji: true } },
    { type: 'section', text: { type: 'mrkdwn', text: clip(`${EMOJI[g.kind]} *Namespaces*: ${ns.join(', ')}`, 3000) } },
    { type: 'section', text: { type: 'mrkdwn', text: clip(list, 3000) } },
    { type: 'context', elements: [{ type: 'mrkdwn', text: clip(escapeMrkdwn(footer), 3000) }] },
  ];
  const text = clip(`[GoTel] ${title}: ${names.join(', ')}${more > 0 ? ` and ${more} more` : ''}`, 3000);
  return { text, blocks };
}

/** A generic webhook's one event per group: every member named (a group holds at most MAX_GROUP_MEMBERS). */
export interface WebhookGroupPayload {
  version: 'gotel.io/v1alpha1';
  type: 'group';
  kind: OutboxEntry['kind'];
  /** `group/<id>`: also the Idempotency-Key. */
  id: string;
  reason: string;
  firing: boolean;
  summary: string;
  count: number;
  namespaces: Record<string, number>;
  members: { namespace: string; name: string; dueTime: string; expectedTime?: string }[];
  createdTime: string;
  cluster?: string;
}

export function renderWebhookGroup(g: AlertGroup, ctx: RenderContext = {}): WebhookGroupPayload {
  return {
    version: 'gotel.io/v1alpha1',
    type: 'group',
    kind: g.kind,
    id: `group/${g.id}`,
    reason: g.reason,
    firing: g.kind !== 'recovery',
    summary: groupHeadline(g),
    count: g.members.length,
    namespaces: Object.fromEntries(groupNamespaces(g)),
    members: g.members.map((m) => ({ namespace: m.namespace, name: m.name, dueTime: m.dueTime, ...(m.expectedTime ? { expectedTime: m.expectedTime } : {}) })),
    createdTime: g.createdTime,
    ...(ctx.clusterName ? { cluster: ctx.clusterName } : {}),
  };
}

/**
 * PagerDuty: one event per group. Grouped alerts of one cause share one incident
 * (`gotel/<cluster>/group/<reason>`), which a grouped recovery from that cause resolves.
 */
export function renderPagerDutyGroup(g: AlertGroup, ctx: RenderContext, routingKey: string): PagerDutyEvent {
  const dedup_key = clip(`gotel/${ctx.clusterName || 'default'}/group/${g.reason}`, 255);
  if (g.kind === 'recovery') return { routing_key: routingKey, event_action: 'resolve', dedup_key, client: 'GoTel' };
  const { names, more } = groupNames(g);
  return {
    routing_key: routingKey,
    event_action: 'trigger',
    dedup_key,
    payload: {
      summary: clip(`[GoTel] ${groupHeadline(g)}`, 1024),
      source: ctx.clusterName || 'gotel',
      severity: pagerDutySeverity(g.reason),
      component: 'group',
      group: groupNamespaces(g).map(([n]) => n).join(',').slice(0, 255),
      class: g.reason,
      custom_details: {
        Reservations: String(g.members.length),
        Namespaces: groupNamespaces(g).map(([n, c]) => `${n} (${c})`).join(', '),
        Names: names.join(', ') + (more > 0 ? ` and ${more} more` : ''),
        Group: g.id,
      },
    },
    client: 'GoTel',
  };
}

export function renderEmailGroup(g: AlertGroup, ctx: RenderContext = {}): EmailMessage {
  const title = groupHeadline(g);
  const { names, more } = groupNames(g, 200);
  const ns = groupNamespaces(g).map(([n, c]) => `${n} (${c})`).join(', ');
  const tail = more > 0 ? `and ${more} more` : '';
  const text = [title, '', `Namespaces: ${ns}`, '', ...names, ...(tail ? [tail] : []), '', `Group ${g.id}${ctx.clusterName ? `, cluster ${ctx.clusterName}` : ''}`].join('\n');
  const html = `<h2>${escapeHtml(title)}</h2><p>Namespaces: ${escapeHtml(ns)}</p><ul>${names.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>${tail ? `<p>${tail}</p>` : ''}<p>Group ${escapeHtml(g.id)}</p>`;
  return { subject: `[GoTel] ${title}`, text, html, headers: { 'X-GoTel-Group': g.id, 'X-GoTel-Kind': g.kind, 'X-GoTel-Reason': g.reason } };
}
