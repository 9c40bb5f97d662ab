// Finds (or builds) the binaries of the local control plane: kube-apiserver, etcd, kubectl, helm.
//
// None is packaged anywhere these machines reach, so, like setup-envtest, we look in order:
//   1. $KUBEBUILDER_ASSETS (setup-envtest's directory of binaries), for each binary it holds;
//   2. the cache outside the repo: $XDG_CACHE_HOME/gotel (default ~/.cache/gotel), one folder per
//      component version;
//   3. a build from the Go module proxy into that cache (about 10 minutes cold on 2 cores).
import { spawn } from 'node:child_process';
import { mkdir, readFile, rename, rm, symlink, writeFile, readlink, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { isAlive } from './processes.ts';

export const VERSIONS = {
  kubernetes: 'v1.36.3',
  etcd: 'v3.6.16',
  helm: 'v3.22.0',
} as const;

export const BINARIES = ['kube-apiserver', 'etcd', 'kubectl', 'helm'] as const;
export type Binary = (typeof BINARIES)[number];
export type AssetPaths = Record<Binary, string>;

/** Receives one human-readable progress line at a time (stderr by default). */
export type Progress = (line: string) => void;
const toStderr: Progress = (line) => process.stderr.write(`${line}\n`);

export class MissingGoError extends Error {
  constructor(cacheDir: string) {
    super(
      [
        'kube-apiserver, etcd, kubectl and helm are not on this machine, and Go is not installed to build them.',
        'Three ways out:',
        '  1. install Go 1.26 or later (https://go.dev/dl or `apt-get install golang`) and run again: the binaries are built from the Go module proxy (about 10 minutes, once);',
        '  2. set KUBEBUILDER_ASSETS to a directory that already holds them (for example `setup-envtest use -p path`);',
        `  3. put prebuilt binaries into ${cacheDir}/<component>-<version>/ (see README).`,
        'To run the integration tests against a cluster you already have instead: USE_EXISTING_CLUSTER=true KUBECONFIG=... npm test',
      ].join('\n'),
    );
    this.name = 'MissingGoError';
  }
}

export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME !== '' ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(base, 'gotel');
}

/** Which component, at which version, provides a binary; its cache folder is `<component>-<version>`. */
function componentOf(binary: Binary): keyof typeof VERSIONS {
  if (binary === 'etcd') return 'etcd';
  if (binary === 'helm') return 'helm';
  return 'kubernetes';
}

export function cachedPath(binary: Binary, root = cacheRoot()): string {
  const component = componentOf(binary);
  return join(root, `${component}-${VERSIONS[component]}`, binary);
}

function isExecutableFile(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile() && (s.mode & 0o111) !== 0,
    () => false,
  );
}

/** Where each binary is now, without building anything; `undefined` for those still missing. */
export async function locateAssets(env: NodeJS.ProcessEnv = process.env): Promise<Partial<AssetPaths>> {
  const found: Partial<AssetPaths> = {};
  const root = cacheRoot(env);
  for (const binary of BINARIES) {
    const candidates = [env.KUBEBUILDER_ASSETS ? join(env.KUBEBUILDER_ASSETS, binary) : undefined, cachedPath(binary, root)];
    for (const candidate of candidates) {
      if (candidate && (await isExecutableFile(candidate))) {
        found[binary] = candidate;
        break;
      }
    }
  }
  return found;
}

/**
 * Returns the path of every binary, building the missing ones into the cache first.
 * Safe to call from several processes at once: builds hold a lock in the cache.
 */
export async function ensureAssets(options: { env?: NodeJS.ProcessEnv; progress?: Progress; only?: readonly Binary[] } = {}): Promise<AssetPaths> {
  const env = options.env ?? process.env;
  const progress = options.progress ?? toStderr;
  const wanted = options.only ?? BINARIES;
  let found = await locateAssets(env);
  const missing = wanted.filter((b) => !found[b]);
  if (missing.length > 0) {
    const root = cacheRoot(env);
    await withLock(join(root, '.build.lock'), progress, async () => {
      // Another process may have built them while we waited for the lock.
      found = await locateAssets(env);
      const stillMissing = wanted.filter((b) => !found[b]);
      if (stillMissing.length === 0) return;
      await requireGo(root, env);
      const components = new Set(stillMissing.map(componentOf));
      for (const component of ['kubernetes', 'etcd', 'helm'] as const) {
        if (components.has(component)) await BUILDERS[component](root, env, progress, stillMissing);
      }
      found = await locateAssets(env);
    });
  }
  const result = {} as AssetPaths;
  for (const binary of wanted) {
    const path = found[binary];
    if (!path) throw new Error(`${binary} is still missing after the build; look in ${cacheRoot(env)}`);
    result[binary] = path;
  }
  return result;
}

/**
 * One directory that holds all four binaries (like `setup-envtest use -p path`): KUBEBUILDER_ASSETS
 * itself when it has them all, otherwise a folder of symbolic links in the cache.
 */
export async function assetsDirectory(options: { env?: NodeJS.ProcessEnv; progress?: Progress } = {}): Promise<string> {
  const env = options.env ?? process.env;
  const paths = await ensureAssets(options);
  const dirs = new Set(Object.values(paths).map(dirname));
  if (dirs.size === 1) return [...dirs][0]!;
  const linkDir = join(cacheRoot(env), `bin-kubernetes-${VERSIONS.kubernetes}-etcd-${VERSIONS.etcd}-helm-${VERSIONS.helm}`);
  await mkdir(linkDir, { recursive: true });
  for (const binary of BINARIES) {
    const link = join(linkDir, binary);
    const current = await readlink(link).catch(() => undefined);
    if (current === paths[binary]) continue;
    await rm(link, { force: true });
    await symlink(paths[binary], link);
  }
  return linkDir;
}

// ---- building -------------------------------------------------------------------------------

async function requireGo(root: string, env: NodeJS.ProcessEnv): Promise<void> {
  const ok = await run('go', ['version'], { env, cwd: process.cwd(), quiet: true }).then(
    () => true,
    () => false,
  );
  if (!ok) throw new MissingGoError(root);
}

type Builder = (root: string, env: NodeJS.ProcessEnv, progress: Progress, missing: Binary[]) => Promise<void>;

const COMMON_LDFLAGS = '-s -w';

function goEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  // Static, reproducible binaries; modules resolved through the module proxy as configured.
  return { ...env, CGO_ENABLED: '0', GOFLAGS: '-mod=mod -buildvcs=false', GOWORK: 'off' };
}

const buildKubernetes: Builder = async (root, env, progress, missing) => {
  const version = VERSIONS.kubernetes;
  const work = join(root, 'build', `kubernetes-${version}`);
  const out = join(root, `kubernetes-${version}`);
  await mkdir(work, { recursive: true });
  await mkdir(out, { recursive: true });
  const genv = goEnv(env);

  // k8s.io/kubernetes cannot be `go install`ed: its go.mod replaces the k8s.io/* staging modules
  // with ./staging paths. A throw-away module requiring it and replacing each staging module with
  // the published one of the same release (v0.x.y for v1.x.y) builds.
  progress(`gotel assets: preparing a Go module for kubernetes ${version}`);
  const info = JSON.parse(await run('go', ['mod', 'download', '-json', `k8s.io/kubernetes@${version}`], { env: genv, cwd: work, quiet: true })) as { GoMod: string };
  const upstreamMod = await readFile(info.GoMod, 'utf8');
  const staging = [...upstreamMod.matchAll(/^\s*(k8s\.io\/[\w.-]+)\s*=>\s*\.\/staging\//gm)].map((m) => m[1]!);
  if (staging.length === 0) throw new Error(`no staging modules found in ${info.GoMod}`);
  const stagingVersion = version.replace(/^v1\./, 'v0.');
  const goMod = [
    'module gotel.local/kube-assets',
    '',
    'go 1.26.0',
    '',
    `require k8s.io/kubernetes ${version}`,
    '',
    'replace (',
    ...staging.map((m) => `\t${m} => ${m} ${stagingVersion}`),
    ')',
    '',
  ].join('\n');
  const tools = ['//go:build tools', '', 'package tools', '', 'import (', '\t_ "k8s.io/kubernetes/cmd/kube-apiserver"', '\t_ "k8s.io/kubernetes/cmd/kubectl"', ')', ''].join('\n');
  await writeFile(join(work, 'go.mod'), goMod);
  await writeFile(join(work, 'tools.go'), tools);
  progress(`gotel assets: resolving ${staging.length} staging modules at ${stagingVersion} (go mod tidy, about 35 s cold)`);
  await run('go', ['mod', 'tidy'], { env: genv, cwd: work, progress, label: 'go mod tidy' });

  const [major, minor] = version.replace(/^v/, '').split('.');
  const ldflags = [
    COMMON_LDFLAGS,
    `-X k8s.io/component-base/version.gitVersion=${version}`,
    `-X k8s.io/component-base/version.gitMajor=${major}`,
    `-X k8s.io/component-base/version.gitMinor=${minor}`,
    `-X k8s.io/component-base/version.gitTreeState=clean`,
    `-X k8s.io/client-go/pkg/version.gitVersion=${version}`,
    `-X k8s.io/client-go/pkg/version.gitMajor=${major}`,
    `-X k8s.io/client-go/pkg/version.gitMinor=${minor}`,
  ].join(' ');
  for (const [binary, hint] of [
    ['kube-apiserver', 'about 7 minutes cold on 2 cores'],
    ['kubectl', 'about a minute more'],
  ] as const) {
    if (!missing.includes(binary)) continue;
    progress(`gotel assets: building ${binary} ${version} (${hint})`);
    await goBuild(['build', '-trimpath', '-ldflags', ldflags, '-o', `${join(out, binary)}.tmp`, `k8s.io/kubernetes/cmd/${binary}`], genv, work, progress, binary);
    await rename(`${join(out, binary)}.tmp`, join(out, binary));
  }
};

const buildEtcd: Builder = async (root, env, progress) => {
  const version = VERSIONS.etcd;
  const work = join(root, 'build', `etcd-${version}`);
  const out = join(root, `etcd-${version}`);
  await mkdir(work, { recursive: true });
  await mkdir(out, { recursive: true });
  const genv = goEnv(env);
  // etcd's own main package is etcdmain.Main; a one-line module around it builds the server.
  await writeFile(join(work, 'go.mod'), `module gotel.local/etcd-assets\n\ngo 1.26.0\n\nrequire go.etcd.io/etcd/server/v3 ${version}\n`);
  await writeFile(
    join(work, 'main.go'),
    'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n',
  );
  progress(`gotel assets: resolving etcd ${version}`);
  await run('go', ['mod', 'tidy'], { env: genv, cwd: work, progress, label: 'go mod tidy' });
  progress(`gotel assets: building etcd ${version} (about a minute cold)`);
  await goBuild(['build', '-trimpath', '-ldflags', COMMON_LDFLAGS, '-o', join(out, 'etcd.tmp'), '.'], genv, work, progress, 'etcd');
  await rename(join(out, 'etcd.tmp'), join(out, 'etcd'));
};

const buildHelm: Builder = async (root, env, progress) => {
  const version = VERSIONS.helm;
  const out = join(root, `helm-${version}`);
  const gobin = join(root, 'build', `helm-${version}`);
  await mkdir(gobin, { recursive: true });
  await mkdir(out, { recursive: true });
  progress(`gotel assets: building helm ${version} (a minute or two cold)`);
  const ldflags = `${COMMON_LDFLAGS} -X helm.sh/helm/v3/internal/version.version=${version} -X helm.sh/helm/v3/internal/version.gitTreeState=clean`;
  await goBuild(['install', '-trimpath', '-ldflags', ldflags, `helm.sh/helm/v3/cmd/helm@${version}`], { ...goEnv(env), GOBIN: gobin, GOFLAGS: '-buildvcs=false' }, gobin, progress, 'helm');
  await rename(join(gobin, 'helm'), join(out, 'helm'));
};

const BUILDERS: Record<keyof typeof VERSIONS, Builder> = { kubernetes: buildKubernetes, etcd: buildEtcd, helm: buildHelm };

/** `go build -v` names each package it compiles; we count them to show the build moving. */
async function goBuild(args: string[], env: NodeJS.ProcessEnv, cwd: string, progress: Progress, label: string): Promise<void> {
  const started = Date.now();
  let compiled = 0;
  const ticker = setInterval(() => {
    const secs = Math.round((Date.now() - started) / 1000);
    progress(`gotel assets: ${label}: ${compiled} packages compiled, ${Math.floor(secs / 60)}m${String(secs % 60).padStart(2, '0')}s elapsed`);
  }, 20_000);
  try {
    await run('go', [args[0]!, '-v', ...args.slice(1)], {
      env,
      cwd,
      onStderrLine: (line) => {
        if (!line.startsWith('#') && !line.includes(' ')) compiled++;
      },
      label,
    });
  } finally {
    clearInterval(ticker);
  }
  const secs = Math.round((Date.now() - started) / 1000);
  progress(`gotel assets: ${label} built in ${secs}s`);
}

interface RunOptions {
  env: NodeJS.ProcessEnv;
  cwd: string;
  quiet?: boolean;
  progress?: Progress;
  label?: string;
  onStderrLine?: (line: string) => void;
}

/** Runs a command, resolving with its stdout; on failure the error carries the tail of stderr. */
function run(command: string, args: string[], options: RunOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderrTail: string[] = [];
    let partial = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        options.onStderrLine?.(line);
        stderrTail.push(line);
      }
      if (stderrTail.length > 40) stderrTail = stderrTail.slice(-40);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`${options.label ?? command} ${args.join(' ')} failed (exit ${code}):\n${[...stderrTail, partial].join('\n')}`));
    });
  });
}

/** A cross-process lock: a directory created atomically; a stale one (dead owner) is taken over. */
async function withLock<T>(lockDir: string, progress: Progress, fn: () => Promise<T>): Promise<T> {
  await mkdir(dirname(lockDir), { recursive: true });
  let announced = false;
  for (;;) {
    try {
      await mkdir(lockDir);
      await writeFile(join(lockDir, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(await readFile(join(lockDir, 'pid'), 'utf8').catch(() => '0'));
      // No pid yet: its owner may be between mkdir and writeFile; stale only once it is old.
      const age = await stat(lockDir).then((st) => Date.now() - st.mtimeMs, () => 0);
      if (owner ? !isAlive(owner) : age > 30_000) {
        await rm(lockDir, { recursive: true, force: true });
        continue;
      }
      if (!announced) progress(`gotel assets: waiting for another build (pid ${owner}) to finish`);
      announced = true;
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}
