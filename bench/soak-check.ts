// The soak's verdict (bench/soak.ts), pure: what every simulated job did (the plan and what each
// check-in was answered), what the Slack receiver accepted, what the Reservations' outboxes and
// the stored alert groups said each message stood for, and the outages GoTel recorded. From the
// plan it derives each bad run's alert (its reason and when it fell due) and checks:
// - false alerts: an alert that stands for no bad run (one for a run whose check-in was
//   acknowledged late, after GoTel's own outage and its catch-up, is allowed and shown apart);
// - silent misses: a bad run with no alert, or a skipped run due in an outage that neither an
//   alert nor the outage notice names;
// - duplicates: one run's alert (or recovery) delivered more than once;
// - lost check-ins: acknowledged 2xx and not in status (its run key), or counted twice;
// - outage notices: exactly one per apiserver outage, none per job.
import type { OutboxEntry, OutageRun } from '../src/api/reservation.ts';
import { runKey, seen } from '../src/core/dedup.ts';
import { outageFor, type OutageRecord, type OutageWindow } from '../src/core/outage.ts';
import type { PlannedRun, SoakReservation } from './soak-plan.ts';
import { OVERRUN_EXTRA_MS, PAIR_RUN_MS } from './soak-plan.ts';

export interface Attempt {
  sentAt: number;
  answeredAt: number;
  status: number;
  replica: string;
}

/** One check-in a job sent (with its retries). */
export interface SentCheckin {
  reservation: string;
  rid: string;
  signal: 'success' | 'start' | 'fail';
  run: PlannedRun;
  attempts: Attempt[];
  /** The attempt answered 2xx, if any. */
  acked?: Attempt;
}

export interface DeliveredMessage {
  time: number;
  body: unknown;
}

/** What one delivered message stood for: a Reservation's outbox entry, by kind, reason and due time. */
export interface Notification {
  reservation: string;
  kind: OutboxEntry['kind'];
  reason: string;
  dueTime: number;
  entryId: string;
}

export interface GroupMemberSeen {
  reservation: string;
  kind: OutboxEntry['kind'];
  reason: string;
  dueTime: string;
  entryId: string;
}

export interface SoakObservations {
  reservations: SoakReservation[];
  runs: PlannedRun[];
  checkins: SentCheckin[];
  messages: DeliveredMessage[];
  /** `<reservation>|<entry id>` -> the entry as last seen in status. */
  entries: Map<string, OutboxEntry>;
  /** Group id -> what its members stood for, from the stored groups and the outboxes. */
  groups: Map<string, GroupMemberSeen[]>;
  final: Map<string, { checkins: number; runKeys?: Record<string, string>; outageRuns?: OutageRun[] }>;
  outages: OutageRecord[];
  /** When the bench had the apiserver stopped: from the stop to its return. */
  apiserverDown: { from: number; to: number }[];
  catchUpMs: number;
  /** Runs from here on are not judged (the jobs stopped). */
  endMs: number;
  now: number;
}

export interface SoakReport {
  runs: Record<string, number>;
  checkins: { sent: number; acked: number; answers: Record<string, number>; lost: number; countedTwice: number; ackedWhileApiserverDown: number };
  alerts: { expected: number; delivered: number; matched: number; falseAlerts: string[]; allowedLate: string[]; silentMisses: string[]; unseen: string[]; duplicates: string[]; recoveries: number; unrecovered: string[]; unresolvedMessages: number };
  outageRuns: { skipsDue: number; inNotice: number; alerted: number; answeredByLaterCheckin: string[] };
  outages: { induced: number; records: { id: string; causes: string[]; start: string; end: string; notices: number; reservations: number }[]; noticesPerInduced: number[]; problems: string[] };
  failures: string[];
}

const iso = (t: number): string => new Date(t).toISOString();
const SLACK = (m: unknown): { text: string; footer: string } => {
  const body = (m ?? {}) as { text?: string; blocks?: { type?: string; elements?: { text?: string }[] }[] };
  const footer = body.blocks?.find((b) => b.type === 'context')?.elements?.[0]?.text ?? '';
  return { text: body.text ?? '', footer };
};

/** The notifications each delivered message stood for; outage notices apart. */
export function resolveMessages(o: SoakObservations): { notifications: (Notification & { time: number })[]; notices: { time: number; text: string }[]; unresolved: number } {
  const notifications: (Notification & { time: number })[] = [];
  const notices: { time: number; text: string }[] = [];
  let unresolved = 0;
  const entry = (reservation: string, entryId: string, time: number): boolean => {
    const e = o.entries.get(`${reservation}|${entryId}`);
    if (!e) return false;
    notifications.push({ reservation, kind: e.kind, reason: e.reason, dueTime: Date.parse(e.dueTime), entryId, time });
    return true;
  };
  // A lone alert announced before its status write (README "Alert grouping") is sent under the
  // entry id of the judgement that announced it, through a stored group of one; the status write
  // that follows names the same run under an id of its own. The group record says which run.
  const announced = (reservation: string, entryId: string, time: number): boolean => {
    for (const members of o.groups.values()) {
      const x = members.find((g) => g.reservation === reservation && g.entryId === entryId);
      if (!x) continue;
      notifications.push({ reservation, kind: x.kind, reason: x.reason, dueTime: Date.parse(x.dueTime), entryId, time });
      return true;
    }
    return false;
  };
  // Its group of one already deleted: the status entry of that Reservation, kind and reason
  // (a recovery's headline says "Recovered") due last before the message, not claimed by another.
  const claimed = new Set<string>();
  const sameRun = (reservation: string, kind: string, headline: string, time: number): boolean => {
    let best: [string, OutboxEntry] | undefined;
    for (const [k, e] of o.entries) {
      if (!k.startsWith(`${reservation}|`) || claimed.has(k) || e.kind !== kind || !(e.deliveredTo?.length)) continue;
      if (kind !== 'recovery' && e.reason !== headline) continue;
      if (Date.parse(e.dueTime) > time || (best && Date.parse(best[1].dueTime) >= Date.parse(e.dueTime))) continue;
      best = [k, e];
    }
    if (!best) return false;
    claimed.add(best[0]);
    notifications.push({ reservation, kind: best[1].kind, reason: best[1].reason, dueTime: Date.parse(best[1].dueTime), entryId: best[1].id, time });
    return true;
  };
  for (const m of o.messages) {
    const { text, footer } = SLACK(m.body);
    if (text.startsWith('GoTel could not accept check-ins')) {
      notices.push({ time: m.time, text });
      continue;
    }
    const group = / group (\S+) · /.exec(footer);
    if (group) {
      // One member per run: the stored group and the outbox may name it by different entry ids.
      const members = new Map((o.groups.get(group[1]!) ?? []).map((x) => [`${x.reservation}|${x.kind}|${x.reason}|${Date.parse(x.dueTime)}`, x]));
      if (members.size === 0) unresolved++;
      for (const x of members.values()) notifications.push({ reservation: x.reservation, kind: x.kind, reason: x.reason, dueTime: Date.parse(x.dueTime), entryId: x.entryId, time: m.time });
      continue;
    }
    const single = /(alert|renotify|recovery) (\S+)$/.exec(footer);
    const who = /^\[GoTel\] ([^:]+): soak\/([a-z0-9-]+)/.exec(text);
    if (!single || !who) {
      unresolved++;
      continue;
    }
    const [reservation, id] = [who[2]!, single[2]!];
    if (entry(reservation, id, m.time) || announced(reservation, id, m.time)) continue;
    if (!sameRun(reservation, single[1]!, who[1]!, m.time)) unresolved++;
  }
  return { notifications, notices, unresolved };
}

interface Expectation {
  run: PlannedRun;
  reasons: string[];
  /** The alert's due time falls in here. */
  lo: number;
  hi: number;
  /** A skip whose deadline fell in a recorded outage (or its catch-up): 'edge' when within a second or two of its bounds. */
  outage?: { id: string; edge: boolean };
  /** Why GoTel may rightly not alert it (it could not see the run as bad); an alert for it is no false one either. */
  optional?: string;
}

const SLACK_MS = 1_500;

/** The bad runs' expected alerts, from the plan and what each check-in was answered. */
export function expectations(o: SoakObservations, windows: OutageWindow[]): Expectation[] {
  const byName = new Map(o.reservations.map((r) => [r.name, r]));
  const sentOf = new Map<string, SentCheckin[]>();
  for (const c of o.checkins) sentOf.set(c.run.rid, [...(sentOf.get(c.run.rid) ?? []), c]);
  const out: Expectation[] = [];
  const runsOf = new Map<string, PlannedRun[]>();
  for (const run of o.runs) runsOf.set(run.reservation, [...(runsOf.get(run.reservation) ?? []), run]);
  for (const [name, runs] of runsOf) {
    const r = byName.get(name)!;
    runs.sort((a, b) => a.index - b.index);
    runs.forEach((run, i) => {
      if (run.action === 'ok' || run.at > o.endMs) return;
      const mine = sentOf.get(run.rid) ?? [];
      const window = (c: SentCheckin | undefined, plus: number): [number, number] | undefined => {
        if (!c) return undefined;
        const a = c.acked;
        return a ? [a.sentAt + plus - SLACK_MS, a.answeredAt + plus + SLACK_MS] : [c.attempts[0]!.sentAt + plus - SLACK_MS, (c.attempts.at(-1)?.answeredAt ?? o.now) + plus + SLACK_MS];
      };
      if (run.action === 'fail') {
        const w = window(mine.find((c) => c.signal === 'fail'), 0);
        if (w) out.push({ run, reasons: ['Failed'], lo: w[0], hi: w[1] });
        return;
      }
      if (run.action === 'long') {
        const start = mine.find((c) => c.signal === 'start');
        const end = mine.find((c) => c.signal !== 'start');
        const w = window(start, r.maxRuntimeMs ?? 0);
        if (!w || !start) return;
        const e: Expectation = { run, reasons: ['Overrun'], lo: w[0], hi: w[1] };
        // The start acknowledged late (refused meanwhile): the end may follow it within maxRuntime.
        const endSeen = end?.acked?.sentAt ?? Infinity;
        if (endSeen < w[0]) e.optional = `its start was acknowledged only at ${iso(start.acked?.answeredAt ?? NaN)}, its end soon after`;
        // Past maxRuntime in an outage, and its end acknowledged by the catch-up's end: GoTel gives it the benefit of the doubt.
        const o2 = outageFor(windows, w[0], o.catchUpMs, start.acked?.sentAt ?? -Infinity) ?? outageFor(windows, w[1], o.catchUpMs, start.acked?.sentAt ?? -Infinity);
        if (o2 && o2.end !== null && (end?.acked?.answeredAt ?? Infinity) <= o2.end + o.catchUpMs + SLACK_MS) e.optional = `past maxRuntime in outage ${o2.id}, its end acknowledged in the catch-up`;
        out.push(e);
        return;
      }
      // A skip: Missed at its deadline (Late when a new leader judged it only at the next check-in).
      let optional: string | undefined;
      let lo: number;
      let hi: number;
      let opensAt: number;
      if (r.kind === 'cron') {
        const slot = run.at - r.offsetMs;
        lo = hi = slot + r.graceMs;
        opensAt = slot - 60_000;
        // The run before's check-in, refused in an outage and acknowledged after its deadline,
        // inside this run's window (up to a minute early, after the run before's grace): it counts for this one.
        const late = (sentOf.get(runs[i - 1]?.rid ?? '') ?? []).map((c) => c.acked).find((a) => a && a.sentAt > slot - r.periodMs + r.graceMs && a.sentAt <= slot + r.graceMs);
        if (late) optional = `the run before's check-in, acknowledged late at ${iso(late.answeredAt)}, fell in this run's window`;
      } else {
        // `every`: the period runs from the last check-in of the run before (its end, for a pair).
        const prev = runs[i - 1];
        const last = (sentOf.get(prev?.rid ?? '') ?? []).filter((c) => c.signal !== 'start').at(-1) ?? (sentOf.get(prev?.rid ?? '') ?? []).at(-1);
        const w = window(last, r.periodMs + r.graceMs);
        if (!w) return;
        [lo, hi] = w;
        opensAt = lo - r.graceMs - r.periodMs;
      }
      // `every`: the next run's check-in before this deadline means GoTel saw no gap (the run
      // before was acknowledged late, after an outage): nothing to alert.
      if (r.kind !== 'cron') {
        const next = (sentOf.get(runs[i + 1]?.rid ?? '') ?? []).map((c) => c.acked).filter((a): a is Attempt => !!a).sort((a, b) => a.sentAt - b.sentAt)[0];
        if (next && next.sentAt <= hi + SLACK_MS) optional = `the next run checked in at ${iso(next.answeredAt)}, before this one's deadline (its period began late, at ${iso(lo - r.periodMs - r.graceMs)})`;
      }
      const mid = (lo + hi) / 2;
      const hit = outageFor(windows, mid, o.catchUpMs, opensAt);
      const near = [outageFor(windows, lo - SLACK_MS, o.catchUpMs, opensAt), outageFor(windows, hi + SLACK_MS, o.catchUpMs, opensAt)];
      const edge = near.some((x) => x?.id !== hit?.id);
      const touched = hit ?? near.find(Boolean);
      out.push({ run, reasons: ['Missed', 'Late'], lo: lo - SLACK_MS, hi: hi + SLACK_MS, ...(touched ? { outage: { id: touched.id, edge } } : {}), ...(optional ? { optional } : {}) });
    });
  }
  return out;
}

/** The whole verdict. Long because it is a list of independent checks over the same observations. */
export function checkSoak(o: SoakObservations): SoakReport {
  const failures: string[] = [];
  const windows: OutageWindow[] = o.outages.map((r) => ({ id: r.id, start: r.start, end: r.end }));
  const byName = new Map(o.reservations.map((r) => [r.name, r]));

  // ---- check-ins
  const answers: Record<string, number> = {};
  let ackedWhileDown = 0;
  let sent = 0;
  let acked = 0;
  for (const c of o.checkins) {
    sent++;
    for (const a of c.attempts) {
      answers[String(a.status)] = (answers[String(a.status)] ?? 0) + 1;
      if (a.status >= 200 && a.status < 300 && o.apiserverDown.some((d) => a.sentAt >= d.from && a.answeredAt <= d.to)) ackedWhileDown++;
    }
    if (c.acked) acked++;
  }
  let lost = 0;
  let countedTwice = 0;
  for (const r of o.reservations) {
    const final = o.final.get(r.name);
    const mine = o.checkins.filter((c) => c.reservation === r.name);
    for (const c of mine) {
      if (!c.acked) continue;
      const key = runKey(c.signal === 'start' ? 'start' : 'end', c.rid);
      if (!final || !seen(final.runKeys, key, o.now)) lost++;
    }
    // Each (run id, start|end) counts once, however often it was retried.
    const distinct = new Set(mine.map((c) => `${c.rid}|${c.signal === 'start' ? 's' : 'e'}`)).size;
    if (final && final.checkins > distinct) countedTwice += final.checkins - distinct;
  }
  if (lost > 0) failures.push(`${lost} acknowledged check-in(s) not in status`);
  if (countedTwice > 0) failures.push(`${countedTwice} check-in(s) counted twice`);
  if (ackedWhileDown > 0) failures.push(`${ackedWhileDown} check-in(s) answered 2xx while the apiserver was stopped`);

  // ---- messages
  const { notifications, notices, unresolved } = resolveMessages(o);
  if (unresolved > 0) failures.push(`${unresolved} delivered message(s) could not be matched to an outbox entry`);
  const deliveries = new Map<string, number>();
  for (const n of notifications) {
    const k = `${n.reservation}|${n.kind}|${n.reason}|${n.dueTime}`;
    deliveries.set(k, (deliveries.get(k) ?? 0) + 1);
  }
  const duplicates = [...deliveries].filter(([, n]) => n > 1).map(([k, n]) => `${k.replace(/\|(\d+)$/, (_m, t: string) => `|${iso(Number(t))}`)} delivered ${n}×`);
  if (duplicates.length > 0) failures.push(`${duplicates.length} notification(s) delivered more than once`);
  const alerts = [...new Map(notifications.filter((n) => n.kind !== 'recovery').map((n) => [`${n.reservation}|${n.kind}|${n.reason}|${n.dueTime}`, n])).values()];
  const recoveries = [...new Map(notifications.filter((n) => n.kind === 'recovery').map((n) => [`${n.reservation}|${n.dueTime}`, n])).values()];

  // ---- alerts against the plan
  const expected = expectations(o, windows);
  const matchedRuns = new Set<string>();
  const falseAlerts: string[] = [];
  const allowedLate: string[] = [];
  let matched = 0;
  for (const a of alerts.sort((x, y) => x.dueTime - y.dueTime)) {
    const e = expected.find((x) => x.run.reservation === a.reservation && !matchedRuns.has(x.run.rid) && x.reasons.includes(a.reason) && a.dueTime >= x.lo && a.dueTime <= x.hi);
    if (e && a.kind === 'alert') {
      matchedRuns.add(e.run.rid);
      matched++;
      continue;
    }
    const late = lateAck(o, a, byName.get(a.reservation), windows);
    const what = `${a.reservation} ${a.kind} ${a.reason} due ${iso(a.dueTime)}`;
    if (late) allowedLate.push(`${what} (${late})`);
    else falseAlerts.push(what);
  }
  if (falseAlerts.length > 0) failures.push(`${falseAlerts.length} false alert(s)`);

  const silentMisses: string[] = [];
  const answeredLater: string[] = [];
  const unseen: string[] = [];
  let skipsDue = 0;
  let inNotice = 0;
  let alertedInOutage = 0;
  for (const e of expected) {
    const what = `${e.run.reservation} run ${e.run.index} (${e.run.action} at ${iso(e.run.at)})`;
    if (matchedRuns.has(e.run.rid)) {
      if (e.outage) alertedInOutage++;
      continue;
    }
    if (e.optional) {
      unseen.push(`${what}: ${e.optional}`);
      continue;
    }
    if (!e.outage) {
      silentMisses.push(what);
      continue;
    }
    skipsDue++;
    // Due in an outage: no alert of its own; the notice must list it, unless a check-in in the
    // catch-up answered it (status.outageRuns says CheckedIn).
    const listed = notices.some((n) => n.text.includes(`soak/${e.run.reservation} (run expected at `) && noticeListsNear(n.text, e));
    if (listed) {
      inNotice++;
      continue;
    }
    const runs = o.final.get(e.run.reservation)?.outageRuns ?? [];
    const checked = runs.find((x) => x.outage === e.outage!.id && x.outcome === 'CheckedIn' && Math.abs(Date.parse(x.deadline) - (e.lo + e.hi) / 2) < 10_000);
    if (checked) answeredLater.push(`${what}: status.outageRuns says CheckedIn (${checked.expectedTime})`);
    else silentMisses.push(`${what}, due in outage ${e.outage.id}${e.outage.edge ? ' (at its edge)' : ''}, in no notice`);
  }
  if (silentMisses.length > 0) failures.push(`${silentMisses.length} silent miss(es)`);

  // Each alert resolved by exactly one recovery (the run after a bad one checks in on time).
  const unrecovered: string[] = [];
  for (const r of o.reservations) {
    const a = alerts.filter((x) => x.reservation === r.name && x.kind === 'alert').length;
    const rec = recoveries.filter((x) => x.reservation === r.name).length;
    if (a !== rec) unrecovered.push(`${r.name}: ${a} alert(s), ${rec} recover(y/ies)`);
  }
  if (unrecovered.length > 0) failures.push(`${unrecovered.length} Reservation(s) whose alerts and recoveries do not pair up`);

  // ---- outages and their notices
  const problems: string[] = [];
  const noticesOf = (id: string): number => notices.filter((n) => n.text.includes(`outage ${id})`)).length;
  const records = o.outages.map((r) => ({ id: r.id, causes: r.causes, start: iso(r.start), end: iso(r.end), notices: noticesOf(r.id), reservations: r.notice?.reservations ?? -1 }));
  const noticesPerInduced = o.apiserverDown.map((d) => {
    const hits = o.outages.filter((r) => r.start <= d.to + 5_000 && r.end >= d.from - 5_000);
    if (hits.length !== 1) problems.push(`the apiserver stopped ${iso(d.from)}–${iso(d.to)} is ${hits.length} outage record(s)`);
    const r = hits[0];
    if (r && (r.start > d.from + 3_000 || r.end < d.to - 1_000)) problems.push(`outage ${r.id} (${iso(r.start)}–${iso(r.end)}) does not cover the stop ${iso(d.from)}–${iso(d.to)}`);
    return hits.reduce((n, h) => n + noticesOf(h.id), 0);
  });
  noticesPerInduced.forEach((n, i) => n !== 1 && problems.push(`apiserver outage ${i + 1}: ${n} notices delivered`));
  for (const r of records) if (r.notices > 1) problems.push(`outage ${r.id}: ${r.notices} notices`);
  const stray = notices.filter((n) => !o.outages.some((r) => n.text.includes(`outage ${r.id})`)));
  if (stray.length > 0) problems.push(`${stray.length} notice(s) for no recorded outage`);
  if (problems.length > 0) failures.push(...problems);

  const runCounts: Record<string, number> = {};
  for (const run of o.runs) if (run.at <= o.endMs) runCounts[run.action] = (runCounts[run.action] ?? 0) + 1;
  return {
    runs: runCounts,
    checkins: { sent, acked, answers, lost, countedTwice, ackedWhileApiserverDown: ackedWhileDown },
    alerts: { expected: expected.filter((e) => (!e.outage && !e.optional) || matchedRuns.has(e.run.rid)).length, delivered: notifications.filter((n) => n.kind !== 'recovery').length, matched, falseAlerts, allowedLate, silentMisses, unseen, duplicates, recoveries: recoveries.length, unrecovered, unresolvedMessages: unresolved },
    outageRuns: { skipsDue, inNotice, alerted: alertedInOutage, answeredByLaterCheckin: answeredLater },
    outages: { induced: o.apiserverDown.length, records, noticesPerInduced, problems },
    failures,
  };
}

/** Whether the notice lists this Reservation with an expected time near the skipped run's. */
function noticeListsNear(text: string, e: Expectation): boolean {
  const re = new RegExp(`soak/${e.run.reservation} \\(run expected at ([0-9TZ:.\\-]+)\\)`, 'g');
  for (const m of text.matchAll(re)) {
    const t = Date.parse(m[1]!);
    if (Number.isFinite(t) && t >= e.lo - 120_000 && t <= e.hi) return true;
  }
  return false;
}

/**
 * Why an alert that stands for no bad run may still be right, by the outage policy: its deadline
 * fell in a recorded outage or its catch-up, and the job's check-in for it, first sent before the
 * deadline, was acknowledged only after the catch-up ended (the client retried for longer than
 * GoTel waits). A check-in refused while no outage was recorded excuses nothing: that is GoTel
 * blaming a job for its own refusal. Returns the explanation, or undefined.
 */
function lateAck(o: SoakObservations, a: Notification, r: SoakReservation | undefined, windows: OutageWindow[]): string | undefined {
  if (!r || a.kind !== 'alert' || (a.reason !== 'Missed' && a.reason !== 'Late')) return undefined;
  const w = windows.find((x) => x.end !== null && a.dueTime >= x.start && a.dueTime <= x.end + o.catchUpMs);
  if (!w || w.end === null) return undefined;
  for (const c of o.checkins) {
    if (c.reservation !== r.name || c.signal === 'fail') continue;
    const first = c.attempts[0]?.sentAt ?? Infinity;
    const ack = c.acked?.answeredAt ?? Infinity;
    if (first <= a.dueTime && first > a.dueTime - r.periodMs - r.graceMs - PAIR_RUN_MS - OVERRUN_EXTRA_MS && ack > w.end + o.catchUpMs) {
      return `its check-in ${c.rid} was first sent ${iso(first)} and acknowledged ${Number.isFinite(ack) ? iso(ack) : 'never'}, after outage ${w.id}'s catch-up`;
    }
  }
  return undefined;
}
