// The Reservation custom resource (gotel.io/v1alpha1) as TypeScript sees it.
// The OpenAPI schema in crds/gotel.io_reservations.yaml is the contract the apiserver enforces;
// these types mirror it. Keep both in step: test/integration/crd.test.ts applies objects built
// from these types.

export const GROUP = 'gotel.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'Reservation';
export const PLURAL = 'reservations';

/** A Go/Kubernetes duration string such as `90s`, `5m` or `1h30m`. */
export type Duration = string;
/** An instant in RFC 3339, always stored in UTC (`2026-03-28T01:30:00Z`). */
export type Instant = string;

export interface SecretKeySelector {
  /** Name of a Secret in the Reservation's namespace. */
  name: string;
  /** Key inside the Secret; receivers default it to `url` (PagerDuty: `routingKey`). */
  key?: string;
}

/** One place an alert goes. Exactly one of `slack`, `webhook`, `pagerduty` and `email` is set. */
export interface NotifyTarget {
  /** Label used in metrics and status (defaults to the receiver type). */
  name?: string;
  slack?: { urlSecretRef: SecretKeySelector };
  webhook?: { urlSecretRef: SecretKeySelector };
  /** PagerDuty Events API v2; the Secret key (default `routingKey`) holds the integration's routing key. */
  pagerduty?: { routingKeySecretRef: SecretKeySelector };
  /** E-mail through the operator's SMTP server (`--smtp-url`). */
  email?: { to: string[] };
}

export interface MaintenanceWindow {
  /** Cron expression (5 fields or a macro) at which the window opens. */
  schedule: string;
  /** How long the window stays open. */
  duration: Duration;
  /** IANA zone of the window's schedule; defaults to the Reservation's timeZone. */
  timeZone?: string;
}

export interface JobRef {
  kind: 'CronJob' | 'Job';
  name: string;
}

export interface ReservationSpec {
  schedule?: string;
  every?: Duration;
  timeZone?: string;
  grace?: Duration;
  maxRuntime?: Duration;
  minRuntime?: Duration;
  failureThreshold?: number;
  recoveryThreshold?: number;
  owner?: string;
  alertMessage?: string;
  notify?: NotifyTarget[];
  renotifyInterval?: Duration;
  suspend?: boolean;
  snoozeUntil?: Instant;
  maintenanceWindows?: MaintenanceWindow[];
  jobRef?: JobRef;
  /** Accept check-ins without credentials (explicit opt-in). */
  anonymous?: boolean;
  /** A Secret key holding a bearer token that authorises check-ins (key defaults to `token`). */
  tokenSecretRef?: SecretKeySelector;
}

export const SIGNALS = ['start', 'success', 'fail', 'log'] as const;
export type Signal = (typeof SIGNALS)[number];

/** One check-in as stored in status. `time` is the server's clock when it was received. */
export interface Checkin {
  time: Instant;
  signal: Signal;
  runId?: string;
  exitCode?: number;
  durationSeconds?: number;
  message?: string;
  /** Where it came from: `http`, `cli`, `sidecar`, `job`, `gotel-api`. */
  source?: string;
}

export const STATES = [
  'Pending',
  'Healthy',
  'Running',
  'Late',
  'Missed',
  'Overrun',
  'Failed',
  'TooFast',
  'Snoozed',
  'Suspended',
  'Invalid',
  'Unknown',
] as const;
export type State = (typeof STATES)[number];

/** metav1.Condition. */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime: Instant;
}

/** A run that sent `start` and has not ended yet. */
export interface RunningRun {
  runId?: string;
  startTime: Instant;
  /** Set once the run has been judged Overrun (it ran past maxRuntime), so it is counted once. */
  overrun?: boolean;
}

/** How a run (or an expected run that never came) was judged. */
export const OUTCOMES = ['Success', 'Failed', 'TooFast', 'Missed', 'Late', 'Overrun', 'Unknown'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** The latest judged run. */
export interface RunResult {
  outcome: Outcome;
  /** When it was judged: the completion, the deadline of a missed run, start + maxRuntime. */
  time: Instant;
  /** The expected run it answers, when there is one. */
  expectedTime?: Instant;
  runId?: string;
  exitCode?: number;
  durationSeconds?: number;
  /** Outcome Unknown: the GoTel outage (its id) during which this run's deadline fell. */
  outage?: string;
}

/**
 * An expected run whose deadline fell while GoTel could not accept check-ins (or in the catch-up
 * after): not judged Missed. No `outcome` while the catch-up lasts; then `CheckedIn` when a
 * (retried) check-in answered it, `Unknown` when none came.
 */
export interface OutageRun {
  /** The outage's id (the ConfigMap gotel-outages in GoTel's namespace holds its interval). */
  outage: string;
  expectedTime: Instant;
  deadline: Instant;
  outcome?: 'CheckedIn' | 'Unknown';
}

/**
 * The judge's bookkeeping, so that a restart or a second evaluation counts nothing twice.
 */
export interface JudgingStatus {
  /** The schedule the expectations follow (schedule, every, timeZone, suspend), to notice a change. */
  scheduleKey: string;
  /** Expected runs are those after this instant: creation, or when the schedule last changed or resumed. */
  since: Instant;
  /** Every expected run at or before this instant has been judged. */
  judgedThrough?: Instant;
}

/**
 * One alert notification waiting to be sent or already sent: the outbox. A transition is written
 * here before any receiver is called and marked delivered after, so a restart neither loses nor
 * repeats it.
 */
export interface OutboxEntry {
  id: string;
  /** `alert` on an alerting transition, `renotify` for a repeat, `recovery` when resolved. */
  kind: 'alert' | 'renotify' | 'recovery';
  reason: string;
  /** The instant the condition began (deadline, failure time): alert latency is measured from it. */
  dueTime: Instant;
  createdTime: Instant;
  message?: string;
  deliveredTime?: Instant;
  attempts?: number;
  lastError?: string;
  /** Set when a receiver refused for good (e.g. Slack `no_service`): no more retries. */
  failedPermanently?: boolean;
  /** Receivers (by name) that already accepted it: a retry goes only to the others. */
  deliveredTo?: string[];
  /** The alert group that delivered it (ConfigMap `gotel-alert-group-<group>` in GoTel's namespace), when it went out in one. */
  group?: string;
}

export interface AlertStatus {
  firing: boolean;
  reason?: string;
  since?: Instant;
  lastNotifiedTime?: Instant;
  notifications?: number;
  resolvedTime?: Instant;
  outbox?: OutboxEntry[];
}

export interface ReservationStatus {
  observedGeneration?: number;
  state?: State;
  conditions?: Condition[];
  lastCheckin?: Checkin;
  lastStartTime?: Instant;
  lastSuccessTime?: Instant;
  lastFailureTime?: Instant;
  nextExpectedTime?: Instant;
  deadline?: Instant;
  checkins?: number;
  consecutiveFailures?: number;
  consecutiveSuccesses?: number;
  running?: RunningRun[];
  recent?: Checkin[];
  /** Starts and ends of runs (by run id) seen in the last day, hashed, packed per UTC hour (src/core/dedup.ts). */
  runKeys?: Record<string, string>;
  alert?: AlertStatus;
  /** The latest judged run (what `state` is derived from). */
  lastResult?: RunResult;
  judging?: JudgingStatus;
  /**
   * The schedule judged by, for people and `kubectl get`: the cron expression (a followed
   * CronJob's own for `jobRef`), or `every <period>`.
   */
  schedule?: string;
  /** How far each replica's check-in journal is folded into this status (src/core/fold.ts). */
  journal?: JournalMark[];
  /** Runs whose deadline fell in a GoTel outage, newest last (README, "When GoTel itself is down"). */
  outageRuns?: OutageRun[];
}

/**
 * Every check-in of journal shard `shard` with a sequence number up to `seq` is in this status:
 * replaying the journal (after a crash, or a write whose answer was lost) counts nothing twice.
 */
export interface JournalMark {
  shard: string;
  seq: number;
  /** When the mark last moved: the oldest marks are dropped first. */
  time: Instant;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  creationTimestamp?: Instant | Date;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface Reservation {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: ObjectMeta;
  spec: ReservationSpec;
  status?: ReservationStatus;
}

/** Bounds the CRD enforces; the writers keep status within them. */
export const LIMITS = {
  recentCheckins: 20,
  runningRuns: 10,
  outboxEntries: 20,
  messageBytes: 10_240,
  notifyTargets: 10,
  emailRecipients: 20,
  maintenanceWindows: 10,
  journalMarks: 16,
  /** Run keys kept per Reservation (status.runKeys, src/core/dedup.ts), over this many hours, of this many characters. */
  runKeys: 1024,
  runKeysWindowHours: 24,
  runKeyChars: 8,
  outageRuns: 10,
} as const;
