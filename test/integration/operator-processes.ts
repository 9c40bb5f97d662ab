// `gotel operator` as real processes, for the tests that kill them or the control plane under
// them: spawning one, SIGKILLing it, a free port to give its check-in server, who holds the leader
// Lease, and check-ins sent over HTTP the way a job sends them.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { leasePath, type Lease } from '../../src/k8s/leader-election.ts';
import type { KubeRest } from '../../src/k8s/rest.ts';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

export interface OperatorSpawn {
  kubeconfigPath: string;
  namespace: string;
  identity: string;
  slackUrl: string;
  /** More flags; a later `--listen=` wins over the default's. */
  args?: string[];
  /** Where its stderr goes; ignored by default. */
  onStderr?: (text: string) => void;
}

/** One replica, its own process, leader election in `namespace` with 2 s Leases. */
export function spawnOperator(o: OperatorSpawn): ChildProcess {
  const child = spawn(
    process.execPath,
    [
      MAIN,
      'operator',
      `--kubeconfig=${o.kubeconfigPath}`,
      `--namespaces=${o.namespace}`,
      '--listen=127.0.0.1:0',
      '--metrics-listen=127.0.0.1:0',
      `--slack-webhook-url=${o.slackUrl}`,
      `--identity=${o.identity}`,
      `--leader-election-namespace=${o.namespace}`,
      '--lease-duration=2s',
      '--log-level=warn',
      ...(o.args ?? []),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, KUBECONFIG: '' } },
  );
  child.stderr?.on('data', (c: Buffer) => o.onStderr?.(c.toString()));
  return child;
}

export function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** SIGKILLs `child` (if still running) and resolves once it has exited. */
export function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (!alive(child)) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function leaseHolder(rest: KubeRest, namespace: string): Promise<string | undefined> {
  const lease = await rest.request<Lease>({ method: 'GET', path: leasePath(namespace, 'gotel-leader') }).catch(() => undefined);
  return lease?.spec.holderIdentity || undefined;
}

/** POST /checkin/<ns>/<name>?rid=<rid>: the status code, or 0 when no answer came (refused, timed out). */
export async function postCheckin(base: string, namespace: string, name: string, rid: string, timeoutMs = 10_000): Promise<number> {
  try {
    const res = await fetch(`${base}/checkin/${namespace}/${name}?rid=${encodeURIComponent(rid)}`, { method: 'POST', signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}
