// What the peer tests share: a second control plane standing in for the peer cluster, `gotel
// operator` processes against either cluster, Peers with their kubeconfig Secrets, and a test's
// own heartbeat Lease writer (a stand-in peer whose renewTime can be set at will).
import { KubeConfig } from '@kubernetes/client-node';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';
import { API_VERSION, HEARTBEAT_LEASE, PEER_KIND, type Peer, type PeerSpec } from '../../src/api/peer.ts';
import { startControlPlane, type ControlPlane } from '../../src/dev/control-plane.ts';
import { peerPath } from '../../src/ha/peer-watch.ts';
import { leasePath, microTime, type Lease } from '../../src/k8s/leader-election.ts';
import { KubeApiError, KubeRest } from '../../src/k8s/rest.ts';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

export interface Cluster {
  name: string;
  kubeconfig: string;
  kubeconfigPath: string;
  rest: KubeRest;
  /** Only for the peer's own control plane: etcd and kube-apiserver process ids. */
  plane?: ControlPlane;
}

export interface Clusters {
  a: Cluster;
  b: Cluster;
  dir: string;
  close(): Promise<void>;
}

function restOf(kubeconfig: string): KubeRest {
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfig);
  return new KubeRest(kc);
}

/** Cluster a is the suite's control plane; cluster b a second one started here. */
export async function twoClusters(): Promise<Clusters> {
  const dir = await mkdtemp(join(tmpdir(), 'gotel-peers-'));
  const aPath = join(dir, 'a.kubeconfig');
  await writeFile(aPath, inject('kubeconfig'));
  const plane = await startControlPlane({ name: 'peer-b', assets: inject('assets') });
  const a: Cluster = { name: 'a', kubeconfig: inject('kubeconfig'), kubeconfigPath: aPath, rest: restOf(inject('kubeconfig')) };
  const b: Cluster = { name: 'b', kubeconfig: plane.kubeconfig, kubeconfigPath: plane.kubeconfigPath, rest: restOf(plane.kubeconfig), plane };
  return {
    a,
    b,
    dir,
    close: async () => {
      a.rest.close();
      b.rest.close();
      await plane.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function createNamespace(cluster: Cluster, name: string): Promise<void> {
  try {
    await cluster.rest.request({ method: 'POST', path: '/api/v1/namespaces', body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } } });
  } catch (err) {
    if (!(err instanceof KubeApiError && err.code === 409)) throw err;
  }
}

export const children: ChildProcess[] = [];

export interface OperatorProcess {
  child: ChildProcess;
  /** What it wrote to stderr (warnings and errors). */
  stderr(): string;
}

/** `gotel operator` as its own process against `cluster`, GoTel's namespace `ns`. */
export function operatorProcess(cluster: Cluster, ns: string, o: { identity: string; clusterName: string; slackUrl: string; args?: string[] }): OperatorProcess {
  const child = spawn(
    process.execPath,
    [
      MAIN,
      'operator',
      `--kubeconfig=${cluster.kubeconfigPath}`,
      `--namespaces=${ns}`,
      '--listen=127.0.0.1:0',
      '--metrics-listen=127.0.0.1:0',
      `--slack-webhook-url=${o.slackUrl}`,
      `--identity=${o.identity}`,
      `--leader-election-namespace=${ns}`,
      `--cluster-name=${o.clusterName}`,
      '--lease-duration=3s',
      '--log-level=warn',
      ...(o.args ?? []),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, KUBECONFIG: '' } },
  );
  let err = '';
  child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  children.push(child);
  return { child, stderr: () => err };
}

export function killed(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

export async function killAll(): Promise<void> {
  await Promise.all(children.splice(0).map((c) => killed(c)));
}

/** A Peer in `ns` of `home` watching `peer`'s cluster, with its kubeconfig in a Secret. */
export async function createPeer(home: Cluster, ns: string, name: string, kubeconfig: string, spec: Partial<PeerSpec> = {}): Promise<Peer> {
  const secret = `${name}-kubeconfig`;
  await home.rest.request({
    method: 'POST',
    path: `/api/v1/namespaces/${ns}/secrets`,
    body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: secret }, stringData: { kubeconfig } },
  });
  return home.rest.request<Peer>({
    method: 'POST',
    path: peerPath(ns),
    body: { apiVersion: API_VERSION, kind: PEER_KIND, metadata: { name }, spec: { kubeconfigSecretRef: { name: secret }, timeout: '6s', ...spec } },
  });
}

export async function getPeer(cluster: Cluster, ns: string, name: string): Promise<Peer> {
  return cluster.rest.request<Peer>({ method: 'GET', path: peerPath(ns, name) });
}

/** A stand-in peer: renews `gotel-heartbeat` in `ns` every `periodMs` with a renewTime `skewMs` off. */
export function fakeHeartbeat(cluster: Cluster, ns: string, o: { skewMs?: number; periodMs?: number; clusterName: string; annotations?: Record<string, string> }): { stop(): void } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const path = leasePath(ns, HEARTBEAT_LEASE);
  const renew = async (): Promise<void> => {
    const renewTime = microTime(Date.now() + (o.skewMs ?? 0));
    const metadata = { name: HEARTBEAT_LEASE, namespace: ns, annotations: { 'gotel.io/cluster-name': o.clusterName, ...o.annotations } };
    try {
      const lease = await cluster.rest.request<Lease>({ method: 'GET', path });
      await cluster.rest.request({ method: 'PUT', path, body: { ...lease, metadata: { ...lease.metadata, ...metadata }, spec: { ...lease.spec, renewTime } } });
    } catch (err) {
      if (!(err instanceof KubeApiError && err.code === 404)) return;
      await cluster.rest.request({ method: 'POST', path: leasePath(ns), body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata, spec: { holderIdentity: `fake-${o.clusterName}`, leaseDurationSeconds: 3, renewTime } } });
    }
  };
  const loop = (): void => {
    if (stopped) return;
    void renew().finally(() => {
      if (!stopped) timer = setTimeout(loop, o.periodMs ?? 1000);
    });
  };
  loop();
  return {
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

export interface KubeEvent {
  reason: string;
  message: string;
  type: string;
  involvedObject: { name: string; kind: string };
}

export async function peerEvents(cluster: Cluster, ns: string, name: string): Promise<KubeEvent[]> {
  const list = await cluster.rest.request<{ items: KubeEvent[] }>({ method: 'GET', path: `/api/v1/namespaces/${ns}/events` });
  return list.items.filter((e) => e.involvedObject.kind === PEER_KIND && e.involvedObject.name === name);
}
