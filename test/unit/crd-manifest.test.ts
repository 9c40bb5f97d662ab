// crds/ holds the CRD generated from src/api/crd.ts; a stale file would install an old schema.
import { readFile } from 'node:fs/promises';
import { expect, it } from 'vitest';
import { CHART_CRD_FILE, CRD_FILE, crdManifest } from '../../src/api/crd-manifest.ts';

it.each([CRD_FILE, CHART_CRD_FILE])('%s matches src/api/crd.ts (run `npm run generate` after changing the schema)', async (file) => {
  const committed = await readFile(new URL(`../../${file}`, import.meta.url), 'utf8');
  expect(committed).toBe(crdManifest());
});
