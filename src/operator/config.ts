// `gotel operator`'s configuration: flags, each with a GOTEL_<NAME> environment twin, validated at
// start-up so bad configuration is one clear error, not a crash later.
import { Command, Option } from 'commander';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { DEFAULT_PAGERDUTY_EVENTS_URL, receiverSettings, type ReceiverSettings } from '../alerts/receiver-config.ts';
import { parseDefaultReceiver } from '../alerts/receivers.ts';
import { statusConfig, type StatusConfig } from '../status/config.ts';
import { clientLimitConfig, DEFAULT_CLIENT_LIMIT, type ClientLimitOptions } from '../checkin/client-limits.ts';
import { haConfig, type HaConfig } from '../ha/config.ts';
import { parseSelector } from '../core/selector.ts';
import { createHash } from 'node:crypto';

export interface OperatorConfig {
  kubeconfig?: string;
  /** Empty: all namespaces. */
  namespaces: string[];
  /** A label selector: only the Reservations it selects are judged here (a shard); empty: all. */
  selector: string;
  /** The leader Lease's name: `gotel-leader`, with a suffix derived from --selector when set. */
  leaderLeaseName: string;
  listen: { host: string; port: number };
  /** The default receiver: a Slack webhook URL, or a Secret reference `namespace/name#key`. */
  slackWebhookUrl?: string;
  identity: string;
  leaderElectionNamespace: string;
  clusterName: string;
  leaseDurationMs: number;
  resyncMs: number;
  logLevel: string;
  /** Status writes per second for check-ins; beyond them check-ins go through the journal. */
  checkinStatusWritesPerSecond: number;
  /** Alert grouping's window (--alert-group-window); 0: every notification goes alone. */
  alertGroupWindowMs: number;
  /** PagerDuty and SMTP settings for those receivers. */
  receivers: ReceiverSettings;
  /** Where /metrics is served, apart from the check-ins (a free port on --listen's host unless set). */
  metricsListen: { host: string; port: number };
  /** The dead man's switch (--heartbeat-url, --heartbeat-interval). */
  heartbeat: HaConfig;
  /** Who may see /status and the badges. */
  statusPage: StatusConfig;
  /** GoTel's original HTTP API (POST /reservation, /checkin, /snooze, /checkout). */
  gotelApi: GotelApiConfig;
  /** Check-ins per client (src/checkin/client-limits.ts); perSecond 0: no limit. */
  clientLimits: ClientLimitOptions;
  /** After an outage of GoTel's own, how long retried check-ins are waited for before runs due in it are judged. */
  outageCatchUpMs: number;
}

export interface GotelApiConfig {
  enabled: boolean;
  /** Where the Reservations it manages live. */
  namespace: string;
  /** Take its requests without credentials. */
  anonymous: boolean;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function env(name: string): string {
  return `GOTEL_${name.toUpperCase().replace(/-/g, '_')}`;
}

/**
 * A boolean flag. Its environment twin is read by toOperatorConfig, not by commander: commander
 * turns a boolean on for any value of its variable, so `GOTEL_GOTEL_API_ANONYMOUS=false` would
 * switch anonymous access *on*.
 */
function flag(flags: string, description: string, name: string): Option {
  return new Option(flags, `${description} (env: ${env(name)}=true|false)`);
}

/** A flag's value, or its environment twin's: true/false/1/0, anything else a ConfigError. */
export function booleanOption(value: unknown, name: string, fileEnv: NodeJS.ProcessEnv, fallback = false): boolean {
  if (value === true) return true;
  const text = fileEnv[env(name)];
  if (text === undefined || text === '') return fallback;
  const t = text.trim().toLowerCase();
  if (t === 'true' || t === '1') return true;
  if (t === 'false' || t === '0') return false;
  throw new ConfigError(`${env(name)}: "${text}" is not a boolean; use true, false, 1 or 0`);
}

/** Adds the operator's options to a command; `gotel operator --help` lists them with their env twins. */
export function operatorOptions(command: Command): Command {
  const opt = (flags: string, description: string, name: string): Option => new Option(flags, description).env(env(name));
  return command
    .addOption(opt('--kubeconfig <path>', 'kubeconfig to use (default: in-cluster, else KUBECONFIG, else ~/.kube/config)', 'kubeconfig'))
    .addOption(opt('--namespaces <list>', 'comma-separated namespaces to watch (default: all)', 'namespaces'))
    .addOption(opt('--selector <labels>', 'label selector: judge only the Reservations it selects, e.g. shard=a or team in (x,y) (default: all)', 'selector'))
    .addOption(opt('--listen <host:port>', 'address for check-ins, /healthz, /readyz', 'listen').default('0.0.0.0:8080'))
    .addOption(opt('--slack-webhook-url <url|ns/name#key>', 'default Slack receiver: a webhook URL or a Secret key reference', 'slack-webhook-url'))
    .addOption(opt('--identity <name>', 'this replica\'s name in the leader Lease (default: host name plus a random suffix)', 'identity'))
    .addOption(opt('--leader-election-namespace <ns>', 'namespace of the leader Lease (default: the pod\'s namespace, else default)', 'leader-election-namespace'))
    .addOption(opt('--cluster-name <name>', 'this cluster\'s name in alerts', 'cluster-name'))
    .addOption(opt('--lease-duration <duration>', 'leader Lease duration, e.g. 15s', 'lease-duration').default('15s'))
    .addOption(opt('--resync <duration>', 'safety resync period (deadlines fire from timers, not from this)', 'resync').default('10m'))
    .addOption(opt('--log-level <level>', 'trace, debug, info, warn, error', 'log-level').default('info'))
    .addOption(
      opt('--checkin-status-writes <per-second>', 'status writes per second for check-ins; check-ins beyond them are acknowledged from the check-in journal and folded in moments later', 'checkin-status-writes').default('5'),
    )
    .addOption(opt('--client-checkin-rate <per-second>', 'check-ins per second one client (its token, else its address) may send before it gets 429; 0: no limit', 'client-checkin-rate').default(String(DEFAULT_CLIENT_LIMIT.perSecond)))
    .addOption(opt('--client-checkin-burst <count>', 'check-ins one client may send at once above --client-checkin-rate', 'client-checkin-burst').default(String(DEFAULT_CLIENT_LIMIT.burst)))
    .addOption(flag('--gotel-api', 'serve GoTel\'s own API: POST /reservation, /checkin, /snooze, /checkout; GET /reservation', 'gotel-api'))
    .addOption(opt('--gotel-api-namespace <ns>', 'namespace of the Reservations GoTel\'s API manages', 'gotel-api-namespace').default('default'))
    .addOption(flag('--gotel-api-anonymous', 'let GoTel\'s API take requests without credentials', 'gotel-api-anonymous'))
    .addOption(
      opt('--alert-group-window <duration>', 'at most one message per window for one receiver and cause: what arrives meanwhile goes in the next one (the first of a quiet period at once); 0 turns grouping off', 'alert-group-window').default('1s'),
    )
    .addOption(opt('--pagerduty-events-url <url>', 'where PagerDuty receivers\' events go (Events API v2)', 'pagerduty-events-url').default(DEFAULT_PAGERDUTY_EVENTS_URL))
    .addOption(opt('--smtp-url <smtp://host:port>', 'SMTP server for e-mail receivers: smtp:// (STARTTLS when offered, required with --smtp-secret) or smtps://', 'smtp-url'))
    .addOption(opt('--smtp-secret <ns/name>', 'Secret with keys username and password to log in to the SMTP server', 'smtp-secret'))
    .addOption(opt('--smtp-from <address>', 'From address of e-mail alerts, e.g. "GoTel <gotel@example.com>" (required with --smtp-url)', 'smtp-from'))
    .addOption(opt('--status-page <mode>', 'who may see /status: off, authenticated (a Kubernetes token allowed to list Reservations) or public', 'status-page').default('authenticated'))
    .addOption(opt('--badges <mode>', 'who may see /badge/...: off, authenticated or public (default: as --status-page)', 'badges'))
    .addOption(opt('--metrics-listen <host:port>', 'address for /metrics (Prometheus), apart from the check-ins on --listen', 'metrics-listen').default('0.0.0.0:9090'))
    // The peer watch's dead man's switch (read by src/ha/config.ts).
    .addOption(opt('--heartbeat-url <url>', 'dead man\'s switch: while leading, GET this URL every --heartbeat-interval (e.g. a Healthchecks ping URL)', 'heartbeat-url'))
    .addOption(opt('--heartbeat-interval <duration>', 'how often to ping --heartbeat-url', 'heartbeat-interval').default('1m'))
    .addOption(
      opt('--outage-catch-up <duration>', 'after GoTel could not accept check-ins, how long retried check-ins are waited for before runs due in the outage are judged (Unknown, never Missed)', 'outage-catch-up').default('1m'),
    );
}

/**
 * What `gotel operator` with no arguments would run with: each option's GOTEL_* twin from `fileEnv`,
 * else its default; booleans by booleanOption. `gotel start` on a cluster reads its settings so, the
 * same variables read the same way.
 */
export function operatorConfigFromEnv(fileEnv: NodeJS.ProcessEnv = process.env): OperatorConfig {
  const opts: Record<string, unknown> = {};
  for (const option of operatorOptions(new Command()).options) {
    const value = option.envVar !== undefined ? fileEnv[option.envVar] : undefined;
    opts[option.attributeName()] = value ?? option.defaultValue;
  }
  return toOperatorConfig(opts, fileEnv);
}

/** A window that may also be 0 (off), at most a minute: a group must not hold an alert for long. */
function groupWindow(value: unknown): number {
  const text = typeof value === 'string' && value ? value.trim() : '3s';
  if (/^0(ms|s|m|h)?$/.test(text)) return 0;
  const ms = seconds(text, '--alert-group-window');
  if (ms > 60_000) throw new ConfigError(`--alert-group-window: "${text}" is longer than 1m; a group must not hold an alert back for long`);
  return ms;
}

function seconds(text: string, flag: string): number {
  const m = /^(\d+)(ms|s|m|h)$/.exec(text.trim());
  if (!m) throw new ConfigError(`${flag}: "${text}" is not a duration such as 15s or 10m`);
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  if (n <= 0) throw new ConfigError(`${flag}: must be positive`);
  return n * unit;
}

export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new ConfigError(`--listen: "${text}" is not host:port (for example 0.0.0.0:8080 or 127.0.0.1:0)`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
function checkLogLevel(level: string): string {
  if (!LOG_LEVELS.includes(level)) throw new ConfigError(`--log-level: "${level}" is not one of ${LOG_LEVELS.join(', ')}`);
  return level;
}

function gotelApiNs(value: unknown): string {
  const ns = typeof value === 'string' && value ? value : 'default';
  if (!DNS_LABEL.test(ns)) throw new ConfigError(`--gotel-api-namespace: "${ns}" is not a namespace name`);
  return ns;
}

/**
 * Where /metrics is served. The CLI always sets --metrics-listen (default 0.0.0.0:9090); a config
 * built in code without it gets a free port on --listen's host, so operators started side by side
 * (tests, `npm start`) never collide.
 */
function metricsListenOf(text: unknown, listen: { host: string }): { host: string; port: number } {
  if (text === undefined || text === '') return { host: listen.host, port: 0 };
  if (typeof text !== 'string') throw new ConfigError('--metrics-listen: expected host:port');
  try {
    return parseListen(text);
  } catch {
    throw new ConfigError(`--metrics-listen: "${text}" is not host:port (for example 0.0.0.0:9090 or 127.0.0.1:0)`);
  }
}

/**
 * The leader Lease of a deployment judging `selector`: shards that share a namespace never share a
 * Lease, so one shard's leader can never leave another shard unjudged (docs/capacity.md).
 */
export function leaderLeaseName(selector: string): string {
  return selector ? `gotel-leader-${createHash('sha256').update(selector).digest('hex').slice(0, 10)}` : 'gotel-leader';
}

function selectorOf(value: string | undefined): string {
  const text = (value ?? '').trim();
  try {
    parseSelector(text);
  } catch (err) {
    throw new ConfigError(`--selector: ${(err as Error).message}`);
  }
  return text;
}

/** Validates what commander parsed into an OperatorConfig; throws ConfigError naming the flag. */
export function toOperatorConfig(opts: Record<string, unknown>, fileEnv: NodeJS.ProcessEnv = process.env): OperatorConfig {
  const str = (k: string): string | undefined => (typeof opts[k] === 'string' && opts[k] !== '' ? opts[k] : undefined);
  const namespaces = (str('namespaces') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const ns of namespaces) if (!DNS_LABEL.test(ns)) throw new ConfigError(`--namespaces: "${ns}" is not a namespace name`);
  const selector = selectorOf(str('selector'));
  const slack = str('slackWebhookUrl');
  if (slack) {
    // The alerts module's own parser, so what passes here is what the dispatcher accepts.
    try {
      parseDefaultReceiver(slack);
    } catch (err) {
      throw new ConfigError((err as Error).message);
    }
  }
  // The receivers' flags are read by src/alerts/receiver-config.ts; a typo fails at start-up.
  let receivers: ReceiverSettings;
  try {
    receivers = receiverSettings(opts);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const leNs = str('leaderElectionNamespace') ?? fileEnv.POD_NAMESPACE ?? 'default';
  if (!DNS_LABEL.test(leNs)) throw new ConfigError(`--leader-election-namespace: "${leNs}" is not a namespace name`);
  const listenAt = parseListen(typeof opts.listen === 'string' ? opts.listen : '0.0.0.0:8080');
  const { kubeconfig, identity, clusterName, leaseDuration, resync, logLevel, checkinStatusWrites, gotelApiNamespace, outageCatchUp } = opts;
  const statusWrites = Number(typeof checkinStatusWrites === 'string' ? checkinStatusWrites : '5');
  if (!(statusWrites >= 1) || !Number.isFinite(statusWrites)) throw new ConfigError(`--checkin-status-writes: "${String(checkinStatusWrites)}" is not a number of writes per second (1 or more)`);
  return {
    kubeconfig: typeof kubeconfig === 'string' && kubeconfig ? kubeconfig : undefined,
    namespaces,
    selector,
    leaderLeaseName: leaderLeaseName(selector),
    listen: listenAt,
    slackWebhookUrl: slack,
    // Unique per process like client-go's default: two replicas on one host must not share it.
    identity: (typeof identity === 'string' && identity) || `${hostname()}_${randomUUID().slice(0, 8)}`,
    leaderElectionNamespace: leNs,
    clusterName: (typeof clusterName === 'string' && clusterName) || 'default',
    leaseDurationMs: seconds(typeof leaseDuration === 'string' ? leaseDuration : '15s', '--lease-duration'),
    resyncMs: seconds(typeof resync === 'string' ? resync : '10m', '--resync'),
    logLevel: checkLogLevel(typeof logLevel === 'string' ? logLevel : 'info'),
    checkinStatusWritesPerSecond: statusWrites,
    alertGroupWindowMs: groupWindow(opts.alertGroupWindow),
    receivers,
    metricsListen: metricsListenOf(opts.metricsListen, listenAt),
    outageCatchUpMs: seconds(typeof outageCatchUp === 'string' ? outageCatchUp : '1m', '--outage-catch-up'),
    statusPage: statusConfig(opts),
    clientLimits: clientLimitConfig(opts),
    heartbeat: haConfig(opts),
    gotelApi: {
      enabled: booleanOption(opts.gotelApi, 'gotel-api', fileEnv),
      namespace: gotelApiNs(gotelApiNamespace),
      anonymous: booleanOption(opts.gotelApiAnonymous, 'gotel-api-anonymous', fileEnv),
    },
  };
}
