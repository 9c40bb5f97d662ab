// Writes generated files: the Reservation CRD manifest.
import { writeFile } from 'node:fs/promises';
import { CRD_FILE, crdManifest } from '../src/api/crd-manifest.ts';

await writeFile(new URL(`../${CRD_FILE}`, import.meta.url), crdManifest());
console.log(`wrote ${CRD_FILE}`);
