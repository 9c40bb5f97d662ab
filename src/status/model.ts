// What the status page and the badges show, computed from Reservations as the informer cache
// holds them: pure functions of (reservations, now), no I/O, so every replica renders the same.
import { STATES, type Checkin, type Reservation, type State } from '../api/reservation.ts';

/** States in which a Reservation needs a person's attention (gotel_reservation_up is 0). */
export const FAILING_STATES: ReadonlySet<State> = new Set<State>(['Missed', 'Failed', 'Late', 'Overrun', 'TooFast', 'Invalid']);

/** How bad each state is, worst first: the page's order within the failing group, and a namespace badge's colour. */
const SEVERITY: readonly State[] = ['Missed', 'Failed', 'Invalid', 'Overrun', 'Late', 'TooFast', 'Running', 'Pending', 'Healthy', 'Snoozed', 'Suspended'];

/** A Reservation without a verdict yet (no status written) is Pending. */
export function stateOf(r: Reservation): State {
  const s = r.status?.state;
  return s && (STATES as readonly string[]).includes(s) ? s : 'Pending';
}

export function isFailing(r: Reservation): boolean {
  return FAILING_STATES.has(stateOf(r));
}

export interface StatusRow {
  namespace: string;
  name: string;
  state: State;
  failing: boolean;
  /** Why it is in this state (the Healthy condition's message), when the judge said. */
  message?: string;
  lastCheckin?: Checkin;
  /** Seconds from the last check-in to now (never negative: replicas' clocks may differ a little). */
  secondsSinceCheckin?: number;
  /** The next instant the judge acts on: the open deadline, else the next expected run. */
  nextDeadline?: string;
  /** Seconds from now to nextDeadline; negative when it has passed. */
  secondsToDeadline?: number;
  /** The latest check-ins, newest first. */
  recent: Checkin[];
  alerting: boolean;
}

const ms = (t: string | undefined): number | undefined => {
  if (!t) return undefined;
  const v = Date.parse(t);
  return Number.isNaN(v) ? undefined : v;
};

export function nextDeadlineOf(r: Reservation): string | undefined {
  return r.status?.deadline ?? r.status?.nextExpectedTime;
}

export function rowOf(r: Reservation, now: Date, recentLimit = 10): StatusRow {
  const st = r.status ?? {};
  const state = stateOf(r);
  const last = st.lastCheckin;
  const lastMs = ms(last?.time);
  const deadline = nextDeadlineOf(r);
  const deadlineMs = ms(deadline);
  const healthy = st.conditions?.find((c) => c.type === 'Healthy');
  const recent = [...(st.recent ?? [])].sort((a, b) => (ms(b.time) ?? 0) - (ms(a.time) ?? 0)).slice(0, recentLimit);
  return {
    namespace: r.metadata.namespace ?? 'default',
    name: r.metadata.name,
    state,
    failing: FAILING_STATES.has(state),
    ...(healthy?.message ? { message: healthy.message } : {}),
    ...(last ? { lastCheckin: last } : {}),
    ...(lastMs !== undefined ? { secondsSinceCheckin: Math.max(0, Math.round((now.getTime() - lastMs) / 1000)) } : {}),
    ...(deadline ? { nextDeadline: deadline } : {}),
    ...(deadlineMs !== undefined ? { secondsToDeadline: Math.round((deadlineMs - now.getTime()) / 1000) } : {}),
    recent,
    alerting: st.alert?.firing === true,
  };
}

/** Failing first (worst state first), then by namespace and name. */
export function compareRows(a: StatusRow, b: StatusRow): number {
  if (a.failing !== b.failing) return a.failing ? -1 : 1;
  if (a.failing) {
    const d = SEVERITY.indexOf(a.state) - SEVERITY.indexOf(b.state);
    if (d !== 0) return d;
  }
  return a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name);
}

/** `state` is a State, or `failing` for every failing one; empty means any. */
export interface StatusFilter {
  namespace?: string;
  state?: string;
}

export function matches(row: StatusRow, f: StatusFilter): boolean {
  if (f.namespace && row.namespace !== f.namespace) return false;
  if (f.state === 'failing') return row.failing;
  if (f.state && row.state !== f.state) return false;
  return true;
}

/** Reads ?namespace= and ?state= (anything else in the query is ignored); throws on a state that does not exist. */
export function parseFilter(query: Record<string, unknown>): StatusFilter {
  const one = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : Array.isArray(v) && typeof v[0] === 'string' && v[0] !== '' ? v[0] : undefined);
  const namespace = one(query.namespace);
  const state = one(query.state);
  if (state !== undefined && state !== 'failing' && !(STATES as readonly string[]).includes(state)) {
    throw new RangeError(`state "${state}" is not one of failing, ${STATES.join(', ')}`);
  }
  return { ...(namespace ? { namespace } : {}), ...(state ? { state } : {}) };
}

/**
 * Rows a page shows at most: failing ones come first, so they are always among them. 10,000
 * Reservations render to 17 MB of HTML in 1.5 s, more than a phone should be sent.
 */
export const MAX_ROWS = 500;

export interface StatusModel {
  generatedAt: string;
  rows: StatusRow[];
  /** Rows that matched the filter, shown or not (rows is cut to MAX_ROWS). */
  matching: number;
  /** Every namespace the viewer may see (for the filter), sorted. */
  namespaces: string[];
  /** Count per state over every Reservation the viewer may see, before filtering. */
  counts: Partial<Record<State, number>>;
  total: number;
  filter: StatusFilter;
  /** Undefined when the peers.gotel.io resource is not installed. */
  peers?: PeerRow[];
}

export function buildModel(reservations: Reservation[], now: Date, filter: StatusFilter, peers?: PeerRow[], maxRows = MAX_ROWS): StatusModel {
  const all = reservations.map((r) => rowOf(r, now));
  const counts: Partial<Record<State, number>> = {};
  for (const row of all) counts[row.state] = (counts[row.state] ?? 0) + 1;
  const matching = all.filter((row) => matches(row, filter)).sort(compareRows);
  return {
    generatedAt: now.toISOString(),
    rows: matching.slice(0, maxRows),
    matching: matching.length,
    namespaces: [...new Set(all.map((row) => row.namespace))].sort(),
    counts,
    total: all.length,
    filter,
    ...(peers ? { peers } : {}),
  };
}

/** The worst state among these (for a namespace badge's colour); undefined for none. */
export function worstState(states: State[]): State | undefined {
  let worst: State | undefined;
  for (const s of states) if (worst === undefined || SEVERITY.indexOf(s) < SEVERITY.indexOf(worst)) worst = s;
  return worst;
}

/** A Peer (peers.gotel.io) as the page shows it; read defensively, since its status may be partial. */
export interface PeerRow {
  name: string;
  state: string;
  cluster?: string;
  lastSeenTime?: string;
  secondsSinceSeen?: number;
  message?: string;
}

interface PeerObject {
  metadata?: { name?: string };
  status?: { state?: unknown; lastSeenTime?: unknown; peerClusterName?: unknown; conditions?: { type?: unknown; message?: unknown }[] };
}

export function peerRowOf(p: unknown, now: Date): PeerRow | undefined {
  const o = p as PeerObject;
  const name = o?.metadata?.name;
  if (typeof name !== 'string') return undefined;
  const st = o.status ?? {};
  const seen = typeof st.lastSeenTime === 'string' ? st.lastSeenTime : undefined;
  const seenMs = ms(seen);
  const ready = Array.isArray(st.conditions) ? st.conditions.find((c) => typeof c?.message === 'string' && c.message !== '') : undefined;
  return {
    name,
    state: typeof st.state === 'string' && st.state ? st.state : 'Pending',
    ...(typeof st.peerClusterName === 'string' ? { cluster: st.peerClusterName } : {}),
    ...(seen ? { lastSeenTime: seen } : {}),
    ...(seenMs !== undefined ? { secondsSinceSeen: Math.max(0, Math.round((now.getTime() - seenMs) / 1000)) } : {}),
    ...(ready ? { message: ready.message as string } : {}),
  };
}

/** "45s", "12m", "3h 5m", "2d 4h": short enough for a phone's column. */
export function humanDuration(seconds: number): string {
  const s = Math.abs(Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) {
    const m = Math.floor((s % 3600) / 60);
    return `${Math.floor(s / 3600)}h${m ? ` ${m}m` : ''}`;
  }
  const h = Math.floor((s % 86_400) / 3600);
  return `${Math.floor(s / 86_400)}d${h ? ` ${h}h` : ''}`;
}
