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
  /**
   * etcd fsyncs its log before it answers, as in production (default false: tests and demos need
   * no durability across a machine crash, and fsync costs them time). Benchmarks of durable
   * writes set it.
   */
  fsync?: boolean;
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
  /** Process ids of etcd and kube-apiserver (the current ones, after a restart). */
  pids: number[];
  /** Stops the apiserver, then etcd (SIGTERM, wait, SIGKILL), and removes the temp directory. */
  stop(): Promise<void>;
  /**
   * Fault injection for tests and benches: stops one daemon (SIGTERM and wait, or SIGKILL); its
   * ports, flags and data stay for `restart`. Stop the apiserver before etcd, as `stop` does.
   */
  halt(which: DaemonName, signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Starts a halted daemon again as it was; resolves once it is healthy (etcd) or ready (apiserver). */
  restart(which: DaemonName): Promise<void>;
}

export type DaemonName = 'etcd' | 'kube-apiserver';

export const DEFAULT_CRDS_DIR = fileURLToPath(new URL('../../crds/', import.meta.url));

/** How long each daemon gets to exit on SIGTERM before SIGKILL; the apiserver can take seconds. */
const STOP_GRACE_MS = 10_000;

/**
 * Starts etcd and kube-apiserver with their PKI. One sequence whose steps share the daemons' state
 * (ports, flags, data directories) that `stop`, `halt` and `restart` use again, so it is kept whole.
 */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const name = options.name ?? 'local';
  const progress = options.progress ?? (() => {});
  const assets = options.assets ?? (await ensureAssets({ progress, only: ['etcd', 'kube-apiserver'] }));
  const dir = await mkdtemp(join(tmpdir(), `gotel-${name}-`));
  const guardian = startGuardian(dir);
  const daemons: Daemon[] = [];
  /** How each daemon was started and how its readiness is checked, for restart(). */
  const specs = new Map<DaemonName, { binary: string; args: string[]; ready: () => Promise<boolean>; what: string; timeoutMs: number }>();
  const launch = async (which: DaemonName): Promise<Daemon> => {
    const spec = specs.get(which)!;
    const daemon = startDaemon(which, spec.binary, spec.args);
    const at = daemons.findIndex((d) => d.label === which);
    if (at >= 0) daemons[at] = daemon;
    else daemons.push(daemon);
    guardian.watch(daemon.pid);
    await waitFor(spec.what, spec.ready, daemon, spec.timeoutMs);
    return daemon;
  };
  const daemon = (which: DaemonName): Daemon => daemons.find((d) => d.label === which)!;

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
    const etcdArgs = [
      `--name=gotel-${name}`,
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-cluster=gotel-${name}=http://127.0.0.1:${etcdPeerPort}`,
      ...(options.fsync ? [] : ['--unsafe-no-fsync']), // see ControlPlaneOptions.fsync
      '--log-level=warn',
    ];
    specs.set('etcd', { binary: assets.etcd, args: etcdArgs, ready: () => probe(`${etcdUrl}/health`), what: `${name}: etcd /health`, timeoutMs: 30_000 });
    await launch('etcd');

    const server = `https://127.0.0.1:${apiPort}`;
    progress(`${name}: starting kube-apiserver on ${server}`);
    const tls = { ca: pki.ca.cert, cert: pki.admin.cert, key: pki.admin.key };
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
    const readyz = (): Promise<boolean> => probe(`${server}/readyz`, tls);
    specs.set('kube-apiserver', { binary: assets['kube-apiserver'], args: apiserverArgs, ready: readyz, what: `${name}: kube-apiserver /readyz`, timeoutMs: 90_000 });
    await launch('kube-apiserver');
    progress(`${name}: kube-apiserver ready`);

    const kubeconfig = kubeconfigYaml({ name: `gotel-${name}`, server, ca: pki.ca.cert, cert: pki.admin.cert, key: pki.admin.key });
    const kubeconfigPath = join(dir, 'kubeconfig');
    await writeFile(kubeconfigPath, kubeconfig, { mode: 0o600 });

    const crdsDir = options.crdsDir === undefined ? DEFAULT_CRDS_DIR : options.crdsDir;
    if (crdsDir) {
      const names = await installCrds(kubeconfig, crdsDir);
      progress(`${name}: installed ${names.join(', ')}`);
    }
    return {
      name,
      server,
      kubeconfigPath,
      kubeconfig,
      dir,
      pki,
      get pids() {
        return daemons.map((d) => d.pid);
      },
      stop,
      halt: (which, signal = 'SIGTERM') => daemon(which).stop(signal),
      restart: async (which) => {
        if (daemon(which).running) throw new Error(`${which} is running`);
        await launch(which);
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

// ---- daemons ----------------------------------------------------------------------------------

interface Daemon {
  label: DaemonName;
  pid: number;
  readonly running: boolean;
  process: ChildProcess;
  /** The last lines it printed, for error messages. */
  output(): string;
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
}

function startDaemon(label: DaemonName, binary: string, args: string[]): Daemon {
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
    label,
    pid: child.pid,
    process: child,
    get running() {
      return child.exitCode === null && child.signalCode === null;
    },
    output: () => tail.join('\n'),
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
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
