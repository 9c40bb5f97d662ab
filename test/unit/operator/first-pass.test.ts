import { describe, expect, it } from 'vitest';
import { FirstPass } from '../../../src/operator/first-pass.ts';

describe('FirstPass', () => {
  it('reports once, when every key listed at the start has been judged', () => {
    const pass = new FirstPass();
    const done: [number, number][] = [];
    pass.begin(['a/1', 'a/2'], 1000, (count, ms) => done.push([count, ms]));
    pass.judged('a/1', 1100);
    pass.judged('a/other', 1150);
    expect(done).toEqual([]);
    expect(pass.remaining).toBe(1);
    pass.judged('a/2', 1300);
    pass.judged('a/2', 1400);
    expect(done).toEqual([[2, 300]]);
  });

  it('reports at once for an empty list, and never after cancel', () => {
    const pass = new FirstPass();
    const done: number[] = [];
    pass.begin([], 5, (count) => done.push(count));
    expect(done).toEqual([0]);
    pass.begin(['k'], 10, (count) => done.push(count));
    pass.cancel();
    pass.judged('k', 20);
    expect(done).toEqual([0]);
  });
});
