// Run keys: which (runId, start|end) pairs a Reservation has seen in the last day, so a client
// retrying a check-in counts once however many check-ins came between (`status.recent` keeps only
// the last 20). README, "Duplicates", documents the bounds.
//
// Compact on purpose: every status write carries the object, and a merge patch carries each
// changed field whole (docs/architecture.md, "Measured limits"). A key is 48 bits of a hash of
// the pair, 8 base64url characters, packed into one string per UTC hour:
// `status.runKeys = { "2026-12-02T01": "AbCdEfGh...", ... }`. A write then sends the current
// hour's string only; hours older than the window are dropped whole; past RUN_KEYS_MAX keys the
// oldest go first. A 48-bit key makes a false duplicate about 1 in 3·10^11 per check-in at the cap.
import { LIMITS, type Checkin, type ReservationStatus } from '../api/reservation.ts';

/** Keys kept per Reservation at most. */
export const RUN_KEYS_MAX = LIMITS.runKeys;
/** How long a key is kept: a day, counted in whole UTC hours (so 24 to 25 hours). */
export const RUN_KEYS_WINDOW_HOURS = LIMITS.runKeysWindowHours;
/** Characters per key (48 bits). */
export const RUN_KEY_CHARS = LIMITS.runKeyChars;

const HOUR_MS = 3_600_000;
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

export type RunKeys = Record<string, string>;

/** cyrb53's two 32-bit lanes (a public-domain string hash): 48 of its bits as 8 base64url characters. */
export function runKey(kind: 'start' | 'end', runId: string): string {
  const text = `${kind === 'start' ? 's' : 'e'}:${runId}`;
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  // 24 bits from each lane, 6 bits per character.
  const bits = [h1 >>> 8, h2 >>> 8];
  let out = '';
  for (const b of bits) for (let shift = 18; shift >= 0; shift -= 6) out += B64[(b >>> shift) & 63];
  return out;
}

/** The hour a key made at `nowMs` is filed under: `YYYY-MM-DDTHH` (UTC). */
export function hourOf(nowMs: number): string {
  return new Date(Math.floor(nowMs / HOUR_MS) * HOUR_MS).toISOString().slice(0, 13);
}

/** Whether `hour` is still inside the window at `nowMs`. */
function live(hour: string, nowMs: number): boolean {
  const start = Date.parse(`${hour}:00:00Z`);
  return Number.isFinite(start) && start > nowMs - (RUN_KEYS_WINDOW_HOURS + 1) * HOUR_MS;
}

function holds(packed: string, key: string): boolean {
  for (let at = packed.indexOf(key); at >= 0; at = packed.indexOf(key, at + 1)) if (at % RUN_KEY_CHARS === 0) return true;
  return false;
}

/** Whether a live hour of `keys` holds `key`. */
export function seen(keys: RunKeys | undefined, key: string, nowMs: number): boolean {
  if (!keys) return false;
  for (const [hour, packed] of Object.entries(keys)) if (live(hour, nowMs) && holds(packed, key)) return true;
  return false;
}

/** `keys` with `key` added under the current hour, expired hours dropped and the oldest keys past RUN_KEYS_MAX. */
export function remember(keys: RunKeys | undefined, key: string, nowMs: number): RunKeys {
  const hours = Object.entries(keys ?? {})
    .filter(([hour]) => live(hour, nowMs))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const current = hourOf(nowMs);
  const last = hours[hours.length - 1];
  if (last && last[0] >= current) last[1] += key;
  else hours.push([current, key]);
  // Hours ahead of this clock (another replica's) stay live; the CRD allows window + 2 hours at most.
  while (hours.length > RUN_KEYS_WINDOW_HOURS + 2) hours.shift();
  let excess = hours.reduce((n, [, packed]) => n + packed.length / RUN_KEY_CHARS, 0) - RUN_KEYS_MAX;
  while (excess > 0 && hours.length > 0) {
    const first = hours[0]!;
    const drop = Math.min(excess, first[1].length / RUN_KEY_CHARS);
    first[1] = first[1].slice(drop * RUN_KEY_CHARS);
    excess -= drop;
    if (first[1] === '') hours.shift();
  }
  return Object.fromEntries(hours);
}

/** The key a check-in is known by, if it has one: starts and ends of runs with a run id. */
function keyOf(ck: Checkin): string | undefined {
  if (ck.runId === undefined || ck.signal === 'log') return undefined;
  return runKey(ck.signal === 'start' ? 'start' : 'end', ck.runId);
}

/** Whether this start or end of a run was seen within the window (a start after its run's end too). */
export function seenRun(st: ReservationStatus, ck: Checkin, nowMs: number): boolean {
  const key = keyOf(ck);
  if (key === undefined) return false;
  if (seen(st.runKeys, key, nowMs)) return true;
  return ck.signal === 'start' && seen(st.runKeys, runKey('end', ck.runId!), nowMs);
}

/** Files a new start or end of a run under the current hour (changes `st`). */
export function recordRun(st: ReservationStatus, ck: Checkin, nowMs: number): void {
  const key = keyOf(ck);
  if (key !== undefined) st.runKeys = remember(st.runKeys, key, nowMs);
}
