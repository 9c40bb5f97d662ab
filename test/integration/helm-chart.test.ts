// The Helm chart installs on a real apiserver: the operator's Deployment, ServiceAccount, RBAC and
// Service are created with the values given (no kubelet runs here, so no pod starts).
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { freshNamespace } from './helpers.ts';
import { rest } from './operator-harness.ts';

const run = promisify(execFile);
const CHART = fileURLToPath(new URL('../../charts/gotel', import.meta.url));
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gotel-helm-'));
  await writeFile(join(dir, 'kubeconfig'), inject('kubeconfig'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Deployment {
  spec: { replicas: number; template: { spec: { serviceAccountName: string; containers: { args: string[]; env: { name: string; value?: string }[] }[] } } };
}

it('helm install creates the operator with the values given', async () => {
  const ns = await freshNamespace('helm');
  const env = { ...process.env, HELM_CACHE_HOME: join(dir, 'cache'), HELM_CONFIG_HOME: join(dir, 'config'), HELM_DATA_HOME: join(dir, 'data') };
  const { stdout } = await run(
    inject('assets').helm,
    ['install', 'gotel', CHART, '--kubeconfig', join(dir, 'kubeconfig'), '--namespace', ns, '--set', 'slack.webhookSecret.name=gotel-slack', '--set', 'watchNamespaces={team-a,team-b}', '--set', 'replicaCount=3'],
    { env },
  );
  expect(stdout).toMatch(/STATUS: deployed/);
  const deployment = await rest.request<Deployment>({ method: 'GET', path: `/apis/apps/v1/namespaces/${ns}/deployments/gotel` });
  expect(deployment.spec.replicas).toBe(3);
  const pod = deployment.spec.template.spec;
  expect(pod.serviceAccountName).toBe('gotel');
  expect(pod.containers[0]!.args).toEqual(['operator']);
  const envs = Object.fromEntries(pod.containers[0]!.env.map((e) => [e.name, e.value]));
  expect(envs.GOTEL_SLACK_WEBHOOK_URL).toBe(`${ns}/gotel-slack#url`);
  expect(envs.GOTEL_NAMESPACES).toBe('team-a,team-b');
  const role = await rest.request<{ rules: { resources: string[]; verbs: string[] }[] }>({ method: 'GET', path: '/apis/rbac.authorization.k8s.io/v1/clusterroles/gotel' });
  expect(role.rules.find((r) => r.resources.includes('reservations/status'))?.verbs).toContain('patch');
  await rest.request({ method: 'GET', path: `/api/v1/namespaces/${ns}/services/gotel` });
  await rest.request({ method: 'GET', path: `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles/gotel-leader` });
});
