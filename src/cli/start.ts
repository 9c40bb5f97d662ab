// `gotel start` (what `npm start` runs). With a cluster configured (KUBECONFIG, ~/.kube/config or
// in a pod) it installs the CRD and runs the operator there. With none, the demo: a local control
// plane, the CRD, examples/ plus a Reservation that misses its first check-in within a minute,
// the operator, and a loopback Slack-compatible receiver; the terminal shows state changes and
// the alert text the receiver got. Ctrl-C stops everything and leaves no process behind.
import type { KubeConfig } from '@kubernetes/client-node';
import { fileURLToPath } from 'node:url';
import { GROUP, PLURAL, VERSION, type Reservation } from '../api/reservation.ts';
import { ensureAssets } from '../dev/assets.ts';
import { startControlPlane, type ControlPlane } from '../dev/control-plane.ts';
import { installCrds } from '../dev/crds.ts';
import { describeSlackPayload, startSlackReceiver, type SlackReceiver } from '../dev/slack-receiver.ts';
import { applyObjects, parseManifests, readManifestDir } from '../k8s/apply.ts';
import { Informer } from '../k8s/informer.ts';
import { KubeRest } from '../k8s/rest.ts';
import { createLogger } from '../log.ts';
import { createMetrics } from '../metrics.ts';
import { booleanOption, ConfigError, operatorConfigFromEnv, toOperatorConfig } from '../operator/config.ts';
import { clusterConfigured, loadKubeConfig } from '../operator/kubeconfig.ts';
import { Operator } from '../operator/operator.ts';
import { startPeerDemo, type PeerDemo } from '../dev/peer-demo.ts';

const ROOT = new URL('../../', import.meta.url);
const EXAMPLES_DIR = fileURLToPath(new URL('examples/', ROOT));
const CRDS_DIR = fileURLToPath(new URL('crds/', ROOT));

/** A Reservation that never checks in: due 30 s after creation, Missed 10 s later. */
export const DEMO_RESERVATION = `
apiVersion: gotel.io/v1alpha1
kind: Reservation
metadata:
  name: demo-never-checks-in
spec:
  every: 30s
  grace: 10s
  owner: you@example.com
  anonymous: true
  alertMessage: "{namespace}/{name} expected a check-in {frequency}; last check-in: {last}. Owner: {owner}"
`;

const say = (line: string): void => void process.stdout.write(`${line}\n`);
const stamp = (): string => new Date().toISOString().slice(11, 19);

export async function runStart(): Promise<void> {
  if (clusterConfigured()) await runOnCluster();
  else await runDemo();
}

async function runOnCluster(): Promise<void> {
  // Every GOTEL_* variable `gotel operator` reads, read the same way (booleans: true/false/1/0).
  const config = configOrExit(() => operatorConfigFromEnv());
  const kc = loadKubeConfig(config.kubeconfig);
  say(`gotel: installing the Reservation CRD on ${kc.getCurrentCluster()?.server}`);
  await installCrds(kc.exportConfig(), CRDS_DIR);
  const logger = createLogger({ level: config.logLevel });
  const operator = new Operator(config, kc, createMetrics(), logger);
  await operator.start();
  say(`gotel: operator running; check-ins, /healthz on ${operator.url}, /metrics on ${operator.metricsUrl}. Ctrl-C stops it.`);
  await untilSignal();
  await operator.stop();
}

/** Bad configuration is one line and exit code 2, before anything starts (as for `gotel operator`). */
function configOrExit<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`gotel start: ${err.message}\n`);
    process.exit(2);
  }
}

async function runDemo(): Promise<void> {
  const withPeer = configOrExit(() => booleanOption(undefined, 'demo-peer', process.env, true));
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const cleanups: (() => Promise<void>)[] = [];
  let stopping: Promise<never> | undefined;
  // Every caller (signal handlers, the main flow) waits for the one clean-up in progress.
  const stop = (code: number): Promise<never> =>
    (stopping ??= (async () => {
      say('\ngotel: stopping...');
      for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
      say('gotel: stopped; nothing left running');
      process.exit(code);
    })());
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  try {
    say('gotel: no cluster configured (no KUBECONFIG, no ~/.kube/config): starting a local control plane');
    const assets = await ensureAssets({ progress: log });
    const plane: ControlPlane = await startControlPlane({ name: 'local', assets, progress: log });
    cleanups.push(() => plane.stop());
    const kc = loadKubeConfig(plane.kubeconfigPath);

    const slack: SlackReceiver = await startSlackReceiver({
      onRequest: (request) => {
        say(`\n[${stamp()}] Slack received an alert:\n${indent(describeSlackPayload(request.body))}\n`);
      },
    });
    cleanups.push(() => slack.close());

    const config = toOperatorConfig({
      listen: process.env.GOTEL_LISTEN ?? '127.0.0.1:8080',
      slackWebhookUrl: slack.url,
      clusterName: 'local',
      identity: 'gotel-demo',
      leaderElectionNamespace: 'default',
      leaseDuration: '5s',
    });
    const operator = await startOperatorOnFreePort(config, kc);
    cleanups.push(() => operator.stop());

    const watcher = watchStates(kc);
    cleanups.push(() => watcher.stop());

    const objects = [...(await readManifestDir(EXAMPLES_DIR)), ...parseManifests(DEMO_RESERVATION)];
    const applied = await applyObjects(kc, objects, 'default');
    say(`gotel: applied ${applied.map((o) => `${o.kind}/${o.metadata?.name}`).join(', ')}`);
    say(
      [
        '',
        'GoTel is running on a local control plane.',
        `  kube-apiserver:  ${plane.server}`,
        `  check-ins:       ${operator.url}/checkin/default/demo-never-checks-in   (metrics: ${operator.metricsUrl}/metrics)`,
        `  Slack receiver:  ${slack.url} (loopback; what it gets is printed here)`,
        '',
        'In another terminal:',
        `  export KUBECONFIG=${plane.kubeconfigPath}`,
        `  ${assets.kubectl} get reservations`,
        `  curl -X POST ${operator.url}/checkin/default/demo-never-checks-in     # check in for the demo job`,
        '',
        'demo-never-checks-in expects a check-in within 40 s: unless you send one, it is Missed and',
        'Slack gets the alert; a check-in afterwards sends the recovery. Ctrl-C stops everything.',
        '',
      ].join('\n'),
    );
    // Who monitors the monitors: a second control plane and GoTel, watching each other (src/dev/peer-demo.ts).
    if (withPeer) {
      const peerDemo = startPeerDemo({ assets, localKubeconfig: plane.kubeconfig, localKc: kc, slackUrl: slack.url, say, log, stamp }).then(
        (demo) => (announcePeerDemo(demo), demo),
        (err: unknown) => void log(`gotel: the peer demo did not start: ${(err as Error).message}`),
      );
      cleanups.push(async () => (await peerDemo)?.stop());
    }
    await untilSignal();
  } catch (err) {
    process.stderr.write(`gotel start: ${(err as Error).message}\n`);
    await stop(1);
  }
  await stop(0);
}

/** Says how to stop and start the peer's GoTel: SIGUSR2, or the `p` key in a terminal. */
function announcePeerDemo(demo: PeerDemo): void {
  process.on('SIGUSR2', () => void demo.toggle());
  if (process.stdin.isTTY) {
    process.stdin.setRawMode(true);
    process.stdin.on('data', (key: Buffer) => {
      if (key.toString() === 'p') void demo.toggle();
      if (key[0] === 3) process.kill(process.pid, 'SIGINT'); // Ctrl-C in raw mode
    });
  }
  say(
    [
      '',
      'A second control plane stands in for a peer cluster, with its own GoTel; a Peer on each side',
      'watches the other (`kubectl get peers`). To stop the peer cluster\'s GoTel and see the Stale',
      `alert, and again to start it and see the recovery: press p, or run  kill -USR2 ${process.pid}`,
      '',
    ].join('\n'),
  );
}

async function startOperatorOnFreePort(config: ReturnType<typeof toOperatorConfig>, kc: KubeConfig): Promise<Operator> {
  // Quiet by default: the demo's own lines tell the story; GOTEL_LOG_LEVEL=info shows the operator's.
  const logger = createLogger({ level: process.env.GOTEL_LOG_LEVEL ?? 'error', destination: process.stderr });
  try {
    const operator = new Operator(config, kc, createMetrics(), logger);
    await operator.start();
    return operator;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    say(`gotel: ${config.listen.host}:${config.listen.port} is taken; listening on a free port instead`);
    const operator = new Operator({ ...config, listen: { ...config.listen, port: 0 } }, kc, createMetrics(), logger);
    await operator.start();
    return operator;
  }
}

/** Prints each Reservation's state changes as they are stored. */
function watchStates(kc: KubeConfig): Informer<Reservation> {
  const rest = new KubeRest(kc);
  const seen = new Map<string, string>();
  const informer: Informer<Reservation> = new Informer<Reservation>(rest, {
    path: `/apis/${GROUP}/${VERSION}/${PLURAL}`,
    onChange: (key) => {
      const r = informer.get(key);
      const state = r?.status?.state;
      if (!r || !state || seen.get(key) === state) return;
      const before = seen.get(key);
      seen.set(key, state);
      const detail = state === 'Pending' && r.status?.deadline ? ` (first check-in due by ${r.status.deadline})` : '';
      say(`[${stamp()}] ${key}: ${before ? `${before} -> ` : ''}${state}${detail}`);
    },
  });
  informer.start();
  return informer;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}
