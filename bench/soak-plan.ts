// What the soak (bench/soak.ts) does, decided before it starts: the Reservations, every run each
// simulated job makes and what it does in it (checks in on time, skips, fails, runs too long), and
// the faults on a timetable. Pure and seeded, so a run can be repeated; the check (soak-check.ts)
// derives the expected alerts from it.
import type { ReservationSpec } from '../src/api/reservation.ts';

export type Action = 'ok' | 'skip' | 'fail' | 'long';

export interface SoakReservation {
  name: string;
  /** `every`: one success check-in per run; `pair`: a start, then its end (maxRuntime set); `cron`: every minute. */
  kind: 'every' | 'pair' | 'cron';
  spec: ReservationSpec;
  periodMs: number;
  graceMs: number;
  maxRuntimeMs?: number;
  /** Where in its period the job runs, so the runs of different Reservations are spread. */
  offsetMs: number;
}

export interface PlannedRun {
  reservation: string;
  index: number;
  /** When the job starts this run (epoch ms). */
  at: number;
  action: Action;
  /** The run id its check-ins carry. */
  rid: string;
}

export type FaultKind = 'kill-leader' | 'apiserver' | 'receiver-5xx' | 'receiver-429' | 'receiver-drop';

export interface Fault {
  kind: FaultKind;
  /** Start, from the plan's start (ms). */
  atMs: number;
  /** How long it lasts (ms); for kill-leader, how long until the killed replica starts again. */
  forMs: number;
}

/** A killed run lasts this much past maxRuntime before its end check-in. */
export const OVERRUN_EXTRA_MS = 6_000;
/** A pair's ordinary run: start, then the end this long after. */
export const PAIR_RUN_MS = 2_000;

/** 24 Reservations: `every` 30/45/60 s, start/end pairs every 40 s with maxRuntime, cron every minute. */
export function soakReservations(): SoakReservation[] {
  const out: SoakReservation[] = [];
  const every = (n: number, period: number, grace: number): void => {
    for (let i = 0; i < n; i++) {
      out.push({ name: `every-${period}s-${i}`, kind: 'every', spec: { every: `${period}s`, grace: `${grace}s`, anonymous: true }, periodMs: period * 1000, graceMs: grace * 1000, offsetMs: ((i * 3_100) % ((period * 1000) / 2)) + 1_000 });
    }
  };
  every(6, 30, 10);
  every(4, 45, 12);
  every(4, 60, 15);
  for (let i = 0; i < 6; i++) {
    out.push({ name: `pair-40s-${i}`, kind: 'pair', spec: { every: '40s', grace: '10s', maxRuntime: '8s', anonymous: true }, periodMs: 40_000, graceMs: 10_000, maxRuntimeMs: 8_000, offsetMs: 1_000 + i * 2_900 });
  }
  for (let i = 0; i < 4; i++) {
    out.push({ name: `cron-1m-${i}`, kind: 'cron', spec: { schedule: '* * * * *', grace: '20s', anonymous: true }, periodMs: 60_000, graceMs: 20_000, offsetMs: 1_000 + i * 1_500 });
  }
  return out;
}

/** mulberry32: a small seeded generator, so a plan can be repeated. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The share of runs that go wrong (never two in a row, never in the last two periods). */
const BAD_SHARE = 0.22;

/**
 * Every run of `r`, created at `createdMs`, until `untilMs`; runs from `badUntilMs` on are all
 * on time (the drain at the end judges only good runs). A bad run is followed by two good ones,
 * so each bad run starts a failing streak of its own: one alert, then one recovery.
 */
export function planRuns(r: SoakReservation, createdMs: number, badUntilMs: number, untilMs: number, rand: () => number): PlannedRun[] {
  const runs: PlannedRun[] = [];
  const bad: Action[] = r.kind === 'pair' ? ['skip', 'fail', 'long'] : ['skip', 'fail'];
  let t = firstRun(r, createdMs);
  for (let index = 0; t < untilMs; index++, t += r.periodMs) {
    const recent = runs.slice(-2);
    const mayGoWrong = index > 0 && t + 2 * r.periodMs < badUntilMs && recent.every((x) => x.action === 'ok');
    const action: Action = mayGoWrong && rand() < BAD_SHARE ? bad[Math.floor(rand() * bad.length)]! : 'ok';
    runs.push({ reservation: r.name, index, at: t, action, rid: `${r.name}-${index}` });
  }
  return runs;
}

/** The first run: a few seconds after creation (`every`: the first period is counted from it), or the first minute after it (cron). */
function firstRun(r: SoakReservation, createdMs: number): number {
  if (r.kind !== 'cron') return createdMs + r.offsetMs;
  // The schedule's `since` is the creation time cut to the second; its first run the next whole minute.
  return Math.floor(Math.floor(createdMs / 1000) * 1000 / 60_000) * 60_000 + 60_000 + r.offsetMs;
}

/**
 * The faults, as shares of the duration: the leader SIGKILLed twice, the apiserver stopped (twice
 * from 8 minutes on, else once; ~60 s each), and the receiver failing with 5xx, 429 and dropped
 * connections in turn. The last outage ends early enough for its catch-up and notice to finish.
 */
export function soakFaults(durationMs: number): Fault[] {
  const outageMs = Math.min(60_000, Math.round(durationMs / 4));
  const at = (share: number): number => Math.round(durationMs * share);
  const faults: Fault[] = [
    { kind: 'kill-leader', atMs: at(0.12), forMs: 10_000 },
    { kind: 'receiver-5xx', atMs: at(0.2), forMs: Math.min(30_000, at(0.08)) },
    { kind: 'apiserver', atMs: at(0.3), forMs: outageMs },
    { kind: 'receiver-429', atMs: at(0.5), forMs: Math.min(30_000, at(0.08)) },
    { kind: 'kill-leader', atMs: at(0.58), forMs: 10_000 },
    { kind: 'receiver-drop', atMs: at(0.88), forMs: Math.min(25_000, at(0.06)) },
  ];
  if (durationMs >= 8 * 60_000) faults.push({ kind: 'apiserver', atMs: at(0.66), forMs: outageMs });
  return faults.sort((a, b) => a.atMs - b.atMs);
}
