// Go / Kubernetes duration strings (`time.ParseDuration`): `90s`, `5m`, `1h30m`, `1.5h`,
// `500ms`, `2h45m30.5s`; units ns, us (µs), ms, s, m, h. Values are milliseconds (fractions
// allowed for ns/us). A day is not a unit in Go, so `1d` is refused with a hint.
import { ScheduleError } from './errors.ts';

const UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3,
  'μs': 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const TOKEN = /(\d+\.?\d*|\.\d+)([a-zµμ]*)/y;

/** Parses a Go duration; throws ScheduleError (field defaults to `duration`). */
export function parseDuration(text: string, field = 'duration'): number {
  if (typeof text !== 'string') {
    throw new ScheduleError(field, 'InvalidDuration', `expected a duration string such as "90s" or "1h30m", got ${typeof text}`);
  }
  const s = text.trim();
  const bad = (why: string): never => {
    throw new ScheduleError(field, 'InvalidDuration', `invalid duration "${text}": ${why}`);
  };
  if (s === '') bad('empty');
  let i = 0;
  let sign = 1;
  if (s[0] === '-' || s[0] === '+') {
    sign = s[0] === '-' ? -1 : 1;
    i = 1;
  }
  if (s.slice(i) === '0') return 0;
  if (i === s.length) bad('no number');
  let total = 0;
  while (i < s.length) {
    TOKEN.lastIndex = i;
    const m = TOKEN.exec(s);
    if (!m || m.index !== i) bad(`unexpected "${s.slice(i)}"`);
    const [all, num, unit] = m as unknown as [string, string, string];
    if (unit === '') bad(`missing unit after "${num}" (use ns, us, ms, s, m or h)`);
    const factor = UNITS[unit];
    if (factor === undefined) {
      bad(unit === 'd' ? 'unknown unit "d" (Go durations have no days: use h, e.g. "24h")' : `unknown unit "${unit}" (use ns, us, ms, s, m or h)`);
    }
    total += Number(num) * (factor as number);
    i += all.length;
  }
  if (!Number.isFinite(total) || total > 9.2e15) bad('too large');
  return sign * total;
}

/**
 * A duration the way Go would accept it back, compact: `1h30m`, `90s` -> `1m30s`, `500ms`,
 * `0s`. Sub-millisecond parts are rounded to the millisecond.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  const sign = ms < 0 ? '-' : '';
  let rest = Math.round(Math.abs(ms));
  if (rest === 0) return '0s';
  if (rest < 1000) return `${sign}${rest}ms`;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const s = rest / 1000;
  let out = '';
  if (h) out += `${h}h`;
  if (m) out += `${m}m`;
  if (s) out += `${Number.isInteger(s) ? s : s.toFixed(3).replace(/0+$/, '')}s`;
  return sign + out;
}

/** For people: `3d 4h`, `12m 5s`, `45s`, `0s`: the largest unit and the next one. */
export function humanizeDuration(ms: number): string {
  const sign = ms < 0 ? '-' : '';
  const rest = Math.floor(Math.abs(ms) / 1000);
  const units: Array<[string, number]> = [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ];
  for (let k = 0; k < units.length; k++) {
    const [name, size] = units[k] as [string, number];
    if (rest < size && k < units.length - 1) continue;
    const a = Math.floor(rest / size);
    let out = `${a}${name}`;
    const next = units[k + 1];
    if (next) {
      const b = Math.floor((rest - a * size) / next[1]);
      if (b) out += ` ${b}${next[0]}`;
    }
    return sign + out;
  }
  return '0s';
}
