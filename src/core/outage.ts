// GoTel's own outages as the judge sees them: intervals during which GoTel could not accept
// check-ins (the apiserver unreachable, check-ins answered 503, no leader renewing its Lease).
// A run whose deadline falls in one, or in the catch-up after it (clients retry what was refused),
// is not Missed: it waits for the catch-up, then it is CheckedIn or Unknown (README, "When GoTel
// itself is down"). Pure: the shell observes and records the intervals (src/operator/outage-*.ts).

/** One outage: `end` null while it lasts. Times in ms. */
export interface OutageWindow {
  id: string;
  start: number;
  end: number | null;
}

/** How soon a run waiting on an outage that still lasts is looked at again. */
export const OUTAGE_RETRY_MS = 5_000;

/**
 * The outage a run was caught in, if any: its deadline falls in the outage or its catch-up
 * (start to end + catch-up), and its check-in could have been sent during the outage (`opensAt`,
 * when the run's window opened, is not after the end). A run whose window opened after the
 * outage, e.g. of a Reservation created later, met no refusal and is judged as ever.
 */
export function outageFor(outages: readonly OutageWindow[] | undefined, deadline: number, catchUpMs: number, opensAt = -Infinity): OutageWindow | undefined {
  if (!outages) return undefined;
  for (const o of outages) {
    if (deadline >= o.start && (o.end === null || (deadline <= o.end + catchUpMs && opensAt <= o.end))) return o;
  }
  return undefined;
}

/** When the outage's catch-up is over (the run can be judged), or null while the outage lasts. */
export function catchUpEnd(o: OutageWindow, catchUpMs: number): number | null {
  return o.end === null ? null : o.end + catchUpMs;
}

/** An interval to record, and what showed it (`apiserver`, `no-leader`). */
export interface ObservedInterval {
  start: number;
  end: number;
  cause: string;
}

/** A recorded outage as stored durably (ConfigMap gotel-outages), times as ms. */
export interface OutageRecord {
  id: string;
  start: number;
  end: number;
  causes: string[];
  /** The notice: receivers (by key) that accepted it, those that refused for good, done when nothing is left. */
  notice?: { deliveredTo: string[]; failed?: { key: string; error: string }[]; done?: boolean; reservations?: number };
}

/** Intervals closer than this are one outage (the probe's own granularity). */
export const MERGE_GAP_MS = 5_000;
/** How many outages the record keeps (the oldest go first). */
export const MAX_RECORDS = 30;

/**
 * Adds an observed interval to the records: merged into every record it overlaps or nearly
 * touches (the earliest record's id is kept, so a notice already under way keeps its id), else a
 * new record. Idempotent: adding the same interval twice changes nothing.
 */
export function mergeOutage(records: readonly OutageRecord[], seen: ObservedInterval): OutageRecord[] {
  const near = (r: OutageRecord): boolean => seen.start <= r.end + MERGE_GAP_MS && seen.end >= r.start - MERGE_GAP_MS;
  const touching = records.filter(near).sort((a, b) => a.start - b.start);
  const rest = records.filter((r) => !near(r));
  const first = touching[0];
  const merged: OutageRecord = first
    ? {
        ...first,
        start: Math.min(seen.start, ...touching.map((r) => r.start)),
        end: Math.max(seen.end, ...touching.map((r) => r.end)),
        causes: [...new Set([...touching.flatMap((r) => r.causes), seen.cause])].sort(),
      }
    : { id: outageId(seen.start), start: seen.start, end: seen.end, causes: [seen.cause] };
  const all = [...rest, merged].sort((a, b) => a.start - b.start);
  return all.slice(Math.max(0, all.length - MAX_RECORDS));
}

/** A stable, readable id: the start in UTC without punctuation (`o-20261202t010203z`). */
export function outageId(start: number): string {
  return `o-${new Date(start).toISOString().replace(/\.\d{3}Z$/, 'z').replace(/[-:]/g, '').toLowerCase()}`;
}

/**
 * What the leader Lease proves when this process starts: if its holder stopped renewing more than
 * a lease duration before `now`, no GoTel replica led from its last renewal until now, and none
 * of this process was running to take check-ins. Returns that interval, or null.
 */
export function leaderGap(renewTime: number | undefined, leaseDurationMs: number, now: number): ObservedInterval | null {
  if (renewTime === undefined || !Number.isFinite(renewTime)) return null;
  if (now - renewTime <= leaseDurationMs) return null;
  return { start: renewTime, end: now, cause: 'no-leader' };
}

/** The windows the judge takes, from the durable records and this replica's own open outage. */
export function windowsOf(records: readonly OutageRecord[], open?: { start: number } | null): OutageWindow[] {
  const out: OutageWindow[] = records.map((r) => ({ id: r.id, start: r.start, end: r.end }));
  if (open) {
    const merged = out.find((w) => w.end !== null && open.start <= w.end + MERGE_GAP_MS);
    if (merged) merged.end = null;
    else out.push({ id: outageId(open.start), start: open.start, end: null });
  }
  return out;
}
