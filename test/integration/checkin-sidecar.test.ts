// `gotel sidecar` as it runs in a CronJob's pod: it watches its own Pod through the apiserver and
// checks in the main container's start and exit code. No kubelet runs here, so the test writes
// the Pod's container statuses through the API the way the kubelet would.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KubeRest } from '../../src/k8s/rest.ts';
import { createReservation, getReservation, grant, serviceAccountToken, startCheckinServer, type CheckinServer } from './checkin-helpers.ts';
import { eventually, freshNamespace, kubeConfig } from './helpers.ts';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const kc = kubeConfig();
const admin = new KubeRest(kc);
let ns: string;
let server: CheckinServer;
let dir: string;
let kubeconfigPath: string;
let token: string;

beforeAll(async () => {
  ns = await freshNamespace('checkin-sidecar');
  server = await startCheckinServer(kc, { rateLimit: false });
  dir = await mkdtemp(join(tmpdir(), 'gotel-sidecar-test-'));
  kubeconfigPath = join(dir, 'kubeconfig');
  await writeFile(kubeconfigPath, inject('kubeconfig'));
  token = await serviceAccountToken(admin, ns, 'report');
  await grant(admin, ns, 'report', ['checkin'], ['report']);
  await createReservation(admin, ns, 'report', { every: '1h' });
});
afterAll(async () => {
  await server.close();
  admin.close();
  await rm(dir, { recursive: true, force: true });
});

const podPath = (name = '') => `/api/v1/namespaces/${ns}/pods${name ? `/${name}` : ''}`;

async function containerStatus(pod: string, phase: string, state: Record<string, unknown>, restartCount = 0): Promise<void> {
  await admin.request({
    method: 'PATCH',
    path: `${podPath(pod)}/status`,
    contentType: 'application/merge-patch+json',
    body: { status: { phase, containerStatuses: [{ name: 'main', image: 'busybox', imageID: '', ready: phase === 'Running', started: phase === 'Running', restartCount, state }] } },
  });
}

function startSidecar(pod: string): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [MAIN, 'sidecar', '--kubeconfig', kubeconfigPath], {
    env: { PATH: process.env.PATH ?? '', POD_NAME: pod, POD_NAMESPACE: ns, GOTEL_RESERVATION: 'report', GOTEL_URL: server.url, GOTEL_TOKEN: token },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  return { child, output: () => out };
}

describe('gotel sidecar', () => {
  it("reports the main container's start and its exit code, then exits cleanly on SIGTERM", async () => {
    const pod = await admin.request<{ metadata: { uid: string } }>({
      method: 'POST',
      path: podPath(),
      body: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'report-29000000-abcde' },
        spec: {
          restartPolicy: 'Never',
          initContainers: [{ name: 'gotel', image: 'gotel', args: ['sidecar'], restartPolicy: 'Always' }],
          containers: [{ name: 'main', image: 'busybox', command: ['sh', '-c', 'exit 3'] }],
        },
      },
    });
    const runId = `${pod.metadata.uid}-0`;
    const sidecar = startSidecar('report-29000000-abcde');
    try {
      const startedAt = new Date(Date.now() - 5_000).toISOString().replace(/\.\d+Z$/, 'Z');
      await containerStatus('report-29000000-abcde', 'Running', { running: { startedAt } });
      await eventually(async () => (await getReservation(admin, ns, 'report')).status?.running?.some((r) => r.runId === runId), 20_000, `start check-in\n${sidecar.output()}`);

      const finishedAt = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      await containerStatus('report-29000000-abcde', 'Failed', { terminated: { exitCode: 3, reason: 'Error', startedAt, finishedAt } });
      const res = await eventually(async () => {
        const r = await getReservation(admin, ns, 'report');
        return r.status?.lastCheckin?.signal === 'fail' ? r : undefined;
      }, 20_000, 'end check-in');
      expect(res.status?.lastCheckin).toMatchObject({ signal: 'fail', exitCode: 3, runId, source: 'sidecar', message: 'container main Error' });
      expect(res.status?.lastCheckin?.durationSeconds).toBeGreaterThanOrEqual(4);
      expect(res.status?.state).toBe('Failed');
      expect(res.status?.checkins).toBe(2);
    } finally {
      sidecar.child.kill('SIGTERM');
    }
    const code = await new Promise<number | null>((r) => sidecar.child.on('close', (c) => r(c)));
    expect(code).toBe(0);
    expect(sidecar.output()).toContain('checked in exit code 3');
  });
});
