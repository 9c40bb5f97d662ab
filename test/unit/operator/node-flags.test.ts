// The operator's Node flags are passed where it is deployed: the image's ENTRYPOINT. (The image
// test checks the built image; this checks the Dockerfile without building it.)
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OPERATOR_ENV, OPERATOR_NODE_FLAGS } from '../../../src/operator/node-flags.ts';

describe('OPERATOR_NODE_FLAGS', () => {
  it('are the flags of the image ENTRYPOINT, before the CLI', () => {
    const dockerfile = readFileSync(new URL('../../../Dockerfile', import.meta.url), 'utf8');
    const line = dockerfile.split('\n').find((l) => l.startsWith('ENTRYPOINT '));
    expect(line).toBeDefined();
    expect(JSON.parse(line!.slice('ENTRYPOINT '.length))).toEqual(['/nodejs/bin/node', ...OPERATOR_NODE_FLAGS, '/app/bin/gotel.js']);
  });

  it('cap the young generation: a semi-space of at most 16 MiB', () => {
    const semi = OPERATOR_NODE_FLAGS.map((f) => /^--max-semi-space-size=(\d+)$/.exec(f)?.[1]).find(Boolean);
    expect(Number(semi)).toBeGreaterThan(0);
    expect(Number(semi)).toBeLessThanOrEqual(16);
  });

  it('collect the old generation sooner without capping it: a growing factor, no heap limit', () => {
    const growing = OPERATOR_NODE_FLAGS.map((f) => /^--heap-growing-percent=(\d+)$/.exec(f)?.[1]).find(Boolean);
    expect(Number(growing)).toBeGreaterThan(0);
    expect(Number(growing)).toBeLessThanOrEqual(50);
    expect(OPERATOR_NODE_FLAGS.some((f) => /^--max-(old-space|heap)-size=/.test(f))).toBe(false);
  });

  it('come with the environment the image sets: OPERATOR_ENV as Dockerfile ENV lines', () => {
    const dockerfile = readFileSync(new URL('../../../Dockerfile', import.meta.url), 'utf8');
    const env = dockerfile.split('\n').filter((l) => l.startsWith('ENV ')).map((l) => l.slice(4));
    for (const [name, value] of Object.entries(OPERATOR_ENV)) expect(env).toContain(`${name}=${value}`);
    expect(OPERATOR_ENV.MALLOC_ARENA_MAX).toBe('2');
  });
});
