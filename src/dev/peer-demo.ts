// The `npm start` demo's second half: a second local control plane standing in for a peer
// cluster, with its own GoTel, and a Peer on each side watching the other. `kill -USR2 <pid>`
// (the demo prints it; or the `p` key in a terminal) stops the peer's GoTel, so the local one
// alerts it Stale; the same again starts it, and the recovery follows.
import type { KubeConfig } from '@kubernetes/client-node';
import { API_VERSION, PEER_KIND, type Peer } from '../api/peer.ts';
import { peerPath } from '../ha/peer-watch.ts';
import { Informer } from '../k8s/informer.ts';
import { KubeRest } from '../k8s/rest.ts';
import { createLogger } from '../log.ts';
import { createMetrics } from '../metrics.ts';
import { toOperatorConfig } from '../operator/config.ts';
import { loadKubeConfig } from '../operator/kubeconfig.ts';
import { Operator } from '../operator/operator.ts';
import type { AssetPaths } from './assets.ts';
import { startControlPlane, type ControlPlane } from './control-plane.ts';

/** The demo's Peers judge fast: a peer is Stale 10 s after its heartbeat stops. */
const DEMO_TIMEOUT = '10s';
const NAMESPACE = 'default';

export interface PeerDemo {
  /** Stops the peer's GoTel, or starts it again. */
  toggle(): Promise<void>;
  stop(): Promise<void>;
}

export interface PeerDemoOptions {
  assets: AssetPaths;
  /** The local cluster (where the first GoTel runs) and its kubeconfig text. */
  localKubeconfig: string;
  localKc: KubeConfig;
  slackUrl: string;
  say: (line: string) => void;
  log: (line: string) => void;
  stamp: () => string;
}

/** Creates `name` watching the cluster of `kubeconfig`, with its kubeconfig in a Secret. */
async function createPeer(rest: KubeRest, name: string, kubeconfig: string): Promise<void> {
  const secret = `${name}-kubeconfig`;
  const ok = (err: unknown): void => {
    if ((err as { code?: number }).code !== 409) throw err;
  };
  await rest.request({ method: 'POST', path: `/api/v1/namespaces/${NAMESPACE}/secrets`, body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: secret }, stringData: { kubeconfig } } }).catch(ok);
  await rest
    .request({ method: 'POST', path: peerPath(NAMESPACE), body: { apiVersion: API_VERSION, kind: PEER_KIND, metadata: { name }, spec: { kubeconfigSecretRef: { name: secret }, timeout: DEMO_TIMEOUT } } })
    .catch(ok);
}

/** Prints each Peer's state changes, prefixed with the cluster that judges it. */
function watchPeers(kc: KubeConfig, side: string, o: PeerDemoOptions): { stop(): Promise<void> } {
  const rest = new KubeRest(kc);
  const seen = new Map<string, string>();
  const informer: Informer<Peer> = new Informer<Peer>(rest, {
    path: peerPath(NAMESPACE),
    onChange: (key) => {
      const state = informer.get(key)?.status?.state;
      if (!state || seen.get(key) === state) return;
      const before = seen.get(key);
      seen.set(key, state);
      o.say(`[${o.stamp()}] ${side}: Peer ${key}: ${before ? `${before} -> ` : ''}${state}`);
    },
  });
  informer.start();
  return {
    stop: async () => {
      await informer.stop();
      rest.close();
    },
  };
}

function startGotel(kc: KubeConfig, clusterName: string, slackUrl: string): Promise<Operator> {
  const config = toOperatorConfig({ listen: '127.0.0.1:0', slackWebhookUrl: slackUrl, clusterName, identity: `gotel-${clusterName}`, leaderElectionNamespace: NAMESPACE, leaseDuration: '3s' });
  const operator = new Operator(config, kc, createMetrics(), createLogger({ level: process.env.GOTEL_LOG_LEVEL ?? 'error', destination: process.stderr }));
  return operator.start().then(() => operator);
}

export async function startPeerDemo(o: PeerDemoOptions): Promise<PeerDemo> {
  const plane: ControlPlane = await startControlPlane({ name: 'peer', assets: o.assets, progress: o.log });
  const peerKc = loadKubeConfig(plane.kubeconfigPath);
  const localRest = new KubeRest(o.localKc);
  const peerRest = new KubeRest(peerKc);
  await createPeer(localRest, 'peer', plane.kubeconfig);
  await createPeer(peerRest, 'local', o.localKubeconfig);
  const watchers = [watchPeers(o.localKc, 'local', o), watchPeers(peerKc, 'peer', o)];
  let peerGotel: Operator | undefined = await startGotel(peerKc, 'peer', o.slackUrl);
  let busy: Promise<void> = Promise.resolve();
  return {
    toggle: () =>
      (busy = busy.then(async () => {
        if (peerGotel) {
          o.say(`[${o.stamp()}] stopping the peer cluster's GoTel: the local one alerts it Stale within ${DEMO_TIMEOUT} or so`);
          const g = peerGotel;
          peerGotel = undefined;
          await g.stop();
        } else {
          o.say(`[${o.stamp()}] starting the peer cluster's GoTel again: a recovery follows`);
          peerGotel = await startGotel(peerKc, 'peer', o.slackUrl);
        }
      })),
    stop: async () => {
      await busy;
      await peerGotel?.stop();
      await Promise.all(watchers.map((w) => w.stop()));
      localRest.close();
      peerRest.close();
      await plane.stop();
    },
  };
}
