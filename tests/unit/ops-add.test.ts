// Residual add reference (src/core/ops/add.ts) by hand.
import { describe, expect, it } from 'vitest';
import { add } from '../../src/core/ops/add.ts';

describe('add reference', () => {
  it('a + b and a + scale * b', () => {
    expect(Array.from(add(new Float32Array([1, 2, -3]), new Float32Array([3, 4, 1])))).toEqual([4, 6, -2]);
    expect(Array.from(add(new Float32Array([1, 2, -3]), new Float32Array([3, 4, 1]), 0.5))).toEqual([2.5, 4, -2.5]);
  });
  it('rejects mismatched lengths', () => {
    expect(() => add(new Float32Array(2), new Float32Array(3))).toThrow();
  });
});
