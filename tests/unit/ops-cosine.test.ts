// Per-row cosine reference (src/core/ops/cosine.ts) by hand.
import { describe, expect, it } from 'vitest';
import { cosineRows } from '../../src/core/ops/cosine.ts';
import { expectAllClose } from '../helpers/close.ts';

describe('cosineRows reference', () => {
  it('[1, 0] vs [1, 1] = 1/sqrt 2; [3, 4] vs [4, 3] = 24/25; opposite = -1; zero row = 1', () => {
    const a = new Float32Array([1, 0, 3, 4, 1, 2, 0, 0]);
    const b = new Float32Array([1, 1, 4, 3, -1, -2, 5, 6]);
    expectAllClose(cosineRows(a, b, 4, 2), [Math.SQRT1_2, 0.96, -1, 1], { atol: 1e-7, rtol: 0 });
  });
  it('rejects short inputs', () => {
    expect(() => cosineRows(new Float32Array(3), new Float32Array(4), 2, 2)).toThrow();
  });
});
