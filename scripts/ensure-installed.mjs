// Runs before `npm start` and `npm test` (as prestart/pretest) with whatever Node the machine has,
// so the README's two commands work on a fresh clone: installs the dependencies, including the
// Node 24 that every later npm script runs on, when they are missing or older than the lock file.
// Plain JavaScript on purpose: it must run on the machine's Node 20 before Node 24 is there.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';

const installed = 'node_modules/.package-lock.json';
const stale =
  !existsSync('node_modules/.bin/node') ||
  !existsSync(installed) ||
  statSync('package-lock.json').mtimeMs > statSync(installed).mtimeMs ||
  !existsSync('dist/cli/main.js');
if (stale) {
  console.error('gotel: installing dependencies (npm ci), once');
  const result = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
