// The chart helpers on hand-computed cases: finite extents, per-row and global normalisation to
// [0, 1], ranks within a row (1 = most important, ties share, NaN unranked), label strides.
import { describe, expect, it } from 'vitest';
import { finiteExtent, labelStride, normalise, rowRanks, shortNumber } from '../../src/viz/scales.ts';

describe('viz scales', () => {
  it('finite extent skips NaN and infinities', () => {
    expect(finiteExtent([3, NaN, -1, Infinity, 2])).toEqual([-1, 3]);
    expect(finiteExtent([NaN])).toBeNull();
    expect(finiteExtent([])).toBeNull();
  });

  it('normalises per row or over the whole matrix', () => {
    const m = [
      [1, 2, 3],
      [10, 30, NaN],
      [5, 5, 5],
    ];
    expect(normalise(m, 'row')).toEqual([
      [0, 0.5, 1],
      [0, 1, NaN],
      [0.5, 0.5, 0.5],
    ]);
    // global range 1..30
    const g = normalise(m, 'none');
    expect(g[0][0]).toBe(0);
    expect(g[1][1]).toBe(1);
    expect(g[0][2]).toBeCloseTo(2 / 29, 15);
    expect(g[2][0]).toBeCloseTo(4 / 29, 15);
    expect(Number.isNaN(g[1][2])).toBe(true);
  });

  it('ranks within a row by orientation; ties share; NaN unranked', () => {
    expect(rowRanks([0.1, 0.5, 0.3], true)).toEqual([3, 1, 2]);
    expect(rowRanks([0.1, 0.5, 0.3], false)).toEqual([1, 3, 2]);
    expect(rowRanks([2, 2, 1], true)).toEqual([1, 1, 3]);
    const r = rowRanks([NaN, 4, 1], true);
    expect(Number.isNaN(r[0])).toBe(true);
    expect(r.slice(1)).toEqual([1, 2]);
  });

  it('label stride and short numbers', () => {
    expect(labelStride(10, 40)).toBe(1);
    expect(labelStride(100, 40)).toBe(3);
    expect(labelStride(128, 0)).toBe(128);
    expect(shortNumber(0.123456)).toBe('0.1235');
    expect(shortNumber(12345678)).toBe('1.235e+7');
    expect(shortNumber(NaN)).toBe('NaN');
    expect(shortNumber(0)).toBe('0');
  });
});
