// Least privilege: installed by the chart, the operator's ServiceAccount (impersonated with
// `kubectl auth can-i --as`) may do what the operator does and is refused everything else:
// Secrets cluster-wide, Pods, writes it does not need, namespaces it does not watch.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshNamespace } from './helpers.ts';
import { CHART, FULL_VALUES, Tools } from './helm-chart-tools.ts';

let tools: Tools;
beforeAll(async () => {
  tools = await Tools.create();
  await tools.prepareCluster();
});
afterAll(async () => {
  await tools.close();
});

/** Verb, resource, namespace ('*': all namespaces). */
type Check = [verb: string, resource: string, namespace: string];

async function answers(user: string, checks: Check[]): Promise<string[]> {
  const out: string[] = [];
  for (const [verb, resource, ns] of checks) out.push(`${verb} ${resource} in ${ns}: ${(await tools.can(user, verb, resource, ns)) ? 'yes' : 'no'}`);
  return out;
}
const expected = (checks: Check[], answer: 'yes' | 'no'): string[] => checks.map(([v, r, ns]) => `${v} ${r} in ${ns}: ${answer}`);

describe('the operator ServiceAccount the chart creates', () => {
  it('with default values: what the operator needs, cluster-wide reads of Reservations, and nothing more', async () => {
    const ns = await freshNamespace('rbac');
    const tenant = await freshNamespace('rbac-tenant');
    await tools.ok(tools.helm('install', 'gotel', CHART, '--namespace', ns));
    try {
      const sa = `system:serviceaccount:${ns}:gotel`;
      const allowed: Check[] = [
        ['list', 'reservations.gotel.io', '*'],
        ['watch', 'reservations.gotel.io', '*'],
        ['patch', 'reservations.gotel.io/status', tenant],
        ['list', 'cronjobs.batch', '*'],
        ['watch', 'jobs.batch', '*'],
        ['create', 'events', tenant],
        ['get', 'secrets', tenant], // a Secret a Reservation names (spec.notify, check-in token)
        ['create', 'tokenreviews.authentication.k8s.io', '*'],
        ['create', 'subjectaccessreviews.authorization.k8s.io', '*'],
        ['create', 'leases.coordination.k8s.io', ns],
        ['update', 'leases.coordination.k8s.io', ns],
        ['delete', 'leases.coordination.k8s.io', ns],
        ['create', 'configmaps', ns],
        ['delete', 'configmaps', ns],
        ['list', 'peers.gotel.io', ns],
        ['patch', 'peers.gotel.io/status', ns],
      ];
      const refused: Check[] = [
        ['list', 'secrets', '*'],
        ['watch', 'secrets', '*'],
        ['list', 'secrets', tenant],
        ['create', 'secrets', ns],
        ['update', 'secrets', ns],
        ['get', 'pods', ns],
        ['list', 'pods', '*'],
        ['create', 'pods', tenant],
        ['create', 'reservations.gotel.io', tenant],
        ['patch', 'reservations.gotel.io', tenant],
        ['delete', 'reservations.gotel.io', tenant],
        ['create', 'jobs.batch', tenant],
        ['patch', 'cronjobs.batch', tenant],
        ['delete', 'jobs.batch', tenant],
        ['create', 'leases.coordination.k8s.io', tenant],
        ['create', 'configmaps', tenant],
        ['update', 'configmaps', ns],
        ['create', 'peers.gotel.io', ns],
        ['list', 'peers.gotel.io', tenant],
        ['create', 'deployments.apps', ns],
        ['create', 'rolebindings.rbac.authorization.k8s.io', ns],
        ['escalate', 'clusterroles.rbac.authorization.k8s.io', '*'],
        ['create', 'customresourcedefinitions.apiextensions.k8s.io', '*'],
      ];
      expect(await answers(sa, allowed)).toEqual(expected(allowed, 'yes'));
      expect(await answers(sa, refused)).toEqual(expected(refused, 'no'));
    } finally {
      await tools.ok(tools.helm('uninstall', 'gotel', '--namespace', ns));
    }
  });

  it('with watchNamespaces (ci/full-values.yaml): Roles in those namespaces only, and GoTel API writes only in its own', async () => {
    const ns = await freshNamespace('rbac-full');
    const other = await freshNamespace('rbac-other');
    await tools.adoptCrds('gotel', ns);
    await tools.ok(tools.helm('install', 'gotel', CHART, '--namespace', ns, '-f', FULL_VALUES));
    try {
      const sa = `system:serviceaccount:${ns}:gotel-operator`;
      const allowed: Check[] = [
        ['list', 'reservations.gotel.io', 'gotel-ci-a'],
        ['watch', 'reservations.gotel.io', 'gotel-ci-b'],
        ['get', 'reservations.gotel.io', 'gotel-ci-b'],
        ['patch', 'reservations.gotel.io/status', 'gotel-ci-b'],
        ['watch', 'jobs.batch', 'gotel-ci-a'],
        ['get', 'secrets', 'gotel-ci-a'], // a Secret a Reservation there names
        ['get', 'secrets', 'gotel-ci-b'],
        ['create', 'reservations.gotel.io', 'gotel-ci-a'], // GoTel's API (gotelApi.namespace)
        ['patch', 'reservations.gotel.io', 'gotel-ci-a'],
        ['get', 'secrets', ns], // the Peers' kubeconfigs
        ['create', 'tokenreviews.authentication.k8s.io', '*'],
      ];
      const refused: Check[] = [
        ['list', 'reservations.gotel.io', '*'],
        ['list', 'reservations.gotel.io', other],
        ['get', 'reservations.gotel.io', other],
        ['patch', 'reservations.gotel.io/status', other],
        ['get', 'secrets', '*'],
        ['get', 'secrets', other],
        ['watch', 'jobs.batch', '*'],
        ['create', 'events', other],
        ['list', 'secrets', '*'],
        ['list', 'secrets', 'gotel-ci-a'],
        ['create', 'reservations.gotel.io', 'gotel-ci-b'],
        ['list', 'jobs.batch', other],
        ['get', 'pods', 'gotel-ci-a'],
      ];
      expect(await answers(sa, allowed)).toEqual(expected(allowed, 'yes'));
      expect(await answers(sa, refused)).toEqual(expected(refused, 'no'));
      // Namespaced Roles, not a ClusterRole bound per namespace: nothing of the operator's own is cluster-scoped but the reviews.
      const clusterRoles = JSON.parse(await tools.ok(tools.kubectl(['get', 'clusterroles,clusterrolebindings', '-l', 'app.kubernetes.io/instance=gotel', '-o', 'json']))) as { items: { kind: string; metadata: { name: string } }[] };
      expect(clusterRoles.items.map((i) => `${i.kind}/${i.metadata.name}`).filter((n) => n.includes('gotel-full')).sort()).toEqual([
        'ClusterRole/gotel-full-edit',
        'ClusterRole/gotel-full-reviews',
        'ClusterRole/gotel-full-view',
        'ClusterRoleBinding/gotel-full-reviews',
      ]);
      for (const watched of ['gotel-ci-a', 'gotel-ci-b']) {
        const role = JSON.parse(await tools.ok(tools.kubectl(['-n', watched, 'get', 'role', 'gotel-full-watch', '-o', 'json']))) as { rules: { resources: string[]; verbs: string[] }[] };
        expect(role.rules.find((r) => r.resources.includes('secrets'))?.verbs).toEqual(['get']);
      }
      // rbac.extraSubjects (a peer's identity for takeover) gets the same rights.
      expect(await tools.can('system:serviceaccount:gotel-ci-a:gotel-peer', 'patch', 'reservations.gotel.io/status', 'gotel-ci-b')).toBe(true);
    } finally {
      await tools.ok(tools.helm('uninstall', 'gotel', '--namespace', ns));
    }
  });

  it('aggregates Reservation rights into the built-in edit and view roles', async () => {
    const ns = await freshNamespace('rbac-agg');
    await tools.ok(tools.helm('install', 'gotel', CHART, '--namespace', ns));
    try {
      // Aggregation is done by the controller manager, which this apiserver-only cluster lacks:
      // check the labels it selects on, and the rules it would copy.
      const edit = JSON.parse(await tools.ok(tools.kubectl(['get', 'clusterrole', 'gotel-edit', '-o', 'json']))) as { metadata: { labels: Record<string, string> }; rules: { verbs: string[] }[] };
      expect(edit.metadata.labels).toMatchObject({ 'rbac.authorization.k8s.io/aggregate-to-edit': 'true', 'rbac.authorization.k8s.io/aggregate-to-admin': 'true' });
      expect(edit.rules[0]!.verbs).toEqual(expect.arrayContaining(['create', 'delete', 'checkin', 'snooze']));
      const view = JSON.parse(await tools.ok(tools.kubectl(['get', 'clusterrole', 'gotel-view', '-o', 'json']))) as { metadata: { labels: Record<string, string> }; rules: { verbs: string[] }[] };
      expect(view.metadata.labels).toMatchObject({ 'rbac.authorization.k8s.io/aggregate-to-view': 'true' });
      expect(view.rules[0]!.verbs).toEqual(['get', 'list', 'watch']);
    } finally {
      await tools.ok(tools.helm('uninstall', 'gotel', '--namespace', ns));
    }
  });
});
