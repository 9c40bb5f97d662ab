// Installs CustomResourceDefinitions from a directory of YAML manifests (create or replace) and
// waits until the apiserver reports each one Established, so the caller can use them at once.
//
// Raw JSON on purpose: client-node's typed serializer knows schema keys by their TypeScript names
// and silently drops `enum`, `x-kubernetes-validations` and friends written as in YAML.
import { KubeConfig } from '@kubernetes/client-node';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { KubeApiError, KubeRest } from '../k8s/rest.ts';

interface Crd {
  kind: string;
  metadata: { name: string; resourceVersion?: string };
  status?: { conditions?: { type: string; status: string }[] };
}

const CRDS_PATH = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';

export async function readCrds(dir: string): Promise<Crd[]> {
  const files = (await readdir(dir)).filter((f) => /\.ya?ml$/.test(f)).sort();
  const crds: Crd[] = [];
  for (const file of files) {
    for (const doc of parseAllDocuments(await readFile(join(dir, file), 'utf8'))) {
      const obj = doc.toJS() as Crd | null;
      if (obj?.kind === 'CustomResourceDefinition') crds.push(obj);
    }
  }
  return crds;
}

export async function installCrds(kubeconfig: string, dir: string, timeoutMs = 30_000): Promise<string[]> {
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfig);
  const rest = new KubeRest(kc);
  try {
    const crds = await readCrds(dir);
    for (const crd of crds) {
      try {
        await rest.request({ method: 'POST', path: CRDS_PATH, body: crd });
      } catch (err) {
        if (!(err instanceof KubeApiError && err.code === 409)) throw err;
        const current = await rest.request<Crd>({ method: 'GET', path: `${CRDS_PATH}/${crd.metadata.name}` });
        const body = { ...crd, metadata: { ...crd.metadata, resourceVersion: current.metadata.resourceVersion } };
        await rest.request({ method: 'PUT', path: `${CRDS_PATH}/${crd.metadata.name}`, body });
      }
    }
    const until = Date.now() + timeoutMs;
    for (const crd of crds) {
      for (;;) {
        const current = await rest.request<Crd>({ method: 'GET', path: `${CRDS_PATH}/${crd.metadata.name}` });
        if (current.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
        if (Date.now() > until) throw new Error(`CRD ${crd.metadata.name} not Established after ${timeoutMs / 1000}s`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return crds.map((c) => c.metadata.name);
  } finally {
    rest.close();
  }
}
