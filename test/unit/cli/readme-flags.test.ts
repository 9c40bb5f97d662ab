// The README's `gotel operator` flag table against the CLI's own option list, both ways: every
// option the operator takes is documented, every documented flag exists, and a default the code
// has is the default the table names.
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { operatorOptions } from '../../../src/operator/config.ts';

const README = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

interface Row {
  flags: string[];
  defaultCell: string;
}

/** The rows of the first table after "## Running the operator" whose first cell names flags. */
function readmeRows(): Row[] {
  const section = README.split(/^## Running the operator$/m)[1];
  if (!section) throw new Error('README has no "## Running the operator" section');
  const lines = section.split('\n');
  const start = lines.findIndex((l) => /^\|\s*flag\s*\|/.test(l));
  if (start < 0) throw new Error('no flag table in "## Running the operator"');
  const rows: Row[] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    const [, first = '', second = ''] = line.split('|');
    rows.push({ flags: [...first.matchAll(/`(--[a-z0-9-]+)`/g)].map((m) => m[1]!), defaultCell: second.trim() });
  }
  return rows;
}

const options = operatorOptions(new Command('operator')).options;

describe('README flag table for gotel operator', () => {
  it('documents every option the CLI has', () => {
    const documented = new Set(readmeRows().flatMap((r) => r.flags));
    const missing = options.map((o) => o.long!).filter((f) => !documented.has(f));
    expect(missing, 'options missing from the README table').toEqual([]);
  });

  it('documents only flags the CLI has', () => {
    const known = new Set(options.map((o) => o.long!));
    const unknown = readmeRows()
      .flatMap((r) => r.flags)
      .filter((f) => !known.has(f));
    expect(unknown, 'README rows for flags gotel operator does not take').toEqual([]);
  });

  it('names the default the code uses', () => {
    const rows = readmeRows();
    const wrong = options
      .filter((o) => typeof o.defaultValue === 'string')
      .filter((o) => {
        const row = rows.find((r) => r.flags[0] === o.long);
        return row !== undefined && !row.defaultCell.includes(o.defaultValue as string);
      })
      .map((o) => `${o.long}: code ${String(o.defaultValue)}`);
    expect(wrong).toEqual([]);
  });

  it('the table reads each row with at least one flag (the test itself can see the table)', () => {
    const rows = readmeRows();
    expect(rows.length).toBeGreaterThan(5);
    for (const r of rows) expect(r.flags.length).toBeGreaterThan(0);
  });
});
