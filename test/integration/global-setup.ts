// Starts one control plane for the whole integration run (start-up is paid once, not per test)
// and hands its kubeconfig to the tests through vitest's provide/inject. With
// USE_EXISTING_CLUSTER=true the tests run against the cluster in KUBECONFIG instead.
import type { TestProject } from 'vitest/node';
import { readFile } from 'node:fs/promises';
import { ensureAssets, type AssetPaths } from '../../src/dev/assets.ts';
import { DEFAULT_CRDS_DIR, startControlPlane } from '../../src/dev/control-plane.ts';
import { installCrds } from '../../src/dev/crds.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    kubeconfig: string;
    assets: AssetPaths;
    existingCluster: boolean;
  }
}

const log = (line: string): void => void process.stderr.write(`[control plane] ${line}\n`);

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // All four binaries up front: the first run on a bare machine builds them, with progress.
  const assets = await ensureAssets({ progress: log });
  project.provide('assets', assets);

  if (process.env.USE_EXISTING_CLUSTER === 'true') {
    const path = process.env.KUBECONFIG;
    if (!path) throw new Error('USE_EXISTING_CLUSTER=true needs KUBECONFIG to name the cluster to test against');
    const kubeconfig = await readFile(path.split(':')[0]!, 'utf8');
    await installCrds(kubeconfig, DEFAULT_CRDS_DIR);
    project.provide('kubeconfig', kubeconfig);
    project.provide('existingCluster', true);
    return async () => {};
  }

  const started = Date.now();
  const plane = await startControlPlane({ name: 'suite', assets, progress: log });
  log(`ready in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  project.provide('kubeconfig', plane.kubeconfig);
  project.provide('existingCluster', false);
  return async () => {
    await plane.stop();
  };
}
