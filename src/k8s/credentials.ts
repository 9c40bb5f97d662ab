// How the operator reaches its apiserver, without @kubernetes/client-node: loading client-node
// means loading its generated API (thousands of model classes), about 80 MiB of the process's
// resident memory measured on Node 24 (docs/capacity.md), and the operator needs none of it.
// This reads what a pod and most kubeconfigs hold: the in-cluster ServiceAccount (its token
// re-read, as it rotates), or a kubeconfig's current context with a CA, a bearer token or token
// file, or a client certificate. Anything else (exec and auth-provider plugins, basic auth, a
// proxy) is UnsupportedKubeconfig, and the caller falls back to client-node's KubeConfig.
import { readFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { dirname, isAbsolute, join } from 'node:path';
import { parse } from 'yaml';

/** What KubeRest needs of a kubeconfig; client-node's KubeConfig has the same two methods. */
export interface KubeCredentials {
  getCurrentCluster(): { server: string } | null;
  applyToHTTPSOptions(opts: RequestOptions): Promise<void>;
}

export class UnsupportedKubeconfig extends Error {}

export const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** A token file is read again after this long (client-go re-reads its token file every minute). */
const TOKEN_TTL_MS = 60_000;

interface Tls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  insecure?: boolean;
  servername?: string;
}

export class LiteKubeConfig implements KubeCredentials {
  private readonly server: string;
  private readonly tls: Tls;
  private readonly token?: string;
  private readonly tokenFile?: string;
  private cachedToken?: { value: string; until: number };

  constructor(server: string, tls: Tls, auth: { token?: string; tokenFile?: string }) {
    this.server = server;
    this.tls = tls;
    if (auth.token) this.token = auth.token;
    if (auth.tokenFile) this.tokenFile = auth.tokenFile;
  }

  /** The pod's ServiceAccount, as client-go's InClusterConfig reads it. */
  static fromCluster(env: NodeJS.ProcessEnv = process.env, dir = SA_DIR): LiteKubeConfig {
    const host = env.KUBERNETES_SERVICE_HOST ?? '';
    const server = `https://${host.includes(':') ? `[${host}]` : host}:${env.KUBERNETES_SERVICE_PORT ?? '443'}`;
    return new LiteKubeConfig(server, { ca: readFileSync(join(dir, 'ca.crt')) }, { tokenFile: join(dir, 'token') });
  }

  static fromFile(path: string): LiteKubeConfig {
    return LiteKubeConfig.fromString(readFileSync(path, 'utf8'), dirname(path));
  }

  /** A kubeconfig's current context; relative file paths are read from `baseDir`. */
  static fromString(text: string, baseDir = '.'): LiteKubeConfig {
    const doc = (parse(text) ?? {}) as KubeconfigDoc;
    const contextName = doc['current-context'];
    const context = doc.contexts?.find((c) => c.name === contextName)?.context;
    const cluster = doc.clusters?.find((c) => c.name === context?.cluster)?.cluster;
    if (!context || !cluster?.server) throw new Error('no current context naming a cluster with a server');
    const user = doc.users?.find((u) => u.name === context.user)?.user ?? {};
    const unsupported = ['exec', 'auth-provider', 'username', 'password', 'impersonate', 'as'].filter((k) => k in user);
    if (cluster['proxy-url']) unsupported.push('proxy-url');
    if (unsupported.length > 0) throw new UnsupportedKubeconfig(`kubeconfig uses ${unsupported.join(', ')}`);
    const file = (p: string | undefined): Buffer | undefined => (p ? readFileSync(isAbsolute(p) ? p : join(baseDir, p)) : undefined);
    const data = (d: string | undefined): Buffer | undefined => (d ? Buffer.from(d, 'base64') : undefined);
    const tls: Tls = {};
    const ca = data(cluster['certificate-authority-data']) ?? file(cluster['certificate-authority']);
    const cert = data(user['client-certificate-data']) ?? file(user['client-certificate']);
    const key = data(user['client-key-data']) ?? file(user['client-key']);
    if (ca) tls.ca = ca;
    if (cert) tls.cert = cert;
    if (key) tls.key = key;
    if (cluster['insecure-skip-tls-verify']) tls.insecure = true;
    if (cluster['tls-server-name']) tls.servername = cluster['tls-server-name'];
    const tokenFile = user.tokenFile && !isAbsolute(user.tokenFile) ? join(baseDir, user.tokenFile) : user.tokenFile;
    return new LiteKubeConfig(cluster.server, tls, { ...(user.token ? { token: user.token } : {}), ...(tokenFile ? { tokenFile } : {}) });
  }

  getCurrentCluster(): { server: string } {
    return { server: this.server };
  }

  applyToHTTPSOptions(opts: RequestOptions): Promise<void> {
    if (this.tls.ca) opts.ca = this.tls.ca;
    if (this.tls.cert) opts.cert = this.tls.cert;
    if (this.tls.key) opts.key = this.tls.key;
    if (this.tls.insecure) opts.rejectUnauthorized = false;
    if (this.tls.servername) opts.servername = this.tls.servername;
    const token = this.bearer();
    if (token) opts.headers = { ...opts.headers, Authorization: `Bearer ${token}` };
    return Promise.resolve();
  }

  private bearer(): string | undefined {
    if (this.token) return this.token;
    if (!this.tokenFile) return undefined;
    const now = Date.now();
    if (!this.cachedToken || this.cachedToken.until <= now) this.cachedToken = { value: readFileSync(this.tokenFile, 'utf8').trim(), until: now + TOKEN_TTL_MS };
    return this.cachedToken.value;
  }
}

interface KubeconfigDoc {
  'current-context'?: string;
  contexts?: { name: string; context?: { cluster?: string; user?: string } }[];
  clusters?: {
    name: string;
    cluster?: {
      server?: string;
      'certificate-authority'?: string;
      'certificate-authority-data'?: string;
      'insecure-skip-tls-verify'?: boolean;
      'tls-server-name'?: string;
      'proxy-url'?: string;
    };
  }[];
  users?: { name: string; user?: Record<string, string | undefined> & { token?: string; tokenFile?: string } }[];
}
