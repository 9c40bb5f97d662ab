// Every file in examples/ applies as a user applies it (`kubectl apply --server-side -f FILE`) to
// the test apiserver, in a namespace of its own, and what it declares is then there. The GoTel
// containers in the examples name the chart's own image, not a third one.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import { parseManifests } from '../../src/k8s/apply.ts';
import { freshNamespace } from './helpers.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLES = join(ROOT, 'examples');
const files = (await readdir(EXAMPLES)).filter((f) => /\.ya?ml$/.test(f)).sort();
let dir: string;
let kubeconfigPath: string;

function kubectl(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(inject('assets').kubectl, ['--kubeconfig', kubeconfigPath, ...args]);
}

interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
}

/** Containers and init containers of every pod template in a manifest. */
function containers(obj: Record<string, unknown>): Container[] {
  const found: Container[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (!v || typeof v !== 'object') return;
    const o = v as Record<string, unknown>;
    for (const key of ['containers', 'initContainers']) if (Array.isArray(o[key])) found.push(...(o[key] as Container[]));
    Object.values(o).forEach(walk);
  };
  walk(obj);
  return found;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gotel-examples-'));
  kubeconfigPath = join(dir, 'config');
  await writeFile(kubeconfigPath, inject('kubeconfig'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('examples/', () => {
  it('holds the examples the README points to', () => {
    expect(files).toEqual(expect.arrayContaining(['heartbeat.yaml', 'nightly-backup.yaml', 'sidecar-cronjob.yaml', 'gotel-run-cronjob.yaml', 'cronjob-report.yaml']));
  });

  it.each(files)('%s applies with kubectl and everything it declares exists', async (file) => {
    const ns = await freshNamespace('examples');
    const path = join(EXAMPLES, file);
    const objects = parseManifests(await readFile(path, 'utf8'));
    expect(objects.length).toBeGreaterThan(0);
    const applied = await kubectl('apply', '--server-side', '--field-manager=gotel-examples-test', '-n', ns, '-f', path);
    expect(applied.stdout.trim().split('\n')).toHaveLength(objects.length);
    for (const o of objects) {
      expect(o.metadata?.namespace, `${file}: ${o.kind}/${o.metadata?.name} applies to the namespace it is given`).toBeUndefined();
    }
    const got = await kubectl('get', '-n', ns, '-f', path, '-o', 'name');
    expect(got.stdout.trim().split('\n').map((l) => l.split('/').pop())).toEqual(objects.map((o) => o.metadata?.name));
  });

  it('names the chart\'s image (repository:appVersion) wherever a GoTel container runs', async () => {
    const values = parse(await readFile(join(ROOT, 'charts/gotel/values.yaml'), 'utf8')) as { image: { repository: string } };
    const chart = parse(await readFile(join(ROOT, 'charts/gotel/Chart.yaml'), 'utf8')) as { appVersion: string };
    const image = `${values.image.repository}:${chart.appVersion}`;
    const gotelContainers = [];
    for (const file of files) {
      for (const obj of parseManifests(await readFile(join(EXAMPLES, file), 'utf8'))) {
        for (const c of containers(obj as unknown as Record<string, unknown>)) {
          // The sidecar, and the init container that hands /gotel/gotel to a job (the job's own
          // container runs that copy in its own image).
          const fromGotelImage = c.args?.[0] === 'sidecar' || (c.command?.[0] === '/gotel/gotel' && c.command[1] === 'install');
          if (fromGotelImage) gotelContainers.push({ file, name: c.name, image: c.image });
        }
      }
    }
    expect(gotelContainers.length).toBeGreaterThanOrEqual(2);
    expect(gotelContainers.filter((c) => c.image !== image)).toEqual([]);
  });
});
