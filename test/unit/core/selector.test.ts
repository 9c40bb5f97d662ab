import { describe, expect, it } from 'vitest';
import { matchesSelector, parseSelector } from '../../../src/core/selector.ts';

const matches = (selector: string, labels?: Record<string, string>): boolean => matchesSelector(parseSelector(selector), labels);

describe('label selectors (--selector)', () => {
  it('parses the apiserver grammar', () => {
    expect(parseSelector('shard=a, tier==gold,env!=dev, team in (x, y),zone notin (z),gotel.io/owned,!legacy')).toEqual([
      { key: 'shard', op: '=', values: ['a'] },
      { key: 'tier', op: '=', values: ['gold'] },
      { key: 'env', op: '!=', values: ['dev'] },
      { key: 'team', op: 'in', values: ['x', 'y'] },
      { key: 'zone', op: 'notin', values: ['z'] },
      { key: 'gotel.io/owned', op: 'exists', values: [] },
      { key: 'legacy', op: 'notexists', values: [] },
    ]);
    expect(parseSelector('  ')).toEqual([]);
  });

  it('matches as the apiserver does (!= and notin hold when the key is absent)', () => {
    expect(matches('shard=a', { shard: 'a' })).toBe(true);
    expect(matches('shard=a', { shard: 'b' })).toBe(false);
    expect(matches('shard=a', undefined)).toBe(false);
    expect(matches('shard!=a', {})).toBe(true);
    expect(matches('team in (x,y),!legacy', { team: 'y' })).toBe(true);
    expect(matches('team in (x,y),!legacy', { team: 'y', legacy: '' })).toBe(false);
    expect(matches('team notin (x)', {})).toBe(true);
    expect(matches('', { any: 'thing' })).toBe(true);
  });

  it('names what is wrong', () => {
    expect(() => parseSelector('shard=a,')).toThrow(/an empty requirement/);
    expect(() => parseSelector('shard=a b')).toThrow(/not a label/);
    expect(() => parseSelector('team in (x,y')).toThrow(/label selector "team in \(x,y"/);
    expect(() => parseSelector('Bad_Prefix/name=x')).toThrow(/"Bad_Prefix\/name" is not a label key/);
  });
});
