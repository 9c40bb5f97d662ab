// `gotel next`: preview when a schedule expects runs, before applying a Reservation.
//
//   gotel next --schedule "30 2 * * *" --time-zone Europe/Berlin --from 2026-03-27T12:00:00Z -n 3
//   gotel next --every 90m
//   gotel next -f reservation.yaml --output rfc3339
//
// A bad expression, zone, period, instant or file exits with status 2 and one line naming it.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { humanizeDuration, iso, parseInstant, parseSchedule, ScheduleError, toWall, formatOffset, type Schedule } from '../core/index.ts';

export interface NextOptions {
  schedule?: string;
  timeZone?: string;
  every?: string;
  file?: string;
  from?: string;
  count: string;
  output: string;
}

class UsageError extends Error {}

const OUTPUTS = ['table', 'rfc3339', 'json'] as const;

const FLAG_FOR: Record<string, string> = { 'spec.schedule': '--schedule', 'spec.timeZone': '--time-zone', 'spec.every': '--every' };

function scheduleFromFile(path: string, zoneOverride: string | undefined): Schedule {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const docs = parseAllDocuments(text);
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    if (doc.errors.length) throw new UsageError(`${path}: not valid YAML: ${doc.errors[0]?.message.split('\n')[0] ?? ''}`);
    const obj = doc.toJS() as { kind?: string; spec?: { schedule?: string; every?: string; timeZone?: string } } | null;
    if (obj && obj.kind === 'Reservation') {
      const spec = obj.spec ?? {};
      return parseSchedule({ ...spec, ...(zoneOverride ? { timeZone: zoneOverride } : {}) });
    }
  }
  throw new UsageError(`${path}: no Reservation in it`);
}

function pad(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('   ')).join('\n');
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

function localTime(zone: string, t: number): string {
  const w = toWall(zone, t);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${WEEKDAYS[w.weekday]} ${w.year}-${two(w.month)}-${two(w.day)} ${two(w.hour)}:${two(w.minute)}:${two(w.second)} ${formatOffset(w.offset)}`;
}

/** Runs the command; returns the text to print. Throws UsageError / ScheduleError. */
export function runNext(opts: NextOptions, realNow: Date): string {
  const sources = [opts.schedule !== undefined, opts.every !== undefined, opts.file !== undefined].filter(Boolean).length;
  if (sources !== 1) throw new UsageError('give exactly one of --schedule EXPR, --every DURATION, -f FILE');
  if (!(OUTPUTS as readonly string[]).includes(opts.output)) throw new UsageError(`--output must be one of ${OUTPUTS.join(', ')}`);
  if (!/^\d+$/.test(opts.count) || Number(opts.count) < 1 || Number(opts.count) > 10_000) {
    throw new UsageError(`-n must be a whole number from 1 to 10000, got "${opts.count}"`);
  }
  const count = Number(opts.count);
  const from = opts.from === undefined ? Math.floor(realNow.getTime() / 1000) * 1000 : parseInstant(opts.from, '--from');
  let schedule: Schedule;
  if (opts.file) schedule = scheduleFromFile(opts.file, opts.timeZone);
  else {
    try {
      schedule = parseSchedule({
        ...(opts.schedule !== undefined ? { schedule: opts.schedule } : {}),
        ...(opts.every !== undefined ? { every: opts.every } : {}),
        ...(opts.timeZone !== undefined ? { timeZone: opts.timeZone } : {}),
      });
    } catch (e) {
      // Name the flag, not the spec field, when the input came from flags.
      if (e instanceof ScheduleError) throw e.at(FLAG_FOR[e.field] ?? e.field);
      throw e;
    }
  }
  const times = schedule.upcoming(new Date(from), count).map((d) => d.getTime());
  if (opts.output === 'rfc3339') return times.map((t) => iso(Math.floor(t / 1000) * 1000)).join('\n');
  if (opts.output === 'json') {
    return JSON.stringify({ schedule: schedule.expression, kind: schedule.kind, timeZone: schedule.timeZone, from: iso(from), times: times.map(iso) }, null, 2);
  }
  const zone = schedule.timeZone;
  const fromLabel = opts.from === undefined ? 'FROM NOW' : 'AFTER --from';
  const rows = [['#', `LOCAL (${zone})`, 'UTC', fromLabel]];
  times.forEach((t, i) => rows.push([String(i + 1), localTime(zone, t), iso(t), `+${humanizeDuration(t - from)}`]));
  const head =
    schedule.kind === 'cron'
      ? `schedule "${schedule.expression}" in ${zone}, from ${iso(from)}`
      : `every ${schedule.expression} from ${iso(from)} (the first run is due one period after the last check-in)`;
  const tail = times.length < count ? `\n(no further runs${times.length ? '' : ': the schedule never fires again'})` : '';
  return `${head}\n${pad(rows)}${tail}`;
}

export function registerNext(program: Command): void {
  program
    .command('next')
    .description('preview the next times a schedule expects a run (DST-correct, as GoTel judges them)')
    .option('--schedule <expr>', 'cron expression (5 fields or a macro such as @daily)')
    .option('--time-zone <zone>', 'IANA time zone of the schedule (default UTC)')
    .option('--every <duration>', 'fixed period, e.g. 5m or 1h30m')
    .option('-f, --file <path>', 'a Reservation manifest (YAML) to read the schedule from')
    .option('--from <instant>', 'start after this RFC 3339 instant (default: now)')
    .option('-n, --count <n>', 'how many times to show', '5')
    .option('-o, --output <format>', 'table, rfc3339 (one UTC instant a line) or json', 'table')
    .action((opts: NextOptions) => {
      try {
        process.stdout.write(`${runNext(opts, new Date())}\n`);
      } catch (e) {
        if (e instanceof ScheduleError || e instanceof UsageError) {
          process.stderr.write(`gotel next: ${e.message}\n`);
          process.exit(2);
        }
        throw e;
      }
    });
}
