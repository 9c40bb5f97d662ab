// `gotel snooze`, `gotel suspend` and `gotel resume` as a person runs them: with their own
// kubeconfig, against the test apiserver, and refused what their RBAC does not allow.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject, afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { KubeRest } from '../../src/k8s/rest.ts';
import { createReservation, getReservation, serviceAccountToken } from './checkin-helpers.ts';
import { freshNamespace, kubeConfig } from './helpers.ts';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const kc = kubeConfig();
const admin = new KubeRest(kc);
let ns: string;
let dir: string;
let adminConfig: string;
let viewerConfig: string;

function gotel(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH ?? '', HOME: dir, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A kubeconfig for the suite's cluster as a ServiceAccount, with `namespace` as its context's default. */
function tokenKubeconfig(token: string, namespace: string): string {
  const cluster = kc.getCurrentCluster()!;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'suite', cluster: { server: cluster.server, ...(cluster.caData ? { 'certificate-authority-data': cluster.caData } : {}), ...(cluster.caFile ? { 'certificate-authority': cluster.caFile } : {}) } }],
    users: [{ name: 'viewer', user: { token } }],
    contexts: [{ name: 'viewer', context: { cluster: 'suite', user: 'viewer', namespace } }],
    'current-context': 'viewer',
  });
}

beforeAll(async () => {
  ns = await freshNamespace('cli-people');
  dir = mkdtempSync(join(tmpdir(), 'gotel-cli-people-'));
  adminConfig = join(dir, 'admin.yaml');
  writeFileSync(adminConfig, inject('kubeconfig'));
  // May read Reservations, not change them.
  const token = await serviceAccountToken(admin, ns, 'viewer');
  await admin.request({
    method: 'POST',
    path: `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`,
    body: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'viewer' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
      subjects: [{ kind: 'ServiceAccount', name: 'viewer', namespace: ns }],
    },
  });
  viewerConfig = join(dir, 'viewer.yaml');
  writeFileSync(viewerConfig, tokenKubeconfig(token, ns));
});
afterAll(() => {
  admin.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('gotel snooze', () => {
  it('--for 2h sets spec.snoozeUntil with the kubeconfig\'s credentials; --clear removes it', async () => {
    await createReservation(admin, ns, 'backup', { every: '5m' });
    const before = Date.now();
    const r = await gotel(['snooze', `${ns}/backup`, '--for', '2h', '--kubeconfig', adminConfig]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const spec = (await getReservation(admin, ns, 'backup')).spec;
    expect(r.stdout).toBe(`${ns}/backup: snoozed until ${spec.snoozeUntil}\n`);
    expect(Date.parse(spec.snoozeUntil!)).toBeGreaterThanOrEqual(before + 7_200_000);
    expect(Date.parse(spec.snoozeUntil!)).toBeLessThanOrEqual(Date.now() + 7_201_000);

    const cleared = await gotel(['snooze', `${ns}/backup`, '--clear'], { KUBECONFIG: adminConfig });
    expect(cleared).toMatchObject({ code: 0, stdout: `${ns}/backup: snooze cleared\n` });
    expect((await getReservation(admin, ns, 'backup')).spec?.snoozeUntil).toBeUndefined();
  });

  it('exits 2 on a bad duration and 1 when the Reservation does not exist', async () => {
    const bad = await gotel(['snooze', `${ns}/backup`, '--for', '1d', '--kubeconfig', adminConfig]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('Go durations have no days');
    const none = await gotel(['snooze', `${ns}/ghost`, '--for', '1h', '--kubeconfig', adminConfig]);
    expect(none.code).toBe(1);
    expect(none.stderr).toBe(`gotel snooze: Reservation ${ns}/ghost not found\n`);
  });
});

describe('gotel suspend and resume', () => {
  it('set and remove spec.suspend', async () => {
    await createReservation(admin, ns, 'report', { every: '1h' });
    const s = await gotel(['suspend', `${ns}/report`], { KUBECONFIG: adminConfig });
    expect(s.code).toBe(0);
    expect(s.stdout).toContain(`${ns}/report: suspended`);
    expect((await getReservation(admin, ns, 'report')).spec?.suspend).toBe(true);
    const r = await gotel(['resume', `${ns}/report`, '--kubeconfig', adminConfig]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${ns}/report: resumed`);
    expect((await getReservation(admin, ns, 'report')).spec?.suspend).toBeUndefined();
  });

  it('are refused (exit 1, the apiserver\'s reason) to someone who may only view, and change nothing', async () => {
    await createReservation(admin, ns, 'guarded', { every: '1h' });
    const s = await gotel(['suspend', 'guarded', '--kubeconfig', viewerConfig]);
    expect(s.code).toBe(1);
    expect(s.stderr).toMatch(/^gotel suspend: Forbidden: .*system:serviceaccount:.*:viewer.* cannot patch resource "reservations"/);
    // A bare NAME is in the kubeconfig context's namespace.
    expect(s.stderr).toContain(`in the namespace "${ns}"`);
    const z = await gotel(['snooze', 'guarded', '--for', '1h', '--kubeconfig', viewerConfig]);
    expect(z.code).toBe(1);
    expect(z.stderr).toContain('Forbidden');
    const spec = (await getReservation(admin, ns, 'guarded')).spec;
    expect(spec.suspend).toBeUndefined();
    expect(spec.snoozeUntil).toBeUndefined();
  });
});
