// `gotel operator`'s configuration: flags, each with a GOTEL_<NAME> environment twin, validated at
// start-up so bad configuration is one clear error, not a crash later.
import { Command, Option } from 'commander';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { parseDefaultReceiver } from '../alerts/receivers.ts';

export interface OperatorConfig {
  kubeconfig?: string;
  /** Empty: all namespaces. */
  namespaces: string[];
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
  /** Extra options owned by other modules (check-ins), passed through. */
  extra: Record<string, unknown>;
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

/** Adds the operator's options to a command; `gotel operator --help` lists them with their env twins. */
export function operatorOptions(command: Command): Command {
  const opt = (flags: string, description: string, name: string): Option => new Option(flags, description).env(env(name));
  return command
    .addOption(opt('--kubeconfig <path>', 'kubeconfig to use (default: in-cluster, else KUBECONFIG, else ~/.kube/config)', 'kubeconfig'))
    .addOption(opt('--namespaces <list>', 'comma-separated namespaces to watch (default: all)', 'namespaces'))
    .addOption(opt('--listen <host:port>', 'address for check-ins, /metrics, /healthz, /readyz', 'listen').default('0.0.0.0:8080'))
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
    .addOption(opt('--gotel-api', 'serve GoTel\'s own API: POST /reservation, /checkin, /snooze, /checkout; GET /reservation', 'gotel-api'))
    .addOption(opt('--gotel-api-namespace <ns>', 'namespace of the Reservations GoTel\'s API manages', 'gotel-api-namespace').default('default'))
    .addOption(opt('--gotel-api-anonymous', 'let GoTel\'s API take requests without credentials', 'gotel-api-anonymous'))
    // The peer watch's dead man's switch (read by src/ha/config.ts).
    .addOption(opt('--heartbeat-url <url>', 'dead man\'s switch: while leading, GET this URL every --heartbeat-interval (e.g. a Healthchecks ping URL)', 'heartbeat-url'))
    .addOption(opt('--heartbeat-interval <duration>', 'how often to ping --heartbeat-url', 'heartbeat-interval').default('1m'));
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

/** Validates what commander parsed into an OperatorConfig; throws ConfigError naming the flag. */
export function toOperatorConfig(opts: Record<string, unknown>, fileEnv: NodeJS.ProcessEnv = process.env): OperatorConfig {
  const str = (k: string): string | undefined => (typeof opts[k] === 'string' && opts[k] !== '' ? opts[k] : undefined);
  const namespaces = (str('namespaces') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const ns of namespaces) if (!DNS_LABEL.test(ns)) throw new ConfigError(`--namespaces: "${ns}" is not a namespace name`);
  const slack = str('slackWebhookUrl');
  if (slack) {
    // The alerts module's own parser, so what passes here is what the dispatcher accepts.
    try {
      parseDefaultReceiver(slack);
    } catch (err) {
      throw new ConfigError((err as Error).message);
    }
  }
  const leNs = str('leaderElectionNamespace') ?? fileEnv.POD_NAMESPACE ?? 'default';
  if (!DNS_LABEL.test(leNs)) throw new ConfigError(`--leader-election-namespace: "${leNs}" is not a namespace name`);
  const { kubeconfig, namespaces: _n, listen, slackWebhookUrl: _s, identity, leaderElectionNamespace: _l, clusterName, leaseDuration, resync, logLevel, checkinStatusWrites, ...extra } = opts;
  const statusWrites = Number(typeof checkinStatusWrites === 'string' ? checkinStatusWrites : '5');
  if (!(statusWrites >= 1) || !Number.isFinite(statusWrites)) throw new ConfigError(`--checkin-status-writes: "${String(checkinStatusWrites)}" is not a number of writes per second (1 or more)`);
  return {
    kubeconfig: typeof kubeconfig === 'string' && kubeconfig ? kubeconfig : undefined,
    namespaces,
    listen: parseListen(typeof listen === 'string' ? listen : '0.0.0.0:8080'),
    slackWebhookUrl: slack,
    // Unique per process like client-go's default: two replicas on one host must not share it.
    identity: (typeof identity === 'string' && identity) || `${hostname()}_${randomUUID().slice(0, 8)}`,
    leaderElectionNamespace: leNs,
    clusterName: (typeof clusterName === 'string' && clusterName) || 'default',
    leaseDurationMs: seconds(typeof leaseDuration === 'string' ? leaseDuration : '15s', '--lease-duration'),
    resyncMs: seconds(typeof resync === 'string' ? resync : '10m', '--resync'),
    logLevel: checkLogLevel(typeof logLevel === 'string' ? logLevel : 'info'),
    checkinStatusWritesPerSecond: statusWrites,
    extra,
  };
}
