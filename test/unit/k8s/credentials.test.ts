import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RequestOptions } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiteKubeConfig, UnsupportedKubeconfig } from '../../../src/k8s/credentials.ts';

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const kubeconfig = (user: string, cluster = `server: https://127.0.0.1:6443\n    certificate-authority-data: ${b64('CA')}`): string =>
  `apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\n- name: other\n  context: {cluster: x, user: x}\nclusters:\n- name: k\n  cluster:\n    ${cluster}\nusers:\n- name: u\n  user:\n    ${user}\n`;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gotel-creds-'));
  await writeFile(join(dir, 'token'), 'from-file\n');
  await writeFile(join(dir, 'ca.crt'), 'CA-FILE');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function applied(kc: LiteKubeConfig): Promise<RequestOptions> {
  const opts: RequestOptions = { headers: { Accept: 'application/json' } };
  await kc.applyToHTTPSOptions(opts);
  return opts;
}

describe('LiteKubeConfig (the operator without client-node)', () => {
  it('reads the current context: server, CA, client certificate', async () => {
    const kc = LiteKubeConfig.fromString(kubeconfig(`client-certificate-data: ${b64('CERT')}\n    client-key-data: ${b64('KEY')}`));
    expect(kc.getCurrentCluster()).toEqual({ server: 'https://127.0.0.1:6443' });
    const opts = await applied(kc);
    expect([opts.ca, opts.cert, opts.key]).toEqual([Buffer.from('CA'), Buffer.from('CERT'), Buffer.from('KEY')]);
    expect(opts.headers).toEqual({ Accept: 'application/json' });
  });

  it('sends a bearer token, from the kubeconfig or a token file relative to it', async () => {
    expect((await applied(LiteKubeConfig.fromString(kubeconfig('token: abc')))).headers).toMatchObject({ Authorization: 'Bearer abc' });
    const kc = LiteKubeConfig.fromString(kubeconfig('tokenFile: token', 'server: https://10.0.0.1\n    certificate-authority: ca.crt\n    insecure-skip-tls-verify: true'), dir);
    const opts = await applied(kc);
    expect(opts.headers).toMatchObject({ Authorization: 'Bearer from-file' });
    expect([opts.ca, opts.rejectUnauthorized]).toEqual([Buffer.from('CA-FILE'), false]);
  });

  it('reads a pod ServiceAccount', async () => {
    const kc = LiteKubeConfig.fromCluster({ KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, dir);
    expect(kc.getCurrentCluster().server).toBe('https://10.96.0.1:443');
    expect((await applied(kc)).headers).toMatchObject({ Authorization: 'Bearer from-file' });
  });

  it('leaves plugins and proxies to client-node, and names a missing context', () => {
    expect(() => LiteKubeConfig.fromString(kubeconfig('exec: {command: aws}'))).toThrow(UnsupportedKubeconfig);
    expect(() => LiteKubeConfig.fromString(kubeconfig('token: a', 'server: https://x\n    proxy-url: http://proxy'))).toThrow(/proxy-url/);
    expect(() => LiteKubeConfig.fromString('current-context: nowhere\n')).toThrow(/no current context/);
  });
});
