// The Reservation CRD against a real kube-apiserver: it installs and is established, the examples
// apply, the apiserver rejects invalid Reservations with messages that name the field, and kubectl
// shows the printer columns and the field descriptions.
import { ApiextensionsV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION, type ReservationSpec } from '../../src/api/reservation.ts';
import { applyObjects, readManifestDir } from '../../src/k8s/apply.ts';
import { apiErrorMessage, clients, freshNamespace, kubeConfig } from './helpers.ts';

const run = promisify(execFile);
const kc = kubeConfig();
const { custom } = clients(kc);
let namespace: string;
let kubeconfigDir: string;
let kubeconfigPath: string;

beforeAll(async () => {
  namespace = await freshNamespace('crd');
  kubeconfigDir = await mkdtemp(join(tmpdir(), 'gotel-test-kubeconfig-'));
  kubeconfigPath = join(kubeconfigDir, 'config');
  await writeFile(kubeconfigPath, inject('kubeconfig'));
});
afterAll(async () => {
  await rm(kubeconfigDir, { recursive: true, force: true });
});

function kubectl(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(inject('assets').kubectl, ['--kubeconfig', kubeconfigPath, ...args]);
}

async function createReservation(name: string, spec: Partial<ReservationSpec> & Record<string, unknown>): Promise<unknown> {
  return custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: PLURAL,
    body: { apiVersion: API_VERSION, kind: KIND, metadata: { name }, spec },
  });
}

/** Creates the Reservation, expecting the apiserver to refuse it; returns the refusal's message. */
async function rejection(spec: Record<string, unknown>): Promise<string> {
  const name = `invalid-${Math.random().toString(36).slice(2, 8)}`;
  try {
    await createReservation(name, spec);
  } catch (err) {
    expect((err as { code?: number }).code).toBe(422);
    return apiErrorMessage(err);
  }
  throw new Error(`the apiserver accepted an invalid Reservation: ${JSON.stringify(spec)}`);
}

describe('the Reservation CRD', () => {
  it('is installed and Established with its names', async () => {
    const crd = await kc.makeApiClient(ApiextensionsV1Api).readCustomResourceDefinition({ name: `${PLURAL}.${GROUP}` });
    expect(crd.status?.conditions?.find((c) => c.type === 'Established')?.status).toBe('True');
    expect(crd.spec.names.shortNames).toEqual(['rsv']);
    expect(crd.spec.names.categories).toEqual(['gotel']);
    expect(crd.spec.versions.map((v) => v.name)).toEqual(['v1alpha1']);
  });

  it('accepts every example in examples/', async () => {
    const examplesDir = fileURLToPath(new URL('../../examples/', import.meta.url));
    const objects = await readManifestDir(examplesDir);
    const reservations = objects.filter((o) => o.kind === KIND);
    expect(reservations.length).toBeGreaterThanOrEqual(3);
    await applyObjects(kc, objects, namespace);
    const list = (await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL })) as {
      items: { metadata: { name: string }; spec: ReservationSpec }[];
    };
    const names = list.items.map((i) => i.metadata.name);
    for (const r of reservations) expect(names).toContain(r.metadata!.name);
    const backup = list.items.find((i) => i.metadata.name === 'nightly-backup');
    expect(backup?.spec.timeZone).toBe('Europe/Berlin');
  });

  it('accepts a Reservation that follows a CronJob with neither schedule nor every', async () => {
    await createReservation('follows-cronjob', { jobRef: { kind: 'CronJob', name: 'some-cronjob' } });
  });

  it.each([
    ['both schedule and every', { schedule: '0 2 * * *', every: '5m' }, /spec\.schedule and spec\.every are mutually exclusive/],
    ['neither schedule nor every', { grace: '5m' }, /one of spec\.schedule or spec\.every is required/],
    ['neither, with a Job (not a CronJob) jobRef', { jobRef: { kind: 'Job', name: 'once' } }, /one of spec\.schedule or spec\.every is required/],
    ['a negative duration', { every: '5m', grace: '-5m' }, /spec\.grace: Invalid value.*must be a positive duration/],
    ['a zero-length duration', { every: '5m', maxRuntime: '0s' }, /spec\.maxRuntime: Invalid value.*must be a positive duration/],
    ['an empty duration', { every: '', grace: '1m' }, /spec\.every: Invalid value.*must be a positive duration/],
    ['a malformed duration', { every: '5m', maxRuntime: '5 minutes' }, /spec\.maxRuntime: Invalid value.*must be a positive duration/],
    ['a renotifyInterval under a minute', { every: '5m', renotifyInterval: '30s' }, /spec\.renotifyInterval: Invalid value.*must be at least 1m/],
    ['an every under a second', { every: '500ms' }, /spec\.every: Invalid value.*must be at least 1s/],
    ['a duration in days', { every: '1d' }, /spec\.every: Invalid value.*must be a positive duration/],
    ['minRuntime equal to maxRuntime', { every: '1h', minRuntime: '10m', maxRuntime: '10m' }, /spec\.minRuntime must be less than spec\.maxRuntime/],
    ['minRuntime above maxRuntime', { every: '1h', minRuntime: '1h', maxRuntime: '90s' }, /spec\.minRuntime must be less than spec\.maxRuntime/],
    ['a failureThreshold of 0', { every: '5m', failureThreshold: 0 }, /spec\.failureThreshold: Invalid value: 0/],
    ['a recoveryThreshold of 0', { every: '5m', recoveryThreshold: 0 }, /spec\.recoveryThreshold: Invalid value: 0/],
    ['a malformed time zone', { schedule: '0 2 * * *', timeZone: 'Europe Berlin' }, /spec\.timeZone: Invalid value.*IANA time zone/],
    ['a path-like time zone', { schedule: '0 2 * * *', timeZone: '../etc/passwd' }, /spec\.timeZone: Invalid value.*IANA time zone/],
    ['a malformed snoozeUntil', { every: '5m', snoozeUntil: 'tomorrow morning' }, /spec\.snoozeUntil: Invalid value.*date-time/],
    ['a schedule with six fields', { schedule: '0 0 2 * * *' }, /spec\.schedule: Invalid value.*5 fields/],
    ['a schedule in prose', { schedule: 'every night' }, /spec\.schedule: Invalid value.*5 fields/],
    [
      'a receiver that is both slack and webhook',
      { every: '5m', notify: [{ slack: { urlSecretRef: { name: 's' } }, webhook: { urlSecretRef: { name: 'w' } } }] },
      /spec\.notify\[0\]: Invalid value.*exactly one of slack, webhook, pagerduty or email/,
    ],
    [
      'a receiver that is both pagerduty and email',
      { every: '5m', notify: [{ pagerduty: { routingKeySecretRef: { name: 'pd' } }, email: { to: ['a@example.com'] } }] },
      /spec\.notify\[0\]: Invalid value.*exactly one of slack, webhook, pagerduty or email/,
    ],
    ['a receiver that is nothing', { every: '5m', notify: [{ name: 'x' }] }, /spec\.notify\[0\]: Invalid value.*exactly one of slack, webhook, pagerduty or email/],
    ['a pagerduty receiver without its Secret', { every: '5m', notify: [{ pagerduty: {} }] }, /spec\.notify\[0\]\.pagerduty\.routingKeySecretRef: Required value/],
    ['an email receiver with no address', { every: '5m', notify: [{ email: { to: [] } }] }, /spec\.notify\[0\]\.email\.to.*at least 1 items/],
    ['an email address that is not one', { every: '5m', notify: [{ email: { to: ['data team'] } }] }, /spec\.notify\[0\]\.email\.to\[0\]: Invalid value.*must be an e-mail address/],
    ['the same address twice', { every: '5m', notify: [{ email: { to: ['a@example.com', 'a@example.com'] } }] }, /spec\.notify\[0\]\.email\.to\[1\]: Duplicate value/],
    ['a jobRef of an unknown kind', { every: '5m', jobRef: { kind: 'Deployment', name: 'web' } }, /spec\.jobRef\.kind: Unsupported value: "Deployment"/],
    ['a maintenance window without a duration', { every: '5m', maintenanceWindows: [{ schedule: '0 1 * * 0' }] }, /spec\.maintenanceWindows\[0\]\.duration: Required value/],
  ])('rejects %s, naming the field', async (_what, spec, expected) => {
    expect(await rejection(spec)).toMatch(expected);
  });

  it('shows state, last check-in and next deadline in `kubectl get rsv`', async () => {
    await createReservation('printed', { schedule: '*/5 * * * *', grace: '1m' });
    const lastCheckin = new Date(Date.now() - 30 * 60_000).toISOString().replace(/\.\d+Z$/, 'Z');
    await custom.patchNamespacedCustomObjectStatus(
      {
        group: GROUP,
        version: VERSION,
        namespace,
        plural: PLURAL,
        name: 'printed',
        body: { status: { state: 'Healthy', lastCheckin: { time: lastCheckin, signal: 'success' }, deadline: '2030-01-01T00:06:00Z', schedule: '*/5 * * * *' } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const { stdout } = await kubectl('get', 'rsv', 'printed', '-n', namespace);
    const [header, row] = stdout.trim().split('\n');
    expect(header!.split(/\s{2,}/)).toEqual(['NAME', 'STATE', 'LAST CHECK-IN', 'NEXT DEADLINE', 'AGE']);
    const [name, state, ago, deadline] = row!.split(/\s{2,}/);
    expect([name, state, deadline]).toEqual(['printed', 'Healthy', '2030-01-01T00:06:00Z']);
    // kubectl shows a date column as an age: 30 minutes ago is "30m" (31m if a minute passed).
    expect(ago).toMatch(/^3[01]m$/);

    const wide = await kubectl('get', 'gotel', '-n', namespace, '-o', 'wide');
    expect(wide.stdout).toMatch(/SCHEDULE\s+AGE/);
    expect(wide.stdout).toMatch(/printed\s+Healthy.*\*\/5 \* \* \* \*/);
  });

  it('teaches the fields through `kubectl explain`', async () => {
    const grace = await kubectl('explain', 'reservation.spec.grace');
    expect(grace.stdout).toMatch(/How late a run may start or check in/);
    const spec = await kubectl('explain', 'rsv.spec');
    for (const field of ['schedule', 'every', 'timeZone', 'maxRuntime', 'minRuntime', 'failureThreshold', 'notify', 'jobRef', 'snoozeUntil']) {
      expect(spec.stdout).toContain(field);
    }
    const pagerduty = await kubectl('explain', 'reservation.spec.notify.pagerduty');
    expect(pagerduty.stdout).toMatch(/dedup_key\s+gotel\/<cluster>\/<namespace>\/<name>/);
    const email = await kubectl('explain', 'reservation.spec.notify.email.to');
    expect(email.stdout).toMatch(/e-mail\s+addresses\s+such\s+as\s+team@example\.com/);
    const status = await kubectl('explain', 'reservation.status.alert.outbox');
    expect(status.stdout).toMatch(/recorded before it is sent/);
  });
});
