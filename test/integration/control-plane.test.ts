// The local control plane itself: two run side by side as two clusters, and none leaves a process
// or a temp directory behind, even when its owner throws or is killed.
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';
import { startControlPlane } from '../../src/dev/control-plane.ts';
import { isAlive } from '../../src/dev/processes.ts';
import { eventually, kubeConfig } from './helpers.ts';

describe('the local control plane', () => {
  it('runs a second cluster beside the suite one, each with its own objects', async () => {
    const second = await startControlPlane({ name: 'second', assets: inject('assets') });
    try {
      const first = kubeConfig().makeApiClient(CoreV1Api);
      const kc2 = new KubeConfig();
      kc2.loadFromString(second.kubeconfig);
      const other = kc2.makeApiClient(CoreV1Api);
      const name = `only-in-second-${Date.now()}`;
      await other.createNamespace({ body: { metadata: { name } } });
      expect((await other.readNamespace({ name })).metadata?.name).toBe(name);
      await expect(first.readNamespace({ name })).rejects.toMatchObject({ code: 404 });
      expect(second.server).not.toBe(kubeConfig().getCurrentCluster()?.server);
      const version = (await fetchVersion(second.server, second)) as { gitVersion: string };
      expect(version.gitVersion).toBe('v1.36.3');
    } finally {
      await second.stop();
    }
    expect(second.pids.some(isAlive)).toBe(false);
    expect(existsSync(second.dir)).toBe(false);
  });

  it.each(['throw', 'kill'])('leaves no process or temp dir behind when its owner dies (%s)', async (mode) => {
    const fixture = fileURLToPath(new URL('./fixtures/abandoned-control-plane.ts', import.meta.url));
    const child = spawn(process.execPath, [fixture, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const exitCode = await new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    expect(exitCode).not.toBe(0);
    const { dir, pids } = JSON.parse(out.trim()) as { dir: string; pids: number[] };
    expect(pids).toHaveLength(2);
    await eventually(() => Promise.resolve(!pids.some(isAlive) && !existsSync(dir)), 30_000, 'the guardian to stop etcd and kube-apiserver and remove the temp dir');
  });
});

async function fetchVersion(server: string, plane: { pki: { ca: { cert: string }; admin: { cert: string; key: string } } }): Promise<unknown> {
  const { request } = await import('node:https');
  return new Promise((resolve, reject) => {
    const req = request(`${server}/version`, { ca: plane.pki.ca.cert, cert: plane.pki.admin.cert, key: plane.pki.admin.key }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(JSON.parse(body)));
    });
    req.on('error', reject);
    req.end();
  });
}
