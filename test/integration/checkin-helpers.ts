// Shared by the check-in integration tests: a check-in server on loopback, Reservations,
// ServiceAccounts with real tokens (TokenRequest), RBAC, and a TCP proxy that can cut the
// apiserver off.
import { KubeConfig } from '@kubernetes/client-node';
import type { AddressInfo } from 'node:net';
import { createServer as createTcpServer, connect, type Socket } from 'node:net';
import type { Server } from 'node:http';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION, type Reservation, type ReservationSpec } from '../../src/api/reservation.ts';
import { answerClientErrorsAsJson } from '../../src/checkin/errors.ts';
import { createCheckinApp, type CheckinRouterDeps } from '../../src/checkin/router.ts';
import { KubeRest } from '../../src/k8s/rest.ts';
import { StatusWriter, reservationPath } from '../../src/k8s/status-writer.ts';
import { createMetrics } from '../../src/metrics.ts';

export interface CheckinServer {
  url: string;
  rest: KubeRest;
  writer: StatusWriter;
  writes: number[];
  close(): Promise<void>;
}

export async function startCheckinServer(kc: KubeConfig, extra: Partial<CheckinRouterDeps> = {}): Promise<CheckinServer> {
  const rest = new KubeRest(kc);
  const writes: number[] = [];
  const writer = new StatusWriter(rest, { onWrite: (_k, n) => writes.push(n) });
  const app = createCheckinApp({ rest, writer, metrics: createMetrics({ defaultMetrics: false }), ...extra });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  answerClientErrorsAsJson(server);
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    rest,
    writer,
    writes,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      rest.close();
    },
  };
}

export async function createReservation(rest: KubeRest, namespace: string, name: string, spec: ReservationSpec & Record<string, unknown>): Promise<Reservation> {
  return rest.request<Reservation>({
    method: 'POST',
    path: `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`,
    body: { apiVersion: API_VERSION, kind: KIND, metadata: { name }, spec },
  });
}

export async function getReservation(rest: KubeRest, namespace: string, name: string): Promise<Reservation> {
  return rest.request<Reservation>({ method: 'GET', path: reservationPath(namespace, name) });
}

/** Creates a ServiceAccount and returns a token for it from the TokenRequest API (what `kubectl create token` does). */
export async function serviceAccountToken(rest: KubeRest, namespace: string, name: string): Promise<string> {
  await rest.request({ method: 'POST', path: `/api/v1/namespaces/${namespace}/serviceaccounts`, body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name } } });
  const tr = await rest.request<{ status: { token: string } }>({
    method: 'POST',
    path: `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
  });
  return tr.status.token;
}

/** A Role allowing `verbs` on reservations.gotel.io (optionally only `resourceNames`), bound to a ServiceAccount. */
export async function grant(rest: KubeRest, namespace: string, sa: string, verbs: string[], resourceNames?: string[]): Promise<void> {
  const name = `${sa}-${verbs.join('-')}-${(resourceNames ?? ['all']).join('-')}`.slice(0, 60);
  await rest.request({
    method: 'POST',
    path: `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/roles`,
    body: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name },
      rules: [{ apiGroups: [GROUP], resources: [PLURAL], verbs, ...(resourceNames ? { resourceNames } : {}) }],
    },
  });
  await rest.request({
    method: 'POST',
    path: `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/rolebindings`,
    body: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name: sa, namespace }],
    },
  });
}

export async function createSecret(rest: KubeRest, namespace: string, name: string, data: Record<string, string>): Promise<void> {
  await rest.request({
    method: 'POST',
    path: `/api/v1/namespaces/${namespace}/secrets`,
    body: { apiVersion: 'v1', kind: 'Secret', metadata: { name }, stringData: data },
  });
}

/** A TCP proxy in front of the apiserver that can be stopped and started again on the same port. */
export class TcpProxy {
  readonly port: number;
  private server: ReturnType<typeof createTcpServer> | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly target: { host: string; port: number };

  private constructor(port: number, target: { host: string; port: number }) {
    this.port = port;
    this.target = target;
  }

  static async start(targetUrl: string): Promise<TcpProxy> {
    const u = new URL(targetUrl);
    const probe = createTcpServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const proxy = new TcpProxy(port, { host: u.hostname, port: Number(u.port) });
    await proxy.resume();
    return proxy;
  }

  async resume(): Promise<void> {
    const server = createTcpServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      this.sockets.add(client).add(upstream);
      const drop = (): void => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((r) => server.listen(this.port, '127.0.0.1', () => r()));
    this.server = server;
  }

  /** Stops listening and cuts every open connection: the apiserver is unreachable. */
  async pause(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }

  /** A KubeConfig like `kc` but pointing at this proxy. */
  kubeConfig(kc: KubeConfig): KubeConfig {
    const cluster = kc.getCurrentCluster()!;
    const copy = new KubeConfig();
    copy.loadFromOptions({
      clusters: [{ ...cluster, server: `https://127.0.0.1:${this.port}` }],
      users: kc.getUsers(),
      contexts: kc.getContexts(),
      currentContext: kc.getCurrentContext(),
    });
    return copy;
  }
}

