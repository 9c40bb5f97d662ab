// Running the project's own helm and kubectl against the suite's apiserver, for the chart tests.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { VERSIONS } from '../../src/dev/assets.ts';

export const CHART = fileURLToPath(new URL('../../charts/gotel', import.meta.url));
export const FULL_VALUES = join(CHART, 'ci', 'full-values.yaml');
const FIXTURES = fileURLToPath(new URL('./fixtures', import.meta.url));

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** A scratch directory with the suite's kubeconfig and Helm's own homes, removed by `close`. */
export class Tools {
  readonly dir: string;
  private constructor(dir: string) {
    this.dir = dir;
  }

  static async create(): Promise<Tools> {
    const dir = await mkdtemp(join(tmpdir(), 'gotel-helm-'));
    await writeFile(join(dir, 'kubeconfig'), inject('kubeconfig'));
    return new Tools(dir);
  }

  get kubeconfig(): string {
    return join(this.dir, 'kubeconfig');
  }

  close(): Promise<void> {
    return rm(this.dir, { recursive: true, force: true });
  }

  private exec(bin: string, args: string[], input?: string): Promise<Result> {
    const env = { ...process.env, KUBECONFIG: this.kubeconfig, HELM_CACHE_HOME: join(this.dir, 'cache'), HELM_CONFIG_HOME: join(this.dir, 'config'), HELM_DATA_HOME: join(this.dir, 'data') };
    return new Promise((resolve) => {
      const child = execFile(bin, args, { env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        resolve({ code, stdout, stderr });
      });
      if (input !== undefined) child.stdin?.end(input);
    });
  }

  helm(...args: string[]): Promise<Result> {
    return this.exec(inject('assets').helm, [...args, '--kubeconfig', this.kubeconfig]);
  }

  /**
   * helm template for the suite's Kubernetes version: a helm built from source assumes v1.20
   * when no cluster is asked, older than the chart's kubeVersion.
   */
  template(...args: string[]): Promise<Result> {
    return this.helm('template', 'gotel', CHART, '--kube-version', VERSIONS.kubernetes, ...args);
  }

  kubectl(args: string[], input?: string): Promise<Result> {
    return this.exec(inject('assets').kubectl, ['--kubeconfig', this.kubeconfig, ...args], input);
  }

  /** Like helm/kubectl, but a non-zero exit is an error carrying its output. */
  async ok(result: Promise<Result>): Promise<string> {
    const r = await result;
    if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr || r.stdout}`);
    return r.stdout;
  }

  /**
   * What the chart's values need to exist in the cluster: the namespaces ci/full-values.yaml
   * names, its PriorityClass, stand-ins for the Prometheus Operator's CRDs and, while crds/ has
   * none, for the Peer CRD.
   */
  async prepareCluster(): Promise<void> {
    for (const ns of ['gotel-ci-a', 'gotel-ci-b']) await this.ensure(`apiVersion: v1\nkind: Namespace\nmetadata: { name: ${ns} }\n`);
    await this.ensure('apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: { name: gotel-ci-critical }\nvalue: 1000000\n');
    await this.ensure(await readFile(join(FIXTURES, 'monitoring-crds.yaml'), 'utf8'));
    const names = await chartCrdNames();
    if (!names.includes('peers.gotel.io')) await this.ensure(await readFile(join(FIXTURES, 'peer-crd-standin.yaml'), 'utf8'));
    await this.ok(this.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/servicemonitors.monitoring.coreos.com', 'crd/prometheusrules.monitoring.coreos.com', 'crd/peers.gotel.io']));
  }

  /** Creates what does not exist yet (another file's run may have made it). */
  private async ensure(manifest: string): Promise<void> {
    const r = await this.kubectl(['create', '-f', '-'], manifest);
    if (r.code !== 0 && !/AlreadyExists/.test(r.stderr)) throw new Error(r.stderr);
  }

  /**
   * Hands the chart's CRDs, already in the cluster, to a release that installs them as templates
   * (crds.install=true): the labels and annotations Helm checks before adopting an object. The
   * README's "Upgrading the CRDs" gives the same commands.
   */
  async adoptCrds(release: string, namespace: string): Promise<void> {
    for (const name of await chartCrdNames()) {
      await this.ok(this.kubectl(['label', '--overwrite', 'crd', name, 'app.kubernetes.io/managed-by=Helm']));
      await this.ok(this.kubectl(['annotate', '--overwrite', 'crd', name, `meta.helm.sh/release-name=${release}`, `meta.helm.sh/release-namespace=${namespace}`]));
    }
  }

  /** kubectl auth can-i, impersonating `user` (namespace '*': all namespaces): true for yes, false for no. */
  async can(user: string, verb: string, resource: string, namespace: string): Promise<boolean> {
    const scope = namespace === '*' ? ['--all-namespaces'] : ['-n', namespace];
    const [type, subresource] = resource.split('/');
    const sub = subresource ? [`--subresource=${subresource}`] : [];
    const r = await this.kubectl(['auth', 'can-i', verb, type!, ...sub, ...scope, `--as=${user}`]);
    const answer = r.stdout.trim().split('\n').pop();
    if (answer !== 'yes' && answer !== 'no') throw new Error(`kubectl auth can-i ${verb} ${resource}: ${r.stderr || r.stdout}`);
    return answer === 'yes';
  }
}

/** The names of the CRDs in the chart's crds/ (the generated files). */
export async function chartCrdNames(): Promise<string[]> {
  const files = (await readdir(join(CHART, 'crds'))).filter((f) => f.endsWith('.yaml'));
  const names: string[] = [];
  for (const f of files) {
    for (const doc of parseAllDocuments(await readFile(join(CHART, 'crds', f), 'utf8'))) {
      const name = (doc.toJS() as { metadata?: { name?: string } } | null)?.metadata?.name;
      if (name) names.push(name);
    }
  }
  return names;
}

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

/** The documents `helm template` printed. */
export function manifests(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Manifest | null)
    .filter((m): m is Manifest => !!m && typeof m.kind === 'string');
}
