// The Peer CustomResourceDefinition, built in code like the Reservation's (src/api/crd.ts), whose
// receiver list, conditions and alert outbox it shares. `npm run generate` writes it to
// crds/gotel.io_peers.yaml and the chart's crds/; a unit test fails when either file is stale.
import { stringify } from 'yaml';
import { DNS_SUBDOMAIN, alertStatusSchema, customResourceDefinition, conditionSchema, duration, instant, notifySchema, text } from './crd.ts';
import { PEER_DEFAULTS, PEER_KIND, PEER_PLURAL, PEER_STATES } from './peer.ts';

type Schema = Record<string, unknown>;

export const PEER_CRD_FILE = 'crds/gotel.io_peers.yaml';
export const PEER_CHART_CRD_FILE = 'charts/gotel/crds/gotel.io_peers.yaml';

const DNS_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';

const specSchema: Schema = {
  type: 'object',
  description: 'Which peer cluster to watch, how long its heartbeat may stand still, and whom to tell.',
  required: ['kubeconfigSecretRef'],
  properties: {
    kubeconfigSecretRef: {
      type: 'object',
      description: 'A Secret in this Peer\'s namespace (GoTel\'s own) holding a kubeconfig for the peer cluster. It needs get on leases in spec.namespace there (and, for spec.takeover, what GoTel\'s own ServiceAccount may do).',
      required: ['name'],
      properties: {
        name: { type: 'string', maxLength: 253, pattern: DNS_SUBDOMAIN, description: 'Name of the Secret.' },
        key: { type: 'string', maxLength: 253, pattern: '^[-._a-zA-Z0-9]+$', description: `Key in the Secret that holds the kubeconfig. Defaults to \`${PEER_DEFAULTS.secretKey}\`.` },
      },
    },
    namespace: { type: 'string', maxLength: 63, pattern: DNS_LABEL, description: 'Namespace in the peer cluster where its GoTel runs (its gotel-heartbeat Lease). Defaults to this Peer\'s namespace name.' },
    timeout: duration(`How long the peer's heartbeat Lease may stand still, measured on this GoTel's clock since it last saw the Lease change, before the peer is Stale; also how long its apiserver may be unreadable before it is Unreachable. Default ${PEER_DEFAULTS.timeout}.`, '1s'),
    notify: notifySchema,
    renotifyInterval: duration('While the peer stays Stale, Unreachable or Degraded, repeat the alert this often. Unset: alert once until recovery.', '1m'),
    suspend: { type: 'boolean', description: 'Stop judging this peer (no alerts) without deleting it.' },
    takeover: { type: 'boolean', description: 'While the peer is Stale and its apiserver reachable, judge the peer cluster\'s Reservations in its place. Default false.' },
  },
};

const statusSchema: Schema = {
  type: 'object',
  description: 'What this GoTel has observed of the peer. Written by GoTel only.',
  properties: {
    observedGeneration: { type: 'integer', format: 'int64', minimum: 0, description: 'The spec generation last judged.' },
    state: { type: 'string', enum: [...PEER_STATES], description: 'Pending until first seen; Up; Stale (the heartbeat stands still); Unreachable (the apiserver cannot be read); Degraded (alive, but its alert delivery fails).' },
    lastSeenTime: instant('The local time at which this GoTel last saw the heartbeat Lease change.'),
    peerRenewTime: instant('The Lease\'s renewTime, on the peer\'s own clock.'),
    observedSkewSeconds: { type: 'number', description: 'peerRenewTime minus the local time it was seen at: the clocks\' difference plus up to one poll interval. Never used to judge.' },
    peerIdentity: text(256, 'The Lease holder: the peer\'s leading replica.'),
    peerClusterName: text(256, 'The peer\'s --cluster-name, from the Lease.'),
    peerVersion: text(64, 'The peer\'s GoTel version, from the Lease.'),
    unreachableSince: instant('Since when (local clock) the peer\'s apiserver could not be read.'),
    lastError: text(1024, 'The last error reading the peer.'),
    conditions: {
      type: 'array',
      maxItems: 16,
      description: 'Ready (the Peer can be read: Secret, kubeconfig, RBAC), AlertDelivery.',
      items: conditionSchema,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
    },
    alert: alertStatusSchema(),
    takeover: {
      type: 'object',
      description: 'What the takeover of the peer\'s judging is doing (spec.takeover).',
      required: ['active', 'leading'],
      properties: {
        active: { type: 'boolean', description: 'A candidate in the peer\'s gotel-leader Lease, or judging there.' },
        leading: { type: 'boolean', description: 'Holds the peer\'s gotel-leader Lease and judges its Reservations.' },
        since: instant('When it began leading the peer cluster.'),
        reservationsJudged: { type: 'integer', minimum: 0, description: 'Reservations with a jobRef, judged fully.' },
        alertsSent: { type: 'integer', minimum: 0, description: 'Alerts delivered on the peer\'s behalf.' },
        notWatched: { type: 'array', maxItems: 100, items: text(317, 'namespace/name'), description: 'Reservations that depend on HTTP check-ins: not watched until the peer returns.' },
        endedTime: instant('When the takeover ended.'),
      },
    },
  },
};

export function peerCrd(): Schema {
  return customResourceDefinition({
    plural: PEER_PLURAL,
    singular: 'peer',
    kind: PEER_KIND,
    printerColumns: [
      { name: 'State', type: 'string', jsonPath: '.status.state', description: 'Up, Stale, Unreachable, Degraded or Pending.' },
      { name: 'Last Seen', type: 'date', jsonPath: '.status.lastSeenTime', description: 'How long ago the peer\'s heartbeat last changed (local clock).' },
      { name: 'Skew', type: 'number', jsonPath: '.status.observedSkewSeconds', description: 'Peer clock minus local clock, seconds (approximate).' },
      { name: 'Cluster', type: 'string', jsonPath: '.status.peerClusterName', priority: 1, description: 'The peer\'s --cluster-name.' },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
    description: 'A Peer is another cluster\'s GoTel that this GoTel watches through its gotel-heartbeat Lease: who monitors the monitors. Read only from GoTel\'s own namespace.',
    spec: specSchema,
    status: statusSchema,
  });
}

export function peerCrdManifest(): string {
  const header = '# Generated by `npm run generate` from src/api/peer-crd.ts. Do not edit by hand.\n';
  return header + stringify(peerCrd(), { lineWidth: 0 });
}
