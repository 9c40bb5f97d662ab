// The Helm chart, with the helm the project builds, against the suite's real apiserver: lint,
// schema, a server-side dry run of what it renders, and a real install and upgrade, for the
// default values and for ci/full-values.yaml (every feature). No kubelet runs here, so no pod
// starts; the pod template is checked by the apiserver's own admission (restricted Pod Security).
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VERSIONS } from '../../src/dev/assets.ts';
import { freshNamespace } from './helpers.ts';
import { rest } from './operator-harness.ts';
import { CHART, FULL_VALUES, Tools, chartCrdNames, manifests, type Manifest } from './helm-chart-tools.ts';

let tools: Tools;
beforeAll(async () => {
  tools = await Tools.create();
  await tools.prepareCluster();
});
afterAll(async () => {
  await tools.close();
});

interface Container {
  args: string[];
  env: { name: string; value?: string }[];
  ports: { name: string; containerPort: number }[];
  securityContext: Record<string, unknown>;
  readinessProbe?: unknown;
  startupProbe?: unknown;
}
interface PodSpec {
  serviceAccountName: string;
  securityContext: Record<string, unknown>;
  containers: Container[];
  priorityClassName?: string;
  imagePullSecrets?: { name: string }[];
  affinity?: { podAntiAffinity?: Record<string, unknown> };
  topologySpreadConstraints?: { labelSelector?: unknown }[];
}
interface Deployment {
  spec: { replicas: number; template: { metadata: { labels: Record<string, string>; annotations?: Record<string, string> }; spec: PodSpec } };
}

const envOf = (c: Container): Record<string, string | undefined> => Object.fromEntries(c.env.map((e) => [e.name, e.value]));

/** Creates a Pod from the Deployment's template in a namespace that enforces the restricted Pod Security Standard (dry run). */
async function admitsRestricted(template: Deployment['spec']['template']): Promise<void> {
  const ns = await freshNamespace('pss');
  await rest.request({ method: 'PATCH', path: `/api/v1/namespaces/${ns}`, contentType: 'application/merge-patch+json', body: { metadata: { labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } } });
  await rest.request({ method: 'POST', path: `/api/v1/namespaces/${ns}/pods?dryRun=All`, body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'gotel', labels: template.metadata.labels }, spec: template.spec } });
}

describe('the chart renders cleanly', () => {
  it('passes helm lint --strict with the default and the full values', async () => {
    const plain = await tools.helm('lint', '--strict', CHART);
    expect(plain.stdout + plain.stderr).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    expect(plain.code).toBe(0);
    const full = await tools.helm('lint', '--strict', CHART, '-f', FULL_VALUES);
    expect(full.stdout + full.stderr).toMatch(/0 chart\(s\) failed/);
    expect(full.code).toBe(0);
  });

  it('rejects a typo in values, naming it (values.schema.json)', async () => {
    const r = await tools.template('--set', 'replicaCont=3');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/replicaCont/);
    const wrongType = await tools.template('--set', 'podAntiAffinity=sometimes');
    expect(wrongType.code).not.toBe(0);
    expect(wrongType.stderr).toMatch(/podAntiAffinity/);
  });

  it('says what is missing for a Peer without a kubeconfig', async () => {
    const r = await tools.template('--set', 'peers[0].name=lonely');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/peers\[lonely\]: give its kubeconfig inline/);
  });

  it('takes its rules, dashboard and CRDs from the files beside it when they are there', async () => {
    // A copy of the chart with the files other parts of the project write: the rule groups, the
    // dashboard and one more generated CRD.
    const copy = join(tools.dir, 'chart-copy');
    await cp(CHART, copy, { recursive: true });
    await mkdir(join(copy, 'files'), { recursive: true });
    await writeFile(join(copy, 'files', 'prometheus-rules.yaml'), 'groups:\n  - name: from-the-file\n    rules:\n      - alert: GotelTest\n        expr: "gotel_leader == 0"\n        annotations: { summary: "{{ $labels.namespace }} has no leader" }\n');
    await writeFile(join(copy, 'files', 'grafana-dashboard.json'), '{"title": "From the file", "panels": []}\n');
    const crd = (await readFile(join(CHART, 'crds', 'gotel.io_reservations.yaml'), 'utf8')).replace(/reservations\.gotel\.io/g, 'widgets.gotel.io');
    await writeFile(join(copy, 'crds', 'gotel.io_widgets.yaml'), crd);
    const out = await tools.ok(tools.helm('template', 'gotel', copy, '--kube-version', VERSIONS.kubernetes, '--set', 'metrics.prometheusRule.enabled=true', '--set', 'metrics.grafanaDashboard.enabled=true', '--set', 'crds.install=true'));
    const docs = manifests(out);
    const rule = docs.find((d) => d.kind === 'PrometheusRule') as Manifest & { spec: { groups: { name: string; rules: { annotations: { summary: string } }[] }[] } };
    expect(rule.spec.groups.map((g) => g.name)).toEqual(['from-the-file']);
    expect(rule.spec.groups[0]!.rules[0]!.annotations.summary).toBe('{{ $labels.namespace }} has no leader');
    const dashboard = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'gotel-dashboard') as Manifest & { data: Record<string, string> };
    expect(JSON.parse(dashboard.data['gotel.json']!)).toEqual({ title: 'From the file', panels: [] });
    const crds = docs.filter((d) => d.kind === 'CustomResourceDefinition').map((d) => d.metadata.name);
    expect(crds).toEqual(expect.arrayContaining(['reservations.gotel.io', 'widgets.gotel.io']));
  });

  it.each([
    ['default values', []],
    ['the full values', ['-f', FULL_VALUES]],
  ])('is accepted by the apiserver (server-side dry run) with %s', async (_what, args) => {
    const ns = await freshNamespace('helm-dry');
    const rendered = await tools.ok(tools.template('--namespace', ns, ...args));
    expect(manifests(rendered).length).toBeGreaterThan(8);
    // Server-side apply: the CRDs already in the cluster were created without kubectl's
    // last-applied annotation. Every namespaced object names its namespace.
    const applied = await tools.kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=gotel-chart-test', '--dry-run=server', '-f', '-'], rendered);
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);
  });
});

describe('helm install and upgrade with the default values', () => {
  it('creates a restricted, spread, disruption-budgeted operator and upgrades it', async () => {
    const ns = await freshNamespace('helm');
    const install = await tools.ok(tools.helm('install', 'gotel', CHART, '--namespace', ns, '--wait=false'));
    expect(install).toMatch(/STATUS: deployed/);
    // NOTES.txt: how to make the Slack Secret, a first Reservation, a curl check-in.
    expect(install).toMatch(/kubectl -n \S+ create secret generic gotel-slack/);
    expect(install).toMatch(new RegExp(`curl .*http://gotel\\.${ns}\\.svc:8080/checkin/default/heartbeat`));
    try {
      const deployment = await rest.request<Deployment>({ method: 'GET', path: `/apis/apps/v1/namespaces/${ns}/deployments/gotel` });
      expect(deployment.spec.replicas).toBe(2);
      const pod = deployment.spec.template.spec;
      const c = pod.containers[0]!;
      expect(pod.serviceAccountName).toBe('gotel');
      expect(c.args).toEqual(['operator']);
      expect(envOf(c)).toMatchObject({ GOTEL_LISTEN: '0.0.0.0:8080', GOTEL_METRICS_LISTEN: '0.0.0.0:9090', GOTEL_CLIENT_CHECKIN_RATE: '200', GOTEL_CLIENT_CHECKIN_BURST: '1000' });
      expect(c.ports).toEqual(expect.arrayContaining([{ name: 'http', containerPort: 8080, protocol: 'TCP' }, { name: 'metrics', containerPort: 9090, protocol: 'TCP' }]));
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } });
      expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
      expect(pod.affinity?.podAntiAffinity).toHaveProperty('preferredDuringSchedulingIgnoredDuringExecution');
      await admitsRestricted(deployment.spec.template);

      const pdb = await rest.request<{ spec: { maxUnavailable: number } }>({ method: 'GET', path: `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets/gotel` });
      expect(pdb.spec.maxUnavailable).toBe(1);
      const checkins = await rest.request<{ spec: { ports: { name: string; port: number }[] } }>({ method: 'GET', path: `/api/v1/namespaces/${ns}/services/gotel` });
      expect(checkins.spec.ports.map((p) => p.name)).toEqual(['http']);
      const metrics = await rest.request<{ spec: { ports: { name: string; port: number }[] } }>({ method: 'GET', path: `/api/v1/namespaces/${ns}/services/gotel-metrics` });
      expect(metrics.spec.ports).toMatchObject([{ name: 'metrics', port: 9090 }]);
      const checkinRole = await rest.request<{ rules: { verbs: string[] }[] }>({ method: 'GET', path: '/apis/rbac.authorization.k8s.io/v1/clusterroles/gotel-checkin' });
      expect(checkinRole.rules[0]!.verbs).toEqual(['checkin']);
      const edit = await rest.request<{ metadata: { labels: Record<string, string> } }>({ method: 'GET', path: '/apis/rbac.authorization.k8s.io/v1/clusterroles/gotel-edit' });
      expect(edit.metadata.labels['rbac.authorization.k8s.io/aggregate-to-edit']).toBe('true');

      const upgrade = await tools.ok(tools.helm('upgrade', 'gotel', CHART, '--namespace', ns, '--reuse-values', '--set', 'slack.webhookSecret.name=gotel-slack', '--set', 'replicaCount=3'));
      expect(upgrade).toMatch(/REVISION: 2/);
      const after = await rest.request<Deployment>({ method: 'GET', path: `/apis/apps/v1/namespaces/${ns}/deployments/gotel` });
      expect(after.spec.replicas).toBe(3);
      expect(envOf(after.spec.template.spec.containers[0]!).GOTEL_SLACK_WEBHOOK_URL).toBe(`${ns}/gotel-slack#url`);
    } finally {
      await tools.ok(tools.helm('uninstall', 'gotel', '--namespace', ns));
    }
  });
});

describe('helm install and upgrade with every feature (ci/full-values.yaml)', () => {
  it('installs, adopts and upgrades the CRDs, and renders each feature', async () => {
    const ns = await freshNamespace('helm-full');
    await tools.adoptCrds('gotel', ns);
    const install = await tools.ok(tools.helm('install', 'gotel', CHART, '--namespace', ns, '-f', FULL_VALUES));
    expect(install).toMatch(/STATUS: deployed/);
    try {
      const deployment = await rest.request<Deployment>({ method: 'GET', path: `/apis/apps/v1/namespaces/${ns}/deployments/gotel-full` });
      const pod = deployment.spec.template.spec;
      const c = pod.containers[0]!;
      expect(deployment.spec.replicas).toBe(3);
      expect(pod.serviceAccountName).toBe('gotel-operator');
      expect(pod.priorityClassName).toBe('gotel-ci-critical');
      expect(pod.imagePullSecrets).toEqual([{ name: 'regcred' }]);
      expect(pod.affinity?.podAntiAffinity).toHaveProperty('requiredDuringSchedulingIgnoredDuringExecution');
      expect(pod.topologySpreadConstraints?.[0]?.labelSelector).toEqual({ matchLabels: { 'app.kubernetes.io/name': 'gotel', 'app.kubernetes.io/instance': 'gotel' } });
      expect(deployment.spec.template.metadata.annotations).toMatchObject({ 'example.com/team': 'platform' });
      expect(deployment.spec.template.metadata.labels).toMatchObject({ 'example.com/tier': 'monitoring' });
      expect(c.args).toEqual(['operator', '--checkin-status-writes=10']);
      expect(c.startupProbe).toBeUndefined();
      expect(envOf(c)).toMatchObject({
        GOTEL_METRICS_LISTEN: '0.0.0.0:9091',
        GOTEL_NAMESPACES: 'gotel-ci-a,gotel-ci-b',
        GOTEL_SELECTOR: 'gotel.io/shard in (a,b),!gotel.io/excluded',
        GOTEL_HEARTBEAT_URL: 'https://hc-ping.example.com/0000-1111',
        GOTEL_GOTEL_API: 'true',
        GOTEL_GOTEL_API_NAMESPACE: 'gotel-ci-a',
        GOTEL_CLIENT_CHECKIN_RATE: '50',
        GOTEL_CLIENT_CHECKIN_BURST: '500',
        GOTEL_CLUSTER_NAME: 'eu-west',
        GOTEL_SLACK_WEBHOOK_URL: `${ns}/gotel-slack#url`,
        GOTEL_EXAMPLE: '1',
      });
      await admitsRestricted(deployment.spec.template);

      // A Peer per entry; an inline kubeconfig becomes a Secret the Peer names.
      const peer = await rest.request<{ spec: Record<string, unknown> }>({ method: 'GET', path: `/apis/gotel.io/v1alpha1/namespaces/${ns}/peers/us-east` });
      expect(peer.spec).toEqual({ kubeconfigSecretRef: { name: 'gotel-full-peer-us-east', key: 'kubeconfig' }, timeout: '90s', takeover: true, namespace: 'gotel-system' });
      const secret = await rest.request<{ data: { kubeconfig: string } }>({ method: 'GET', path: `/api/v1/namespaces/${ns}/secrets/gotel-full-peer-us-east` });
      expect(Buffer.from(secret.data.kubeconfig, 'base64').toString()).toMatch(/server: "https:\/\/us-east.example.com:6443"/);
      const other = await rest.request<{ spec: Record<string, unknown> }>({ method: 'GET', path: `/apis/gotel.io/v1alpha1/namespaces/${ns}/peers/ap-south` });
      expect(other.spec.kubeconfigSecretRef).toEqual({ name: 'ap-south-kubeconfig', key: 'kubeconfig' });

      const monitor = await rest.request<{ spec: { endpoints: { port: string }[] } }>({ method: 'GET', path: `/apis/monitoring.coreos.com/v1/namespaces/${ns}/servicemonitors/gotel-full` });
      expect(monitor.spec.endpoints[0]!.port).toBe('metrics');
      const rules = await rest.request<{ spec: { groups: { rules: { alert?: string; expr: string }[] }[] } }>({ method: 'GET', path: `/apis/monitoring.coreos.com/v1/namespaces/${ns}/prometheusrules/gotel-full` });
      expect(rules.spec.groups.flatMap((g) => g.rules).length).toBeGreaterThan(0);
      const dashboard = await rest.request<{ metadata: { labels: Record<string, string> }; data: Record<string, string> }>({ method: 'GET', path: `/api/v1/namespaces/${ns}/configmaps/gotel-full-dashboard` });
      expect(dashboard.metadata.labels.grafana_dashboard).toBe('1');
      expect(JSON.parse(dashboard.data['gotel.json']!)).toHaveProperty('panels');

      // crds.install: the CRDs are the release's now, kept on uninstall.
      for (const name of await chartCrdNames()) {
        const crd = await rest.request<Manifest>({ method: 'GET', path: `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}` });
        expect(crd.metadata.annotations).toMatchObject({ 'meta.helm.sh/release-name': 'gotel', 'meta.helm.sh/release-namespace': ns, 'helm.sh/resource-policy': 'keep' });
      }

      const upgrade = await tools.ok(tools.helm('upgrade', 'gotel', CHART, '--namespace', ns, '-f', FULL_VALUES, '--set', 'peers[0].spec.timeout=2m', '--set', 'peers[0].name=us-east'));
      expect(upgrade).toMatch(/REVISION: 2/);
      const upgraded = await rest.request<{ spec: { timeout: string } }>({ method: 'GET', path: `/apis/gotel.io/v1alpha1/namespaces/${ns}/peers/us-east` });
      expect(upgraded.spec.timeout).toBe('2m');
    } finally {
      await tools.ok(tools.helm('uninstall', 'gotel', '--namespace', ns));
    }
    // keep: the CRD (and with it every Reservation) survives the uninstall.
    for (const name of await chartCrdNames()) await rest.request({ method: 'GET', path: `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}` });
  });
});
