// Embedding gather reference (src/core/ops/embedding.ts) by hand.
import { describe, expect, it } from 'vitest';
import { embedding } from '../../src/core/ops/embedding.ts';

describe('embedding reference', () => {
  const table = new Float32Array([1, 2, 3, 4, 5, 6]); // 3 rows of C = 2
  it('gathers rows; out-of-range ids give zeros', () => {
    expect(Array.from(embedding(table, 3, 2, [2, 0, 3, -1]))).toEqual([5, 6, 1, 2, 0, 0, 0, 0]);
  });
  it('adds position rows pos0 + t and scales the token row', () => {
    const pos = new Float32Array([0, 0, 10, 20, 30, 40]);
    expect(Array.from(embedding(table, 3, 2, [1, 1], pos, 1, 2))).toEqual([16, 28, 36, 48]);
  });
});
