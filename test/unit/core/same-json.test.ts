import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonical, sameJson } from '../../../src/core/evaluate.ts';

describe('sameJson', () => {
  // Statuses come from JSON: arrays never hold undefined, object keys may (they count as absent).
  it('agrees with comparing canonical JSON', () => {
    const json = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.array(tie('value'), { maxLength: 3 }), fc.dictionary(fc.constantFrom('a', 'b', 'c'), fc.oneof(tie('value'), fc.constant(undefined)), { maxKeys: 3 })),
    })).value;
    fc.assert(fc.property(json, json, (a, b) => sameJson(a, b) === (canonical(a) === canonical(b))));
    fc.assert(fc.property(json, (a) => sameJson(a, structuredClone(a))));
  });

  it('ignores key order and keys holding undefined, not array order', () => {
    expect(sameJson({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1, d: undefined })).toBe(true);
    expect(sameJson({ c: [1, 2] }, { c: [2, 1] })).toBe(false);
    expect(sameJson({ a: 1 }, { a: 1, b: null })).toBe(false);
  });
});
