// Applies Kubernetes manifests (multi-document YAML) the way `kubectl apply` does for our needs:
// create, or replace what is already there. Used by the local demo and tests.
import { KubernetesObjectApi, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'PriorityClass', 'StorageClass', 'PersistentVolume']);

export function parseManifests(yamlText: string): KubernetesObject[] {
  return parseAllDocuments(yamlText)
    .map((doc) => doc.toJS() as KubernetesObject | null)
    .filter((obj): obj is KubernetesObject => !!obj && typeof obj === 'object' && !!obj.kind);
}

export async function readManifestDir(dir: string): Promise<KubernetesObject[]> {
  const files = (await readdir(dir)).filter((f) => /\.ya?ml$/.test(f)).sort();
  const objects: KubernetesObject[] = [];
  for (const file of files) objects.push(...parseManifests(await readFile(join(dir, file), 'utf8')));
  return objects;
}

export async function applyObjects(kc: KubeConfig, objects: KubernetesObject[], namespace: string): Promise<KubernetesObject[]> {
  const client = KubernetesObjectApi.makeApiClient(kc);
  const applied: KubernetesObject[] = [];
  for (const obj of objects) {
    const needsNamespace = !CLUSTER_SCOPED.has(obj.kind!) && !obj.metadata?.namespace;
    const body: KubernetesObject = { ...obj, metadata: { ...obj.metadata, ...(needsNamespace ? { namespace } : {}) } };
    try {
      applied.push(await client.create(body));
    } catch (err) {
      if ((err as { code?: number }).code !== 409) throw err;
      const current = await client.read(body as KubernetesObject & { metadata: { name: string; namespace: string } });
      applied.push(await client.replace({ ...body, metadata: { ...body.metadata, resourceVersion: current.metadata?.resourceVersion } }));
    }
  }
  return applied;
}
