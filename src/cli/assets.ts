// `gotel assets`: prints the directory that holds kube-apiserver, etcd, kubectl and helm, building
// what is missing first (progress on stderr), like `setup-envtest use -p path`.
import { assetsDirectory } from '../dev/assets.ts';

export async function runAssets(): Promise<void> {
  try {
    process.stdout.write(`${await assetsDirectory()}\n`);
  } catch (err) {
    process.stderr.write(`gotel assets: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
