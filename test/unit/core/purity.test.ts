// The core is pure: it imports nothing that touches the network, the file system or the real
// clock, and never reads the clock itself (time is passed in).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('../../../src/core/', import.meta.url).pathname;

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** Packages the core may import: none (cron expressions are expanded in cron.ts itself). */
const ALLOWED_PACKAGES = new Set<string>();
/** Relative imports must stay in src/core, apart from the Reservation types. */
const ALLOWED_OUTSIDE = new Set(['../api/reservation.ts']);

describe('src/core is pure', () => {
  const sources = files(root);

  it('has sources', () => {
    expect(sources.length).toBeGreaterThan(5);
  });

  for (const file of sources) {
    const rel = file.slice(root.length);
    it(`${rel} imports only pure modules`, () => {
      const text = readFileSync(file, 'utf8');
      const specifiers = [...text.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g)].map((m) => m[1] ?? m[2] ?? m[3] ?? '');
      for (const s of specifiers) {
        if (s.startsWith('./')) continue;
        if (s.startsWith('.')) {
          expect(ALLOWED_OUTSIDE, `${rel} imports ${s}`).toContain(s);
          continue;
        }
        expect(ALLOWED_PACKAGES, `${rel} imports ${s}`).toContain(s);
      }
    });

    it(`${rel} does not read the clock or the environment`, () => {
      const code = readFileSync(file, 'utf8').replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
      expect(code).not.toMatch(/Date\.now\s*\(/);
      expect(code).not.toMatch(/new Date\(\s*\)/);
      expect(code).not.toMatch(/performance\.now|process\.|setTimeout|setInterval|fetch\s*\(|require\s*\(/);
    });
  }
});
