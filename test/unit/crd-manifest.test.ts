// crds/ holds the CRDs generated from src/api/crd.ts and src/api/peer-crd.ts; a stale file would install an old schema.
import { readFile } from 'node:fs/promises';
import { expect, it } from 'vitest';
import { CHART_CRD_FILE, CRD_FILE, crdManifest } from '../../src/api/crd-manifest.ts';
import { PEER_CHART_CRD_FILE, PEER_CRD_FILE, peerCrdManifest } from '../../src/api/peer-crd.ts';

it.each([
  [CRD_FILE, crdManifest],
  [CHART_CRD_FILE, crdManifest],
  [PEER_CRD_FILE, peerCrdManifest],
  [PEER_CHART_CRD_FILE, peerCrdManifest],
])('%s matches its source (run `npm run generate` after changing the schema)', async (file, manifest) => {
  const committed = await readFile(new URL(`../../${file}`, import.meta.url), 'utf8');
  expect(committed).toBe(manifest());
});
