// crds/ holds the CRD generated from src/api/crd.ts; a stale file would install an old schema.
import { readFile } from 'node:fs/promises';
import { expect, it } from 'vitest';
import { CRD_FILE, crdManifest } from '../../src/api/crd-manifest.ts';

it('crds/ matches src/api/crd.ts (run `npm run generate` after changing the schema)', async () => {
  const committed = await readFile(new URL(`../../${CRD_FILE}`, import.meta.url), 'utf8');
  expect(committed).toBe(crdManifest());
});
