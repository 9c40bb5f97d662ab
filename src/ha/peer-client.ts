// Reading a peer: its kubeconfig from the Secret the Peer names (in the Peer's own namespace, which
// is GoTel's: a tenant cannot point GoTel at a Secret of their choosing), a REST client for the
// peer's apiserver (one per Secret version, so its connection pool is reused), and one read of the
// peer's heartbeat Lease, classified into what the judge needs (src/ha/judge.ts).
import { LiteKubeConfig, UnsupportedKubeconfig } from '../k8s/credentials.ts';
import { HEARTBEAT_ANNOTATIONS, HEARTBEAT_LEASE, PEER_DEFAULTS, type Peer } from '../api/peer.ts';
import { leasePath, type Lease } from '../k8s/leader-election.ts';
import { KubeApiError, KubeRest } from '../k8s/rest.ts';
import type { HeartbeatView, Observation } from './judge.ts';
import { peerNamespace } from './judge.ts';

interface SecretObject {
  metadata: { resourceVersion?: string };
  data?: Record<string, string>;
}

type Misconfigured = Extract<Observation, { kind: 'misconfigured' }>;

const misconfigured = (reason: string, error: string): Misconfigured => ({ kind: 'misconfigured', reason, error });

/** Parses a kubeconfig for a peer; a string error names what is wrong. */
export function parsePeerKubeconfig(text: string, where: string): LiteKubeConfig | Misconfigured {
  try {
    return LiteKubeConfig.fromString(text);
  } catch (err) {
    // An exec plugin would run a command inside the operator: not from a Secret.
    if (err instanceof UnsupportedKubeconfig) return misconfigured('KubeconfigInvalid', `${where}: ${err.message}, which a Peer's kubeconfig may not (exec and auth-provider plugins are not supported); use a token or client certificate`);
    if (err instanceof Error && err.message.startsWith('no current context')) return misconfigured('KubeconfigInvalid', `${where} holds a kubeconfig without a current context naming a cluster with a server`);
    return misconfigured('KubeconfigInvalid', `${where} does not hold a kubeconfig: ${(err as Error).message}`);
  }
}

export interface PeerConnection {
  rest: KubeRest;
  /** The Secret version it was built from. */
  version: string;
}

/** One REST client per Peer, rebuilt when its Secret changes. */
export class PeerClients {
  private readonly local: KubeRest;
  private readonly clients = new Map<string, PeerConnection>();

  constructor(local: KubeRest) {
    this.local = local;
  }

  /** The peer's client, or why there is none. */
  async connect(peer: Peer): Promise<PeerConnection | Misconfigured | { kind: 'unreachable'; error: string }> {
    const ns = peer.metadata.namespace ?? 'default';
    const ref = peer.spec.kubeconfigSecretRef;
    const key = ref.key || PEER_DEFAULTS.secretKey;
    const where = `Secret ${ns}/${ref.name} key "${key}"`;
    let secret: SecretObject;
    try {
      secret = await this.local.request<SecretObject>({ method: 'GET', path: `/api/v1/namespaces/${encodeURIComponent(ns)}/secrets/${encodeURIComponent(ref.name)}`, timeoutMs: 10_000 });
    } catch (err) {
      if (err instanceof KubeApiError && err.code === 404) return misconfigured('SecretNotFound', `Secret ${ns}/${ref.name} (spec.kubeconfigSecretRef) not found`);
      if (err instanceof KubeApiError && err.code === 403) return misconfigured('SecretForbidden', `not allowed to read Secret ${ns}/${ref.name}: GoTel needs get on secrets in its namespace: ${err.message}`);
      // Our own apiserver: not the peer's fault; judged as "could not look", retried next poll.
      return { kind: 'unreachable', error: `could not read Secret ${ns}/${ref.name} from this cluster: ${(err as Error).message}` };
    }
    const encoded = secret.data?.[key];
    if (encoded === undefined) {
      const keys = Object.keys(secret.data ?? {});
      return misconfigured('SecretKeyNotFound', `Secret ${ns}/${ref.name} has no key "${key}"${keys.length > 0 ? ` (it has: ${keys.join(', ')})` : ' (it is empty)'}`);
    }
    const id = `${ns}/${peer.metadata.name}`;
    const version = `${ref.name}|${key}|${secret.metadata.resourceVersion ?? ''}`;
    const cached = this.clients.get(id);
    if (cached?.version === version) return cached;
    const kc = parsePeerKubeconfig(Buffer.from(encoded, 'base64').toString('utf8'), where);
    if (!(kc instanceof LiteKubeConfig)) return kc;
    cached?.rest.close();
    const connection = { rest: new KubeRest(kc), version };
    this.clients.set(id, connection);
    return connection;
  }

  /** Drops the clients of Peers no longer there. */
  retain(ids: Set<string>): void {
    for (const [id, c] of this.clients) {
      if (ids.has(id)) continue;
      c.rest.close();
      this.clients.delete(id);
    }
  }

  close(): void {
    for (const c of this.clients.values()) c.rest.close();
    this.clients.clear();
  }
}

/** One read of the peer's heartbeat Lease. */
export async function readHeartbeat(rest: KubeRest, peer: Peer, timeoutMs: number): Promise<Observation> {
  const ns = peerNamespace(peer);
  try {
    const lease = await rest.request<Lease & { metadata: { annotations?: Record<string, string> } }>({ method: 'GET', path: leasePath(ns, HEARTBEAT_LEASE), timeoutMs });
    return { kind: 'lease', lease: heartbeatView(lease) };
  } catch (err) {
    if (err instanceof KubeApiError && err.code === 404) return { kind: 'absent' };
    if (err instanceof KubeApiError && err.code === 403)
      return misconfigured('Forbidden', `the peer cluster refuses to show Lease ${ns}/${HEARTBEAT_LEASE} to this kubeconfig's user (403; it needs get on leases there): ${err.message}`);
    if (err instanceof KubeApiError) return { kind: 'unreachable', error: `HTTP ${err.code} from ${rest.server}: ${err.message}` };
    return { kind: 'unreachable', error: `${rest.server}: ${describeNetworkError(err)}` };
  }
}

export function heartbeatView(lease: Lease & { metadata: { annotations?: Record<string, string> } }): HeartbeatView {
  const a = lease.metadata.annotations ?? {};
  return {
    resourceVersion: lease.metadata.resourceVersion,
    renewTime: lease.spec.renewTime,
    holderIdentity: lease.spec.holderIdentity || undefined,
    clusterName: a[HEARTBEAT_ANNOTATIONS.clusterName],
    version: a[HEARTBEAT_ANNOTATIONS.version],
    cachesSynced: a[HEARTBEAT_ANNOTATIONS.cachesSynced] === undefined ? undefined : a[HEARTBEAT_ANNOTATIONS.cachesSynced] === 'true',
    deliveryFailing: a[HEARTBEAT_ANNOTATIONS.alertDeliveryFailing] === 'true',
    deliveryMessage: a[HEARTBEAT_ANNOTATIONS.alertDeliveryMessage],
  };
}

function describeNetworkError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const text = e?.message ?? String(err);
  return e?.code && !text.includes(e.code) ? `${e.code}: ${text}` : text;
}
