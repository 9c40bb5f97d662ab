// `gotel --version` and `gotel version` print the package's version, from the real CLI.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('../../../', import.meta.url).pathname;
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };

function gotel(...args: string[]) {
  const r = spawnSync(join(root, 'node_modules/.bin/node'), [join(root, 'src/cli/main.ts'), ...args], { cwd: root, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('gotel version', () => {
  it.each([['--version'], ['-V'], ['version']])('%s prints the package version', (flag) => {
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
    expect(gotel(flag)).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });
});
