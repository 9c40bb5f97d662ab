// A local Kubernetes control plane, envtest's job: etcd and kube-apiserver on free loopback ports
// with a throw-away PKI, a kubeconfig that @kubernetes/client-node and kubectl accept, and the
// CRDs from crds/ installed. Used by the integration tests and by `npm start` without a cluster.
//
// No controller-manager or kubelet runs: no pod starts, no Job runs, namespaces are not garbage
// collected. What would need them, tests write through the API themselves.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureAssets, type AssetPaths, type Progress } from './assets.ts';
import { createPki, type ControlPlanePki } from './pki.ts';
import { installCrds } from './crds.ts';
import { kubeconfigYaml } from './kubeconfig.ts';

export interface ControlPlaneOptions {
  /** A label for logs and the temp directory (`gotel-<name>-...`). */
  name?: string;
  /** Directory of CRD manifests to install once the apiserver is ready; `null` installs none. */
  crdsDir?: string | null;
  /** Binaries; found or built with ensureAssets() when not given. */
  assets?: Pick<AssetPaths, 'etcd' | 'kube-apiserver'>;
  progress?: Progress;
  /** Extra kube-apiserver flags, `--flag=value`. */
  apiserverFlags?: string[];
}

export interface ControlPlane {
  name: string;
  /** https://127.0.0.1:<port> */
  server: string;
  /** Path of an admin kubeconfig (context `gotel-<name>`). */
  kubeconfigPath: string;
  kubeconfig: string;
  dir: string;
  pki: ControlPlanePki;
  /** Process ids of etcd and kube-apiserver. */
  pids: number[];
  /** Stops the apiserver, then etcd (SIGTERM, wait, SIGKILL), and removes the temp directory. */
  stop(): Promise<void>;
  /**
   * The apiserver alone, for outage tests: `stop` it (etcd keeps running), then `start` it again
   * on the same port with the same etcd and PKI; `start` resolves once /readyz answers.
   */
  apiserver: { stop(): Promise<void>; start(): Promise<void> };
}

export const DEFAULT_CRDS_DIR = fileURLToPath(new URL('../../crds/', import.meta.url));

/** How long each daemon gets to exit on SIGTERM before SIGKILL; the apiserver can take seconds. */
const STOP_GRACE_MS = 10_000;

export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const name = options.name ?? 'local';
  const progress = options.progress ?? (() => {});
  const assets = options.assets ?? (await ensureAssets({ progress, only: ['etcd', 'kube-apiserver'] }));
  const dir = await mkdtemp(join(tmpdir(), `gotel-${name}-`));
  const guardian = startGuardian(dir);
  const daemons: Daemon[] = [];

  const stop = async (): Promise<void> => {
    // The apiserver first: etcd going away under it makes it log errors and stall its exit.
    for (const daemon of [...daemons].reverse()) await daemon.stop();
    await rm(dir, { recursive: true, force: true });
    guardian.release();
  };

  try {
    const pki = await createPki();
    const files = {
      ca: join(dir, 'ca.crt'),
      servingCert: join(dir, 'apiserver.crt'),
      servingKey: join(dir, 'apiserver.key'),
      saPublic: join(dir, 'sa.pub'),
      saPrivate: join(dir, 'sa.key'),
    };
    await Promise.all([
      writeFile(files.ca, pki.ca.cert),
      writeFile(files.servingCert, pki.serving.cert),
      writeFile(files.servingKey, pki.serving.key, { mode: 0o600 }),
      writeFile(files.saPublic, pki.serviceAccount.publicKey),
      writeFile(files.saPrivate, pki.serviceAccount.privateKey, { mode: 0o600 }),
    ]);

    const [etcdClientPort, etcdPeerPort, apiPort] = await freePorts(3);
    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    progress(`${name}: starting etcd on ${etcdUrl}`);
    const etcd = startDaemon('etcd', assets.etcd, [
      `--name=gotel-${name}`,
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-cluster=gotel-${name}=http://127.0.0.1:${etcdPeerPort}`,
      '--unsafe-no-fsync', // tests and demos only: durability across a machine crash is not needed
      '--log-level=warn',
    ]);
    daemons.push(etcd);
    guardian.watch(etcd.pid);
    await waitFor(`${name}: etcd /health`, () => probe(`${etcdUrl}/health`), etcd, 30_000);

    const server = `https://127.0.0.1:${apiPort}`;
    progress(`${name}: starting kube-apiserver on ${server}`);
    const apiserverArgs = [
      `--etcd-servers=${etcdUrl}`,
      `--bind-address=127.0.0.1`,
      `--advertise-address=127.0.0.1`,
      `--secure-port=${apiPort}`,
      `--cert-dir=${join(dir, 'certs')}`,
      `--tls-cert-file=${files.servingCert}`,
      `--tls-private-key-file=${files.servingKey}`,
      `--client-ca-file=${files.ca}`,
      `--service-account-key-file=${files.saPublic}`,
      `--service-account-signing-key-file=${files.saPrivate}`,
      `--service-account-issuer=https://kubernetes.default.svc.cluster.local`,
      `--api-audiences=https://kubernetes.default.svc.cluster.local`,
      `--service-cluster-ip-range=10.0.0.0/24`,
      '--authorization-mode=RBAC',
      // No controller-manager runs to create ServiceAccount tokens or the default ServiceAccount.
      '--disable-admission-plugins=ServiceAccount',
      '--allow-privileged=true',
      '--v=0',
      ...(options.apiserverFlags ?? []),
    ];
    const tls = { ca: pki.ca.cert, cert: pki.admin.cert, key: pki.admin.key };
    let apiserver: Daemon;
    const startApiserver = async (): Promise<void> => {
      apiserver = startDaemon('kube-apiserver', assets['kube-apiserver'], apiserverArgs);
      daemons.push(apiserver);
      guardian.watch(apiserver.pid);
      await waitFor(`${name}: kube-apiserver /readyz`, () => probe(`${server}/readyz`, tls), apiserver, 90_000);
    };
    const stopApiserver = async (): Promise<void> => {
      await apiserver.stop();
      daemons.splice(daemons.indexOf(apiserver), 1);
    };
    await startApiserver();
    progress(`${name}: kube-apiserver ready`);

    const kubeconfig = kubeconfigYaml({ name: `gotel-${name}`, server, ca: pki.ca.cert, cert: pki.admin.cert, key: pki.admin.key });
    const kubeconfigPath = join(dir, 'kubeconfig');
    await writeFile(kubeconfigPath, kubeconfig, { mode: 0o600 });

    const crdsDir = options.crdsDir === undefined ? DEFAULT_CRDS_DIR : options.crdsDir;
    if (crdsDir) {
      const names = await installCrds(kubeconfig, crdsDir);
      progress(`${name}: installed ${names.join(', ')}`);
    }
    return { name, server, kubeconfigPath, kubeconfig, dir, pki, pids: daemons.map((d) => d.pid), stop, apiserver: { stop: stopApiserver, start: startApiserver } };
  } catch (err) {
    await stop();
    throw err;
  }
}

// ---- daemons ----------------------------------------------------------------------------------

interface Daemon {
  pid: number;
  process: ChildProcess;
  /** The last lines it printed, for error messages. */
  output(): string;
  stop(): Promise<void>;
}

function startDaemon(label: string, binary: string, args: string[]): Daemon {
  // Own process group: Ctrl-C in a terminal reaches the whole foreground group, and the daemons
  // must stop in order (apiserver, then etcd) when we stop them, not all at once by themselves.
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let spawnError: Error | undefined;
  child.on('error', (err) => (spawnError = err));
  let tail: string[] = [];
  const keep = (chunk: Buffer): void => {
    tail.push(...chunk.toString().split('\n').filter(Boolean));
    if (tail.length > 60) tail = tail.slice(-60);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  if (child.pid === undefined) throw new Error(`could not start ${label} (${binary})${spawnError ? `: ${spawnError.message}` : ''}`);
  const exited = once(child, 'exit').then(() => undefined);
  return {
    pid: child.pid,
    process: child,
    output: () => tail.join('\n'),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function waitFor(what: string, check: () => Promise<boolean>, daemon: Daemon, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  let delay = 50;
  while (Date.now() < until) {
    if (daemon.process.exitCode !== null || daemon.process.signalCode !== null) {
      throw new Error(`${what}: the process exited (${daemon.process.exitCode ?? daemon.process.signalCode}) before it was ready:\n${daemon.output()}`);
    }
    if (await check()) return;
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 500);
  }
  throw new Error(`${what}: not ready after ${timeoutMs / 1000}s:\n${daemon.output()}`);
}

/** True when a GET answers 200. */
function probe(url: string, tls?: { ca: string; cert: string; key: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const request = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = request(url, { ...tls, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** Distinct free loopback ports (asked of the kernel, then released for the daemons to bind). */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, async () => {
      const server = createServer();
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      return server;
    }),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

// ---- the guardian -------------------------------------------------------------------------------

interface Guardian {
  watch(pid: number): void;
  /** We cleaned up ourselves: the guardian exits without touching anything. */
  release(): void;
}

function startGuardian(dir: string): Guardian {
  const script = fileURLToPath(new URL(`./guardian${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));
  const child = spawn(process.execPath, [script], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
  child.unref();
  const stdin = child.stdin;
  // Its pipe must not keep our event loop alive either.
  (stdin as unknown as { unref?: () => void }).unref?.();
  stdin.on('error', () => {});
  stdin.write(`dir ${dir}\n`);
  return {
    watch: (pid) => void stdin.write(`pid ${pid}\n`),
    release: () => stdin.end('done\n'),
  };
}
