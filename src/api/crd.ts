// The Reservation CustomResourceDefinition, built in code so the OpenAPI schema, its limits and the
// TypeScript types share constants (the way kubebuilder generates CRDs from Go types).
// `npm run generate` writes it to crds/gotel.io_reservations.yaml; a unit test fails when the file
// is stale. Every field has a description so `kubectl explain reservation.spec.grace` teaches.
import { GROUP, KIND, LIMITS, OUTCOMES, PLURAL, SIGNALS, STATES, VERSION } from './reservation.ts';

type Schema = Record<string, unknown>;

/** A Go duration: one or more number+unit pairs, no sign. CEL's duration() parses the same. */
export const DURATION_PATTERN = '^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$';
/** An IANA zone name: `UTC`, `Europe/Berlin`, `America/Argentina/Buenos_Aires`, `Etc/GMT+5`. */
export const TIME_ZONE_PATTERN = '^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9][A-Za-z0-9_+-]*)*$';
/** Five cron fields (as a Kubernetes CronJob takes them, `+` of Go's Atoi included) or one of the macros. */
export const CRON_PATTERN =
  '^\\s*(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|[0-9A-Za-z*/,?+-]+\\s+[0-9A-Za-z*/,?+-]+\\s+[0-9A-Za-z*/,?+-]+\\s+[0-9A-Za-z*/,?+-]+\\s+[0-9A-Za-z*/,?+-]+)\\s*$';
export const DNS_SUBDOMAIN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

const celString = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
const isDuration = (expr: string): string => `${expr}.matches(${celString(DURATION_PATTERN)})`;

export function duration(description: string, min?: string): Schema {
  const rules = [
    {
      rule: `${isDuration('self')} && duration(self) > duration('0s')`,
      message: 'must be a positive duration such as 90s, 5m or 1h30m (units ns, us, ms, s, m, h)',
    },
  ];
  // The judging core refuses shorter ones (src/core/spec.ts); say so at apply time already.
  if (min) rules.push({ rule: `!${isDuration('self')} || duration(self) >= duration('${min}')`, message: `must be at least ${min}` });
  return {
    type: 'string',
    maxLength: 32,
    description: `${description} A Go duration such as 90s, 5m or 1h30m${min ? `, at least ${min}` : ''}.`,
    'x-kubernetes-validations': rules,
  };
}

function cron(description: string): Schema {
  return {
    type: 'string',
    minLength: 1,
    maxLength: 128,
    description,
    'x-kubernetes-validations': [
      {
        rule: `self.matches(${celString(CRON_PATTERN)})`,
        message:
          'must be a cron expression of 5 fields (minute hour day-of-month month day-of-week) or a macro such as @daily; for a fixed period use spec.every',
      },
    ],
  };
}

function timeZone(description: string): Schema {
  return {
    type: 'string',
    maxLength: 64,
    description,
    'x-kubernetes-validations': [
      {
        rule: `self.matches(${celString(TIME_ZONE_PATTERN)})`,
        message: 'must be an IANA time zone name such as UTC, Europe/Berlin or America/New_York',
      },
    ],
  };
}

function secretKeySelector(description: string, holds = 'the URL', defaultKey = 'url'): Schema {
  return {
    type: 'object',
    description,
    required: ['name'],
    properties: {
      name: { type: 'string', maxLength: 253, pattern: DNS_SUBDOMAIN, description: 'Name of a Secret in the Reservation\'s namespace.' },
      key: { type: 'string', maxLength: 253, description: `Key in the Secret that holds ${holds}. Defaults to \`${defaultKey}\`.` },
    },
  };
}

/** An address `team@example.com`: what SMTP's RCPT TO takes (no display name). */
const EMAIL_ADDRESS = '^[^@\\s<>,;]+@[^@\\s<>,;]+$';

export const instant = (description: string): Schema => ({ type: 'string', format: 'date-time', description });
const count = (description: string): Schema => ({ type: 'integer', format: 'int64', minimum: 0, description });
export const text = (maxLength: number, description: string): Schema => ({ type: 'string', maxLength, description });

const specSchema: Schema = {
  type: 'object',
  description: 'What the job promises: when it runs, how late it may be, how long it may take, and whom to tell.',
  properties: {
    schedule: cron(
      'When the job runs, as a cron expression in spec.timeZone, exactly as a Kubernetes CronJob takes it: 5 fields (minute hour day-of-month month day-of-week) with names, ranges, steps, lists and ?, or @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly. Set this or spec.every.',
    ),
    every: duration('Run period for a job that repeats at a fixed interval rather than on a calendar: a check-in is due this long after the last one (after creation when there is none). Set this or spec.schedule.', '1s'),
    timeZone: timeZone(
      'IANA time zone in which spec.schedule is read (default UTC). Across a daylight-saving change a local time that does not exist is not expected that day, and one that occurs twice is expected once, at its first occurrence.',
    ),
    grace: duration('How late a run may start or check in after its scheduled time before it is Late, and then Missed. Default 5m.'),
    maxRuntime: duration('Longest a run may take: a run that sent start and has not finished within this is Overrun.', '1s'),
    minRuntime: duration('Shortest believable run: a run that finishes faster than this is suspicious and alerts as TooFast. Must be less than maxRuntime.'),
    failureThreshold: {
      type: 'integer',
      minimum: 1,
      maximum: 1000,
      description: 'Consecutive bad runs (failed, missed, overrun, too fast) before an alert fires. Default 1.',
    },
    recoveryThreshold: {
      type: 'integer',
      minimum: 1,
      maximum: 1000,
      description: 'Consecutive good runs before a firing alert resolves. Default 1.',
    },
    owner: text(256, 'Who answers for this job (a team or an address); shown in alerts as {owner}.'),
    alertMessage: text(
      2048,
      'Alert text template. Placeholders: {name} {namespace} {owner} {last} {since} {checkins} {schedule} {state} {exitCode} {message}, and GoTel\'s {app} {component} {jobid} {notify} {frequency} {srv}.',
    ),
    notify: {
      type: 'array',
      maxItems: LIMITS.notifyTargets,
      description: 'Where alerts go. Empty: the operator\'s default receiver (its --slack-webhook-url).',
      items: {
        type: 'object',
        description: 'One receiver: exactly one of slack, webhook, pagerduty or email.',
        properties: {
          name: text(63, 'Label for this receiver in metrics and status. Defaults to the receiver type.'),
          slack: {
            type: 'object',
            description: 'A Slack incoming webhook.',
            required: ['urlSecretRef'],
            properties: { urlSecretRef: secretKeySelector('Secret key holding the Slack incoming-webhook URL.') },
          },
          webhook: {
            type: 'object',
            description: 'A generic webhook that receives the alert as a JSON POST.',
            required: ['urlSecretRef'],
            properties: { urlSecretRef: secretKeySelector('Secret key holding the webhook URL.') },
          },
          pagerduty: {
            type: 'object',
            description:
              'PagerDuty (Events API v2, sent to the operator\'s --pagerduty-events-url): an alert triggers, a recovery resolves, with dedup_key gotel/<cluster>/<namespace>/<name>.',
            required: ['routingKeySecretRef'],
            properties: {
              routingKeySecretRef: secretKeySelector('Secret key holding the routing key (integration key) of a PagerDuty Events API v2 integration.', 'the routing key', 'routingKey'),
            },
          },
          email: {
            type: 'object',
            description: 'E-mail through the operator\'s SMTP server (its --smtp-url, from --smtp-from).',
            required: ['to'],
            properties: {
              to: {
                type: 'array',
                minItems: 1,
                maxItems: LIMITS.emailRecipients,
                'x-kubernetes-list-type': 'set',
                description: 'Recipients: e-mail addresses such as team@example.com.',
                items: {
                  type: 'string',
                  maxLength: 254,
                  'x-kubernetes-validations': [{ rule: `self.matches(${celString(EMAIL_ADDRESS)})`, message: 'must be an e-mail address such as team@example.com' }],
                },
              },
            },
          },
        },
        'x-kubernetes-validations': [
          {
            rule: '[has(self.slack), has(self.webhook), has(self.pagerduty), has(self.email)].filter(x, x).size() == 1',
            message: 'set exactly one of slack, webhook, pagerduty or email',
          },
        ],
      },
    },
    renotifyInterval: duration('While an alert keeps firing, repeat it this often. Unset: alert once until recovery.', '1m'),
    suspend: { type: 'boolean', description: 'Stop judging this job (no alerts) without deleting it; check-ins are still recorded.' },
    snoozeUntil: instant('No alerts until this instant (RFC 3339, e.g. 2026-11-25T06:00:00Z); what fell due meanwhile is judged by the first expected run after it.'),
    maintenanceWindows: {
      type: 'array',
      maxItems: LIMITS.maintenanceWindows,
      description: 'Recurring windows in which no alert is sent; what fell due inside one is judged by the first expected run after it.',
      items: {
        type: 'object',
        description: 'A window that opens on a cron schedule and stays open for a duration.',
        required: ['schedule', 'duration'],
        properties: {
          schedule: cron('When the window opens: a cron expression (5 fields or a macro).'),
          duration: duration('How long the window stays open.'),
          timeZone: timeZone('IANA time zone of this window\'s schedule. Defaults to spec.timeZone.'),
        },
      },
    },
    jobRef: {
      type: 'object',
      description: 'A CronJob or Job in this namespace whose batch/v1 Jobs check in by themselves (start, complete, fail). A Reservation with a CronJob jobRef and neither schedule nor every follows that CronJob\'s schedule and time zone.',
      required: ['kind', 'name'],
      properties: {
        kind: { type: 'string', enum: ['CronJob', 'Job'], description: 'CronJob or Job.' },
        name: { type: 'string', maxLength: 253, pattern: DNS_SUBDOMAIN, description: 'Name of the CronJob or Job.' },
      },
    },
    anonymous: {
      type: 'boolean',
      description: 'Accept check-ins without credentials. Anyone who can reach GoTel\'s HTTP endpoint can then check in for this Reservation; use only where that risk is accepted. Default false.',
    },
    tokenSecretRef: {
      type: 'object',
      description: 'A Secret in this namespace holding a bearer token that authorises check-ins for this Reservation (for jobs outside the cluster): send it as `Authorization: Bearer <token>`. Compared in constant time.',
      required: ['name'],
      properties: {
        name: { type: 'string', maxLength: 253, pattern: DNS_SUBDOMAIN, description: 'Name of the Secret.' },
        key: { type: 'string', maxLength: 253, description: 'Key in the Secret that holds the token. Defaults to `token`.' },
      },
    },
  },
  'x-kubernetes-validations': [
    { rule: '!(has(self.schedule) && has(self.every))', message: 'spec.schedule and spec.every are mutually exclusive: set one of them' },
    {
      rule: "has(self.schedule) || has(self.every) || (has(self.jobRef) && self.jobRef.kind == 'CronJob')",
      message: 'one of spec.schedule or spec.every is required (or a spec.jobRef to a CronJob, whose schedule is then followed)',
    },
    {
      rule: `!(has(self.minRuntime) && has(self.maxRuntime)) || !${isDuration('self.minRuntime')} || !${isDuration('self.maxRuntime')} || duration(self.minRuntime) < duration(self.maxRuntime)`,
      message: 'spec.minRuntime must be less than spec.maxRuntime',
    },
  ],
};

const checkinSchema = (description: string): Schema => ({
  type: 'object',
  description,
  required: ['time', 'signal'],
  properties: {
    time: instant('When GoTel received it (the server\'s clock).'),
    signal: { type: 'string', enum: [...SIGNALS], description: 'start, success, fail or log.' },
    runId: text(128, 'Run id that pairs a start with its end.'),
    exitCode: { type: 'integer', minimum: 0, maximum: 255, description: 'Exit code; 0 is success.' },
    durationSeconds: { type: 'number', minimum: 0, description: 'How long the run took, as reported or derived from its start.' },
    message: text(LIMITS.messageBytes, 'Message sent with the check-in (cut to the size limit).'),
    source: text(32, 'Where it came from: http, cli, sidecar, job, gotel-api.'),
  },
});

export const conditionSchema: Schema = {
  type: 'object',
  description: 'A metav1.Condition.',
  required: ['type', 'status', 'reason', 'message', 'lastTransitionTime'],
  properties: {
    type: { type: 'string', maxLength: 316, description: 'Ready, Healthy or Alerting.' },
    status: { type: 'string', enum: ['True', 'False', 'Unknown'], description: 'True, False or Unknown.' },
    reason: { type: 'string', maxLength: 1024, description: 'CamelCase reason for the last transition.' },
    message: { type: 'string', maxLength: 32768, description: 'Human-readable details.' },
    observedGeneration: { type: 'integer', format: 'int64', minimum: 0, description: 'The spec generation this condition was set from.' },
    lastTransitionTime: instant('When status last changed.'),
  },
};

export const outboxSchema: Schema = {
  type: 'object',
  description: 'One notification, recorded before it is sent and marked when delivered, so none is lost or repeated.',
  required: ['id', 'kind', 'reason', 'dueTime', 'createdTime'],
  properties: {
    id: text(128, 'Unique id of this notification.'),
    kind: { type: 'string', enum: ['alert', 'renotify', 'recovery'], description: 'alert, renotify or recovery.' },
    reason: text(64, 'Why: Missed, Late, Failed, Overrun, TooFast, Recovered.'),
    dueTime: instant('When the condition began; alert latency counts from here.'),
    createdTime: instant('When it was recorded.'),
    message: text(4096, 'The rendered alert text.'),
    deliveredTime: instant('When every receiver accepted it.'),
    attempts: count('Delivery attempts so far.'),
    lastError: text(1024, 'The last delivery error.'),
    failedPermanently: { type: 'boolean', description: 'A receiver refused for good; not retried.' },
    deliveredTo: { type: 'array', maxItems: LIMITS.notifyTargets + 1, items: text(63, 'Receiver name.'), description: 'Receivers that already accepted it; a retry goes only to the others.' },
    group: text(63, 'The alert group that delivered it with others (ConfigMap gotel-alert-group-<group> in GoTel\'s namespace).'),
  },
};

/** The receiver list, shared with the Peer CRD (src/api/peer-crd.ts). */
export const notifySchema = (specSchema.properties as Record<string, Schema>).notify!;
/** The alert state and outbox, shared with the Peer CRD. */
export const alertStatusSchema = (): Schema => (statusSchema.properties as Record<string, Schema>).alert!;

const statusSchema: Schema = {
  type: 'object',
  description: 'What GoTel has observed and concluded. Written by GoTel only.',
  properties: {
    observedGeneration: { type: 'integer', format: 'int64', minimum: 0, description: 'The spec generation last judged.' },
    state: { type: 'string', enum: [...STATES], description: `The verdict: ${STATES.join(', ')}.` },
    conditions: {
      type: 'array',
      maxItems: 16,
      description: 'Ready (the spec is usable), Healthy (the job keeps its promise), Alerting (an alert is firing).',
      items: conditionSchema,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
    },
    lastCheckin: checkinSchema('The most recent check-in.'),
    lastStartTime: instant('When the last run started.'),
    lastSuccessTime: instant('When the last run succeeded.'),
    lastFailureTime: instant('When the last run failed.'),
    nextExpectedTime: instant('When the next run is expected.'),
    deadline: instant('When the next run becomes Late if it has not checked in (expected time + grace).'),
    checkins: count('Check-ins received in total.'),
    consecutiveFailures: count('Bad runs in a row.'),
    consecutiveSuccesses: count('Good runs in a row.'),
    running: {
      type: 'array',
      maxItems: LIMITS.runningRuns,
      description: 'Runs that sent start and have not ended.',
      items: {
        type: 'object',
        required: ['startTime'],
        properties: {
          runId: text(128, 'Run id.'),
          startTime: instant('When it started.'),
          overrun: { type: 'boolean', description: 'Already judged Overrun (counted once).' },
        },
      },
    },
    recent: {
      type: 'array',
      maxItems: LIMITS.recentCheckins,
      description: `The last ${LIMITS.recentCheckins} check-ins, newest last.`,
      items: checkinSchema('A check-in.'),
    },
    runKeys: {
      type: 'object',
      maxProperties: LIMITS.runKeysWindowHours + 2,
      description:
        `Starts and ends of runs (by run id) seen in the last ${LIMITS.runKeysWindowHours} hours, so a retried check-in counts once: ` +
        `per UTC hour (YYYY-MM-DDTHH), hashed keys of ${LIMITS.runKeyChars} characters each, ${LIMITS.runKeys} at most in all.`,
      additionalProperties: { type: 'string', maxLength: LIMITS.runKeys * LIMITS.runKeyChars, pattern: `^([-_A-Za-z0-9]{${LIMITS.runKeyChars}})*$` },
    },
    lastResult: {
      type: 'object',
      description: 'The latest judged run, from which state is derived.',
      required: ['outcome', 'time'],
      properties: {
        outcome: { type: 'string', enum: [...OUTCOMES], description: `${OUTCOMES.join(', ')}.` },
        time: instant('When it was judged: the completion, the deadline of a missed run, start + maxRuntime.'),
        expectedTime: instant('The expected run it answers, if any.'),
        runId: text(128, 'Run id.'),
        exitCode: { type: 'integer', minimum: 0, maximum: 255, description: 'Exit code of the run.' },
        durationSeconds: { type: 'number', minimum: 0, description: 'How long the run took.' },
        outage: text(63, 'Outcome Unknown: the id of the GoTel outage in which its deadline fell (ConfigMap gotel-outages).'),
      },
    },
    outageRuns: {
      type: 'array',
      maxItems: LIMITS.outageRuns,
      description: 'Expected runs whose deadline fell while GoTel could not accept check-ins, or in the catch-up after: not judged Missed. Newest last.',
      items: {
        type: 'object',
        required: ['outage', 'expectedTime', 'deadline'],
        properties: {
          outage: text(63, 'The GoTel outage\'s id (ConfigMap gotel-outages in GoTel\'s namespace).'),
          expectedTime: instant('When the run was expected.'),
          deadline: instant('Its deadline (expected time + grace).'),
          outcome: { type: 'string', enum: ['CheckedIn', 'Unknown'], description: 'Unset during the catch-up; CheckedIn when a (retried) check-in answered it, Unknown when none came.' },
        },
      },
    },
    judging: {
      type: 'object',
      description: 'The judge\'s bookkeeping, so a restart or a second evaluation counts nothing twice.',
      required: ['scheduleKey', 'since'],
      properties: {
        scheduleKey: text(1024, 'The schedule the expectations follow, to notice a change.'),
        since: instant('Expected runs are those after this instant.'),
        judgedThrough: instant('Every expected run at or before this instant has been judged.'),
      },
    },
    schedule: text(1024, 'The schedule judged by: the cron expression (a followed CronJob\'s own for jobRef), or every <period>.'),
    journal: {
      type: 'array',
      maxItems: LIMITS.journalMarks,
      description: 'How far each GoTel replica\'s check-in journal is folded into this status, so a replay counts nothing twice.',
      items: {
        type: 'object',
        required: ['shard', 'seq', 'time'],
        properties: {
          shard: text(63, 'The journal shard (one per GoTel process).'),
          seq: { type: 'integer', minimum: 0, description: 'Every check-in of the shard up to this sequence number is in this status.' },
          time: instant('When the mark last moved.'),
        },
      },
    },
    alert: {
      type: 'object',
      description: 'The alert\'s durable state and its outbox.',
      required: ['firing'],
      properties: {
        firing: { type: 'boolean', description: 'Whether an alert is firing.' },
        reason: text(64, 'Why it fires.'),
        since: instant('Since when it fires.'),
        lastNotifiedTime: instant('When receivers were last told.'),
        notifications: count('Notifications sent for this alert.'),
        resolvedTime: instant('When the last alert resolved.'),
        outbox: { type: 'array', maxItems: LIMITS.outboxEntries, description: 'Notifications to send or sent.', items: outboxSchema },
      },
    },
  },
};

/** What one GoTel CRD says about itself; `customResourceDefinition` builds the rest alike for every kind. */
export interface CrdParts {
  plural: string;
  singular: string;
  kind: string;
  shortNames?: string[];
  printerColumns: Schema[];
  description: string;
  spec: Schema;
  status: Schema;
}

/** A namespaced, single-version GoTel CRD with a status subresource and category `gotel`. */
export function customResourceDefinition(p: CrdParts): Schema {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${p.plural}.${GROUP}` },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: { plural: p.plural, singular: p.singular, kind: p.kind, listKind: `${p.kind}List`, ...(p.shortNames ? { shortNames: p.shortNames } : {}), categories: ['gotel'] },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: p.printerColumns,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: p.description,
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string', description: 'APIVersion defines the versioned schema of this representation of an object.' },
                kind: { type: 'string', description: 'Kind is a string value representing the REST resource this object represents.' },
                metadata: { type: 'object' },
                spec: p.spec,
                status: p.status,
              },
            },
          },
        },
      ],
    },
  };
}

export function reservationCrd(): Schema {
  return customResourceDefinition({
    plural: PLURAL,
    singular: 'reservation',
    kind: KIND,
    shortNames: ['rsv'],
    printerColumns: [
      { name: 'State', type: 'string', jsonPath: '.status.state', description: 'The verdict on this job.' },
      { name: 'Last Check-in', type: 'date', jsonPath: '.status.lastCheckin.time', description: 'How long ago the job last checked in.' },
      { name: 'Next Deadline', type: 'string', jsonPath: '.status.deadline', description: 'When the next run is Late if it has not checked in (UTC).' },
      { name: 'Schedule', type: 'string', jsonPath: '.status.schedule', priority: 1, description: 'The schedule judged by: cron (a followed CronJob\'s own for jobRef) or every <period>.' },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
    description: 'A Reservation is a scheduled job\'s promise to check in: its schedule and SLA. GoTel judges its check-ins against the schedule and alerts when the job is late, fails or runs too long.',
    spec: specSchema,
    status: statusSchema,
  });
}
