// Writes generated files: the Reservation and Peer CRD manifests.
import { writeFile } from 'node:fs/promises';
import { CHART_CRD_FILE, CRD_FILE, crdManifest } from '../src/api/crd-manifest.ts';
import { PEER_CHART_CRD_FILE, PEER_CRD_FILE, peerCrdManifest } from '../src/api/peer-crd.ts';

const files: [string, () => string][] = [
  [CRD_FILE, crdManifest],
  [CHART_CRD_FILE, crdManifest],
  [PEER_CRD_FILE, peerCrdManifest],
  [PEER_CHART_CRD_FILE, peerCrdManifest],
];
for (const [file, manifest] of files) {
  await writeFile(new URL(`../${file}`, import.meta.url), manifest());
  console.log(`wrote ${file}`);
}
