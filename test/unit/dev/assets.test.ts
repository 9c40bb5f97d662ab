// Where the control plane's binaries come from: KUBEBUILDER_ASSETS first, then the cache, then a
// build; and a clear way out when Go is missing. Fake executables stand in for the real binaries.
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BINARIES, MissingGoError, cachedPath, ensureAssets, locateAssets, type Binary } from '../../../src/dev/assets.ts';

const run = promisify(execFile);
const MAIN = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));
let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'gotel-assets-test-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function fakeBinary(path: string): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, '#!/bin/sh\necho fake\n');
  await chmod(path, 0o755);
}

async function fakeDir(name: string, binaries: readonly Binary[]): Promise<string> {
  const dir = join(root, name);
  for (const b of binaries) await fakeBinary(join(dir, b));
  return dir;
}

describe('locating the control plane binaries', () => {
  it('prefers KUBEBUILDER_ASSETS over the cache', async () => {
    const assetsDir = await fakeDir('kubebuilder', BINARIES);
    const cache = join(root, 'xdg');
    for (const b of BINARIES) await fakeBinary(cachedPath(b, join(cache, 'gotel')));
    const found = await locateAssets({ KUBEBUILDER_ASSETS: assetsDir, XDG_CACHE_HOME: cache });
    for (const b of BINARIES) expect(found[b]).toBe(join(assetsDir, b));
  });

  it('falls back to the cache, one folder per component version', async () => {
    const cache = join(root, 'xdg');
    for (const b of BINARIES) await fakeBinary(cachedPath(b, join(cache, 'gotel')));
    const found = await locateAssets({ XDG_CACHE_HOME: cache });
    expect(found['kube-apiserver']).toBe(join(cache, 'gotel', 'kubernetes-v1.36.3', 'kube-apiserver'));
    expect(found.etcd).toBe(join(cache, 'gotel', 'etcd-v3.6.16', 'etcd'));
    expect(found.helm).toBe(join(cache, 'gotel', 'helm-v3.22.0', 'helm'));
  });

  it('ignores files that are not executable', async () => {
    const dir = join(root, 'kubebuilder');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'etcd'), 'not a program');
    const found = await locateAssets({ KUBEBUILDER_ASSETS: dir, XDG_CACHE_HOME: join(root, 'empty') });
    expect(found.etcd).toBeUndefined();
  });

  it('names the three ways out when a binary is missing and Go is not installed', async () => {
    const env = { XDG_CACHE_HOME: join(root, 'empty'), PATH: join(root, 'no-go-here'), HOME: root };
    const error = await ensureAssets({ env, progress: () => {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MissingGoError);
    const message = (error as Error).message;
    expect(message).toMatch(/install Go/);
    expect(message).toMatch(/KUBEBUILDER_ASSETS/);
    expect(message).toContain(join(root, 'empty', 'gotel'));
  });
});

describe('gotel assets', () => {
  const env = (extra: Record<string, string>): NodeJS.ProcessEnv => ({ ...process.env, KUBEBUILDER_ASSETS: '', ...extra });

  it('prints KUBEBUILDER_ASSETS when it holds all four binaries', async () => {
    const assetsDir = await fakeDir('kubebuilder', BINARIES);
    const { stdout } = await run(process.execPath, [MAIN, 'assets'], { env: env({ KUBEBUILDER_ASSETS: assetsDir, XDG_CACHE_HOME: join(root, 'xdg') }) });
    expect(stdout).toBe(`${assetsDir}\n`);
  });

  it('prints one directory linking binaries from KUBEBUILDER_ASSETS and the cache', async () => {
    // setup-envtest's directories hold no helm: it comes from the cache.
    const assetsDir = await fakeDir('kubebuilder', ['kube-apiserver', 'etcd', 'kubectl']);
    const cache = join(root, 'xdg');
    await fakeBinary(cachedPath('helm', join(cache, 'gotel')));
    const { stdout } = await run(process.execPath, [MAIN, 'assets'], { env: env({ KUBEBUILDER_ASSETS: assetsDir, XDG_CACHE_HOME: cache }) });
    const printed = stdout.trim();
    expect(printed.startsWith(join(cache, 'gotel'))).toBe(true);
    expect(await readlink(join(printed, 'kube-apiserver'))).toBe(join(assetsDir, 'kube-apiserver'));
    expect(await readlink(join(printed, 'helm'))).toBe(cachedPath('helm', join(cache, 'gotel')));
  });

  it('exits non-zero with the ways out when nothing is there and Go is missing', async () => {
    const result = await run(process.execPath, [MAIN, 'assets'], {
      env: { HOME: root, XDG_CACHE_HOME: join(root, 'xdg'), PATH: join(root, 'bin') },
    }).catch((e: unknown) => e as { code: number; stderr: string; stdout: string });
    expect(result).toMatchObject({ code: 1, stdout: '' });
    expect((result as { stderr: string }).stderr).toMatch(/Three ways out/);
  });
});
