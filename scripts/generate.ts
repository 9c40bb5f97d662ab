// Writes generated files: the Reservation CRD manifest.
import { writeFile } from 'node:fs/promises';
import { CHART_CRD_FILE, CRD_FILE, crdManifest } from '../src/api/crd-manifest.ts';

for (const file of [CRD_FILE, CHART_CRD_FILE]) {
  await writeFile(new URL(`../${file}`, import.meta.url), crdManifest());
  console.log(`wrote ${file}`);
}
