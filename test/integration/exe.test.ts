// The single executable (npm run build:exe -> dist/gotel-linux-x64) on a machine without Node:
// as root, a root directory holding only the executable (at /gotel/gotel, where the image ships
// it) and the shared libraries `ldd` lists, entered with chroot: no Node, no shell, no PATH. It
// checks in to a check-in server on the test apiserver, and the check-ins must land in the
// Reservation's status. Not root: a copy outside the repository with an empty PATH instead.
//
// Cost: the build takes ~15-40 s on 2 cores (esbuild, the SEA blob, postject on a 108 MiB
// binary); a build whose inputs have not changed is reused in well under a second.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KubeRest } from '../../src/k8s/rest.ts';
import { createReservation, getReservation, grant, serviceAccountToken, startCheckinServer, type CheckinServer } from './checkin-helpers.ts';
import { eventually, freshNamespace, kubeConfig } from './helpers.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EXE = join(ROOT, 'dist/gotel-linux-x64');
const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
const kc = kubeConfig();
const admin = new KubeRest(kc);
let ns: string;
let server: CheckinServer;
let token: string;
let machine: string;
/** How to start the executable on the Node-less machine, and its path there. */
let launch: { command: string; prefix: string[]; self: string; tools: string; kubeconfig: string };

/** A root with the executable and its shared libraries only, or (not root) a lone copy. */
function nodelessMachine(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gotel-exe-test-'));
  const self = join(dir, 'gotel', 'gotel');
  mkdirSync(dirname(self), { recursive: true });
  copyFileSync(EXE, self);
  chmodSync(self, 0o755);
  mkdirSync(join(dir, 'tools'));
  writeFileSync(join(dir, 'kubeconfig'), inject('kubeconfig'));
  if (process.getuid?.() === 0) {
    const libs = execFileSync('ldd', [EXE], { encoding: 'utf8' }).match(/\/\S+/g) ?? [];
    for (const lib of libs) {
      mkdirSync(join(dir, dirname(lib)), { recursive: true });
      copyFileSync(lib, join(dir, lib));
    }
    launch = { command: '/usr/sbin/chroot', prefix: [dir, '/gotel/gotel'], self: '/gotel/gotel', tools: '/tools', kubeconfig: '/kubeconfig' };
  } else {
    launch = { command: self, prefix: [], self, tools: join(dir, 'tools'), kubeconfig: join(dir, 'kubeconfig') };
  }
  return dir;
}

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function gotel(args: string[], env: Record<string, string> = {}, started?: (child: ChildProcess) => void): Promise<Ran> {
  return new Promise((resolve, reject) => {
    // No PATH, no HOME, nothing inherited: whatever the executable needs, it brings.
    const child = spawn(launch.command, [...launch.prefix, ...args], { env: { PATH: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    started?.(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  const built = spawnSync(process.execPath, [join(ROOT, 'scripts/build-exe.ts')], { cwd: ROOT, encoding: 'utf8' });
  expect(built.status, built.stderr).toBe(0);
  process.stderr.write(`[exe] ${built.stderr.trim().split('\n').pop()}\n`);
  machine = nodelessMachine();
  ns = await freshNamespace('exe');
  server = await startCheckinServer(kc, { rateLimit: false });
  token = await serviceAccountToken(admin, ns, 'job');
  await grant(admin, ns, 'job', ['checkin']);
}, 300_000);

afterAll(async () => {
  await server?.close();
  admin.close();
  if (machine) rmSync(machine, { recursive: true, force: true });
});

describe('the single executable, without Node', () => {
  it('really has no Node beside it: there is none on its PATH or in its root', async () => {
    const probe = await gotel(['run', `${ns}/none`, '--', 'node', '--version']);
    expect(probe.code).toBe(127);
    expect(probe.stderr).toContain('cannot run node');
    expect(await gotel(['--version'])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('gotel run checks in start and end, with exit code and output, and exits with the command\'s code', async () => {
    await createReservation(admin, ns, 'wrapped', { every: '5m' });
    const env = { GOTEL_URL: server.url, GOTEL_TOKEN: token };
    // The only program on that machine is the executable itself: it is the job here too.
    const ok = await gotel(['run', `${ns}/wrapped`, '--run-id', 'exe-1', '--', launch.self, 'version'], env);
    expect(ok).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
    let st = (await getReservation(admin, ns, 'wrapped')).status!;
    expect(st.recent?.map((c) => [c.signal, c.runId, c.source])).toEqual([
      ['start', 'exe-1', 'cli'],
      ['success', 'exe-1', 'cli'],
    ]);
    expect(st.lastCheckin).toMatchObject({ exitCode: 0, message: version });
    expect(st.state).toBe('Healthy');

    // A job that fails: the executable refusing a bad flag exits 2.
    const bad = await gotel(['run', `${ns}/wrapped`, '--run-id', 'exe-2', '--', launch.self, 'snooze', 'x/y', '--for', '1d'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('no days');
    st = (await getReservation(admin, ns, 'wrapped')).status!;
    expect(st.lastCheckin).toMatchObject({ signal: 'fail', exitCode: 2, runId: 'exe-2' });
    expect(st.state).toBe('Failed');
  });

  it('gotel install copies the executable (what a CronJob\'s init container does) and the copy runs', async () => {
    const copied = await gotel(['install', launch.tools]);
    expect(copied).toEqual({ code: 0, stdout: `${launch.tools}/gotel\n`, stderr: '' });
    const copy = await gotel(['run', `${ns}/none`, '--', `${launch.tools}/gotel`, '--version']);
    expect(copy.stdout).toBe(`${version}\n`);
    expect(copy.code).toBe(0);
    const nowhere = await gotel(['install', '/no/such/dir']);
    expect(nowhere.code).toBe(1);
    expect(nowhere.stderr).toContain('gotel install: ');
  });

  it('gotel checkin stores one check-in and prints GoTel\'s verdict; a refusal exits 1', async () => {
    await createReservation(admin, ns, 'single', { every: '5m' });
    const r = await gotel(['checkin', `${ns}/single`, '--exit-code', '3', '-m', 'disk full', '--url', server.url, '--token', token]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^${ns}/single: stored; state Failed`));
    expect((await getReservation(admin, ns, 'single')).status?.lastCheckin).toMatchObject({ signal: 'fail', exitCode: 3, message: 'disk full', source: 'cli' });

    const refused = await gotel(['checkin', `${ns}/single`, '--url', server.url, '--token', 'not-a-token', '--retries', '0']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('HTTP 401');
  });

  it('gotel sidecar watches its Pod through the apiserver and checks in the main container\'s start and exit code', async () => {
    await createReservation(admin, ns, 'vacuum', { every: '1h' });
    const podName = 'vacuum-1';
    const pod = await admin.request<{ metadata: { uid: string } }>({
      method: 'POST',
      path: `/api/v1/namespaces/${ns}/pods`,
      body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: podName }, spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'debian' }] } },
    });
    // No kubelet here: the test writes the container's status the way the kubelet would.
    const status = (phase: string, state: Record<string, unknown>) =>
      admin.request({
        method: 'PATCH',
        path: `/api/v1/namespaces/${ns}/pods/${podName}/status`,
        contentType: 'application/merge-patch+json',
        body: { status: { phase, containerStatuses: [{ name: 'main', image: 'debian', imageID: '', ready: false, restartCount: 0, state }] } },
      });
    let child: ChildProcess | undefined;
    const env = { POD_NAME: podName, POD_NAMESPACE: ns, GOTEL_RESERVATION: 'vacuum', GOTEL_URL: server.url, GOTEL_TOKEN: token };
    const done = gotel(['sidecar', '--kubeconfig', launch.kubeconfig], env, (c) => (child = c));
    const startedAt = new Date(Date.now() - 3_000).toISOString().replace(/\.\d+Z$/, 'Z');
    await status('Running', { running: { startedAt } });
    await eventually(async () => (await getReservation(admin, ns, 'vacuum')).status?.running?.length, 20_000, 'the sidecar\'s start check-in');
    await status('Failed', { terminated: { exitCode: 137, reason: 'OOMKilled', startedAt, finishedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z') } });
    const last = await eventually(async () => {
      const c = (await getReservation(admin, ns, 'vacuum')).status?.lastCheckin;
      return c?.signal === 'fail' ? c : undefined;
    }, 20_000, 'the sidecar\'s end check-in');
    expect(last).toMatchObject({ exitCode: 137, runId: `${pod.metadata.uid}-0`, source: 'sidecar', message: 'container main OOMKilled' });
    child!.kill('SIGTERM');
    const ran = await done;
    expect(ran.code).toBe(0);
    expect(ran.stderr).toContain('checked in exit code 137');
  });
});
