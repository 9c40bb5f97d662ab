// `npm run build:exe`: the single executable `gotel` a job carries (run, checkin, sidecar, and
// people's snooze/suspend/resume), with Node inside: dist/gotel-linux-x64.
//
// Node 24's single executable applications: esbuild bundles src/cli/exe.ts and everything it
// imports into one CommonJS script (an SEA's main script must be one; it can require only Node's
// built-in modules), `node --experimental-sea-config` turns it into a blob, and postject injects
// the blob into a copy of the Node 24 binary of the `node` devDependency.
//
// The inputs' hash is kept beside the executable: a second build with nothing changed only says
// so (`--force` builds anyway). Linux x64 only, the platform of the Node binary it copies.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'dist', 'gotel-linux-x64');
const WORK = join(ROOT, 'dist', 'exe');
const STAMP = `${OUT}.inputs`;
/** The fuse Node's SEA loader looks for (Node's documentation, "Single executable applications"). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

const say = (line: string): void => void process.stderr.write(`build:exe: ${line}\n`);

function fail(message: string): never {
  say(message);
  process.exit(1);
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? listFiles(join(dir, e.name)) : [join(dir, e.name)]));
}

/** What the executable is made of: the sources, the locked dependencies, the Node binary, this script. */
function inputsHash(nodeBinary: string): string {
  const h = createHash('sha256');
  const files = [...listFiles(join(ROOT, 'src')), join(ROOT, 'package-lock.json'), fileURLToPath(import.meta.url)].sort();
  for (const f of files) h.update(relative(ROOT, f)).update('\0').update(readFileSync(f)).update('\0');
  const st = statSync(nodeBinary);
  h.update(`${process.version}|${st.size}|${st.mtimeMs}`);
  return h.digest('hex');
}

function run(command: string, args: string[]): void {
  const r = spawnSync(command, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) fail(`${relative(ROOT, command) || command} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`})`);
}

async function bundle(version: string): Promise<string> {
  const main = join(WORK, 'gotel.cjs');
  await build({
    entryPoints: [join(ROOT, 'src/cli/exe.ts')],
    outfile: main,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node24',
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
    // Modules written for ESM may read import.meta.url: in the bundle it is the executable's own path.
    banner: { js: 'const __importMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
    define: { __GOTEL_VERSION__: JSON.stringify(version), 'import.meta.url': '__importMetaUrl' },
  });
  return main;
}

async function main(): Promise<void> {
  if (process.platform !== 'linux' || process.arch !== 'x64') fail(`builds dist/gotel-linux-x64 on Linux x64 only (this is ${process.platform}-${process.arch})`);
  if (!process.version.startsWith('v24.')) fail(`needs the project's Node 24 (run it through npm run build:exe), not ${process.version}`);
  const nodeBinary = process.execPath;
  const hash = inputsHash(nodeBinary);
  if (!process.argv.includes('--force') && existsSync(OUT) && existsSync(STAMP) && readFileSync(STAMP, 'utf8') === hash) {
    say(`${relative(ROOT, OUT)} is up to date (--force to build it anyway)`);
    return;
  }
  const started = Date.now();
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });

  const script = await bundle(version);
  const blob = join(WORK, 'sea-prep.blob');
  const config = join(WORK, 'sea-config.json');
  writeFileSync(config, JSON.stringify({ main: script, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true }));
  run(nodeBinary, ['--experimental-sea-config', config]);

  const tmp = join(WORK, 'gotel');
  copyFileSync(nodeBinary, tmp);
  chmodSync(tmp, 0o755);
  // Node's Linux binary carries its symbol tables: without them the executable is ~18 MiB smaller
  // (126 -> 108 MiB) and runs the same. Skipped where binutils' strip is not installed.
  if (spawnSync('strip', ['--version'], { stdio: 'ignore' }).status === 0) run('strip', ['--strip-all', tmp]);
  else say('strip not found (binutils): the executable keeps its symbol tables');
  run(nodeBinary, [join(ROOT, 'node_modules/postject/dist/cli.js'), tmp, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE]);
  renameSync(tmp, OUT);
  writeFileSync(STAMP, hash);
  rmSync(WORK, { recursive: true, force: true }); // only the executable is the product
  const mib = (statSync(OUT).size / 2 ** 20).toFixed(0);
  say(`${relative(ROOT, OUT)} (${mib} MiB, gotel ${version} on Node ${process.version}) in ${((Date.now() - started) / 1000).toFixed(1)}s`);
}

await main();
