// Configuration errors are loud: a Peer whose Secret or key is missing, whose kubeconfig does not
// parse, or whose cluster answers 403 on the Lease gets Ready=False naming the problem and an
// Event, while the other Peers and the Reservations keep being judged. Invalid specs are rejected
// at apply, naming the field; a bad --heartbeat-url stops start-up.
import { KubeConfig } from '@kubernetes/client-node';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import type { Peer } from '../../src/api/peer.ts';
import { startSlackReceiver, type SlackReceiver } from '../../src/dev/slack-receiver.ts';
import { peerPath } from '../../src/ha/peer-watch.ts';
import { KubeApiError } from '../../src/k8s/rest.ts';
import type { Operator } from '../../src/operator/operator.ts';
import { eventually, freshNamespace } from './helpers.ts';
import { createReservation, startOperator } from './operator-harness.ts';
import { createPeer, getPeer, peerEvents, type Cluster } from './peer-harness.ts';
import { rest } from './operator-harness.ts';

let ns: string;
let slack: SlackReceiver;
let operator: Operator;
const home: Cluster = { name: 'a', kubeconfig: inject('kubeconfig'), kubeconfigPath: '', rest };

/** A kubeconfig for the suite's cluster as a ServiceAccount that RBAC grants nothing. */
async function unprivilegedKubeconfig(namespace: string): Promise<string> {
  await rest.request({ method: 'POST', path: `/api/v1/namespaces/${namespace}/serviceaccounts`, body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'nobody' } } });
  const tr = await rest.request<{ status: { token: string } }>({
    method: 'POST',
    path: `/api/v1/namespaces/${namespace}/serviceaccounts/nobody/token`,
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
  });
  const kc = new KubeConfig();
  kc.loadFromString(inject('kubeconfig'));
  const cluster = kc.getCurrentCluster()!;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server: cluster.server, 'certificate-authority-data': cluster.caData } }],
    users: [{ name: 'nobody', user: { token: tr.status.token } }],
    contexts: [{ name: 'c', context: { cluster: 'c', user: 'nobody' } }],
    'current-context': 'c',
  });
}

const ready = async (name: string, namespace = ns): Promise<Peer['status'] | undefined> => (await getPeer(home, namespace, name)).status;

beforeAll(async () => {
  ns = await freshNamespace('peercfg');
  slack = await startSlackReceiver();
  operator = await startOperator(ns, { clusterName: 'home', slackWebhookUrl: slack.url });
});

afterAll(async () => {
  await operator?.stop();
  await slack?.close();
});

describe('Peer configuration errors', () => {
  it('marks each broken Peer Ready=False with a message and an Event, and keeps judging the rest', async () => {
    await rest.request({ method: 'POST', path: `/apis/gotel.io/v1alpha1/namespaces/${ns}/peers`, body: { apiVersion: 'gotel.io/v1alpha1', kind: 'Peer', metadata: { name: 'no-secret' }, spec: { kubeconfigSecretRef: { name: 'missing' }, timeout: '5s' } } });
    await createPeer(home, ns, 'no-key', 'ignored', { kubeconfigSecretRef: { name: 'no-key-kubeconfig', key: 'config' } });
    await createPeer(home, ns, 'garbage', 'clusters: [this is not: a kubeconfig');
    await createPeer(home, ns, 'forbidden', await unprivilegedKubeconfig(ns));
    // GoTel watching its own heartbeat Lease: a working Peer beside the broken ones.
    await createPeer(home, ns, 'self', inject('kubeconfig'), { timeout: '5s' });
    await createReservation(ns, 'nightly', { every: '2s', grace: '1s' });

    const expected: [string, string, string][] = [
      ['no-secret', 'SecretNotFound', `Secret ${ns}/missing (spec.kubeconfigSecretRef) not found`],
      ['no-key', 'SecretKeyNotFound', 'has no key "config" (it has: kubeconfig)'],
      ['garbage', 'KubeconfigInvalid', 'does not hold a kubeconfig'],
      ['forbidden', 'Forbidden', 'refuses to show Lease'],
    ];
    for (const [name, reason, message] of expected) {
      const st = await eventually(async () => {
        const s = await ready(name);
        return s?.conditions?.find((c) => c.type === 'Ready' && c.status === 'False') ? s : undefined;
      }, 20_000, `${name} Ready=False`);
      const condition = st.conditions!.find((c) => c.type === 'Ready')!;
      expect(condition.reason).toBe(reason);
      expect(condition.message).toContain(message);
      const events = await eventually(async () => {
        const e = await peerEvents(home, ns, name);
        return e.length > 0 ? e : undefined;
      }, 10_000, `an Event on ${name}`);
      expect(events[0]).toMatchObject({ type: 'Warning', reason });
    }
    const self = await eventually(async () => ((await ready('self'))?.state === 'Up' ? ready('self') : undefined), 20_000, 'the working Peer Up');
    expect(self?.peerClusterName).toBe('home');
    // The Reservation beside them is judged and alerted as usual.
    const [alert] = await slack.waitFor(1, { timeoutMs: 20_000 });
    expect(JSON.stringify(alert!.body)).toContain(`${ns}/nightly`);
  });

  it('exports gotel_peer_up and gotel_peer_last_seen_seconds per Peer', async () => {
    const metrics = await eventually(async () => {
      const text = await (await fetch(`${operator.metricsUrl}/metrics`)).text();
      return text.includes('gotel_peer_up{peer="self"} 1') ? text : undefined;
    }, 10_000, 'the metrics');
    expect(metrics).toContain('gotel_peer_up{peer="no-secret"} 0');
    expect(metrics).toMatch(/gotel_peer_last_seen_seconds\{peer="self"\} \d/);
    expect(metrics).toContain('# TYPE gotel_heartbeat_pings_total counter');
  });

  it('reads Peers only from GoTel\'s own namespace', async () => {
    const tenant = await freshNamespace('tenant');
    await createPeer(home, tenant, 'sneaky', inject('kubeconfig'), { timeout: '5s' });
    await eventually(async () => ((await ready('self'))?.lastSeenTime ? true : undefined), 10_000, 'the home Peer judged');
    const seen = (await ready('self'))!.lastSeenTime!;
    await eventually(async () => ((await ready('self'))!.lastSeenTime! > seen ? true : undefined), 10_000, 'another poll of the home Peer');
    expect(await ready('sneaky', tenant)).toBeUndefined();
  });

  it('documents every spec field in `kubectl explain peer.spec`', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gotel-explain-'));
    try {
      await writeFile(join(dir, 'kubeconfig'), inject('kubeconfig'));
      const { stdout } = await promisify(execFile)(inject('assets').kubectl, [`--kubeconfig=${join(dir, 'kubeconfig')}`, 'explain', 'peer.spec']);
      for (const field of ['kubeconfigSecretRef', 'namespace', 'timeout', 'notify', 'renotifyInterval', 'suspend', 'takeover']) expect(stdout).toMatch(new RegExp(`^\\s+${field}\\s+<`, 'm'));
      expect(stdout.replace(/\s+/g, ' ')).toContain('measured on this GoTel\'s clock');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.each([
    [{ timeout: 'soon' }, 'spec.timeout'],
    [{ timeout: '500ms' }, 'must be at least 1s'],
    [{ renotifyInterval: '10s' }, 'must be at least 1m'],
    [{ namespace: 'Not_A_Namespace' }, 'spec.namespace'],
    [{ kubeconfigSecretRef: undefined }, 'spec.kubeconfigSecretRef: Required value'],
  ])('rejects an invalid spec at apply: %j', async (change, message) => {
    const spec = { kubeconfigSecretRef: { name: 'x' }, ...change };
    const err = await rest.request({ method: 'POST', path: peerPath(ns), body: { apiVersion: 'gotel.io/v1alpha1', kind: 'Peer', metadata: { name: 'invalid' }, spec } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect((err as KubeApiError).code).toBe(422);
    expect((err as KubeApiError).message).toContain(message);
  });

  it.each([
    ['--heartbeat-url=ftp://example.invalid/ping', '--heartbeat-url: "ftp://example.invalid/ping" is not an http(s) URL'],
    ['--heartbeat-interval=soon', '--heartbeat-interval: "soon" is not a duration'],
  ])('refuses to start with %s', async (flag, message) => {
    const dir = await mkdtemp(join(tmpdir(), 'gotel-hb-'));
    try {
      await writeFile(join(dir, 'kubeconfig'), inject('kubeconfig'));
      const child = spawn(process.execPath, [fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url)), 'operator', `--kubeconfig=${join(dir, 'kubeconfig')}`, '--listen=127.0.0.1:0', '--metrics-listen=127.0.0.1:0', `--leader-election-namespace=${ns}`, flag], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const [code] = (await once(child, 'exit')) as [number];
      expect(code).toBe(2);
      expect(stderr).toContain(message);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
