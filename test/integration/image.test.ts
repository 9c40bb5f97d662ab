// The image: built daemonless from the repository's Dockerfile (buildah, on bases assembled
// from Debian's libraries and the Node 24 of the `node` npm package, scripts/containers.sh), then
// run with podman as `gotel operator` against the suite's apiserver: read-only root filesystem,
// no writable scratch space at all, host network (loopback only), uid 65532.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { eventually, freshNamespace } from './helpers.ts';
import { rest } from './operator-harness.ts';
import { OPERATOR_NODE_FLAGS } from '../../src/operator/node-flags.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const IMAGE = 'localhost/gotel:test';
let dir: string;
const containers: string[] = [];

function containersSh(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('bash', [join(REPO, 'scripts/containers.sh'), ...args], { cwd: REPO, maxBuffer: 256 * 1024 * 1024, encoding: 'buffer' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout: stdout.toString('latin1'), stderr: stderr.toString() });
    });
  });
}
async function podman(...args: string[]): Promise<string> {
  const r = await containersSh(['podman', ...args]);
  if (r.code !== 0) throw new Error(`podman ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gotel-image-'));
  await writeFile(join(dir, 'kubeconfig'), inject('kubeconfig'), { mode: 0o644 });
  const built = await containersSh(['build', IMAGE]);
  if (built.code !== 0) throw new Error(`image build failed:\n${built.stderr.slice(-4000)}`);
}, 30 * 60_000);

afterAll(async () => {
  for (const name of containers) await containersSh(['podman', 'rm', '--force', '--time', '0', name]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the image', () => {
  it('has no shell, package manager, build tools, sources or tests; production dependencies only', async () => {
    const name = `gotel-inspect-${randomBytes(3).toString('hex')}`;
    containers.push(name);
    await podman('create', '--name', name, IMAGE);
    await podman('export', '--output', join(dir, 'rootfs.tar'), name);
    const list = await new Promise<string[]>((resolve, reject) =>
      execFile('tar', ['-tf', join(dir, 'rootfs.tar')], { maxBuffer: 256 * 1024 * 1024 }, (err, out) => (err ? reject(new Error(err.message)) : resolve(out.split('\n').map((p) => `/${p.replace(/^\.?\//, '')}`)))),
    );
    await rm(join(dir, 'rootfs.tar'));
    expect(list).toContain('/nodejs/bin/node');
    expect(list).toContain('/app/bin/gotel.js');
    expect(list).toContain('/app/dist/cli/main.js');
    expect(list).toContain('/app/node_modules/@kubernetes/client-node/package.json');
    const forbidden = list.filter(
      (p) =>
        /\/(sh|bash|dash|ash|busybox|apt|apt-get|dpkg|npm|npx|yarn|gcc|make|tsc)$/.test(p) ||
        /^\/app\/(src|test|bench)\//.test(p) ||
        p.startsWith('/app/dist/dev/') ||
        /^\/app\/node_modules\/(typescript|vitest|eslint|fast-check|node)\//.test(p),
    );
    expect(forbidden).toEqual([]);

    const config = JSON.parse(await podman('image', 'inspect', IMAGE)) as { Config: { User: string; Labels: Record<string, string>; Entrypoint: string[] } }[];
    const version = (JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
    expect(config[0]!.Config.User).toBe('65532:65532');
    // The operator's Node flags (src/operator/node-flags.ts) come before the CLI.
    expect(config[0]!.Config.Entrypoint).toEqual(['/nodejs/bin/node', ...OPERATOR_NODE_FLAGS, '/app/bin/gotel.js']);
    expect(config[0]!.Config.Labels).toMatchObject({ 'org.opencontainers.image.title': 'gotel', 'org.opencontainers.image.version': version, 'org.opencontainers.image.licenses': 'Apache-2.0' });

    const shell = await containersSh(['podman', 'run', '--rm', '--network', 'host', '--entrypoint', '/bin/sh', IMAGE, '-c', 'true']);
    expect(shell.code).not.toBe(0);
  });

  it('is also the CLI: gotel checkin, run and sidecar are in it', async () => {
    const help = await podman('run', '--rm', '--read-only', '--network', 'host', '--ulimit', 'host', IMAGE, '--help');
    for (const command of ['operator', 'checkin', 'run', 'sidecar', 'next']) expect(help).toMatch(new RegExp(`^\\s+${command}\\b`, 'm'));
    // The local control plane is left out of the image: its commands say so.
    const start = await containersSh(['podman', 'run', '--rm', '--read-only', '--network', 'host', '--ulimit', 'host', IMAGE, 'start']);
    expect(start.code).toBe(2);
    expect(start.stderr).toMatch(/not part of this installation \(the image\)/);
  });

  it('runs as the operator on a read-only root, as uid 65532, until /readyz answers, and stops cleanly', async () => {
    const ns = await freshNamespace('image');
    const [port, metricsPort] = [await freePort(), await freePort()];
    const name = `gotel-operator-${randomBytes(3).toString('hex')}`;
    containers.push(name);
    await podman(
      'run', '--detach', '--name', name,
      '--read-only', '--read-only-tmpfs=false', '--network', 'host', '--ulimit', 'host',
      '--volume', `${join(dir, 'kubeconfig')}:/etc/gotel/kubeconfig:ro`,
      IMAGE, 'operator',
      '--kubeconfig=/etc/gotel/kubeconfig', `--namespaces=${ns}`, `--leader-election-namespace=${ns}`,
      `--listen=127.0.0.1:${port}`, `--metrics-listen=127.0.0.1:${metricsPort}`, '--identity=from-the-image', '--lease-duration=5s',
    );
    await eventually(async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200, 60_000, 'the container\'s /readyz to answer 200');

    const pid = (await podman('inspect', '--format', '{{.State.Pid}}', name)).trim();
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    expect(status).toMatch(/^Uid:\s+65532\s+65532\s+65532\s+65532$/m);
    // It leads: the leader Lease in the apiserver names it, and its metrics say so.
    const lease = await eventually(async () => {
      const l = await rest.request<{ spec: { holderIdentity?: string } }>({ method: 'GET', path: `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/gotel-leader` });
      return l.spec.holderIdentity === 'from-the-image' && l;
    }, 30_000, 'the leader Lease');
    expect(lease.spec.holderIdentity).toBe('from-the-image');
    await eventually(async () => /^gotel_leader 1$/m.test(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()), 20_000, 'gotel_leader 1');

    await podman('stop', '--time', '20', name);
    expect((await podman('inspect', '--format', '{{.State.ExitCode}}', name)).trim()).toBe('0');
    const released = await rest.request<{ spec: { holderIdentity?: string } }>({ method: 'GET', path: `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/gotel-leader` });
    expect(released.spec.holderIdentity ?? '').not.toBe('from-the-image');
  });
});
