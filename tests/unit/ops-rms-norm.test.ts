// RMSNorm reference (src/core/ops/rms-norm.ts) against hand-computed values.
import { describe, expect, it } from 'vitest';
import { rmsNorm } from '../../src/core/ops/rms-norm.ts';
import { expectAllClose } from '../helpers/close.ts';

describe('rmsNorm reference', () => {
  it('[3, 4] with w = [1, 2], eps = 0: rms = sqrt(12.5)', () => {
    // mean of squares (9 + 16) / 2 = 12.5, rms = 3.5355339; y = [3 / rms, 4 / rms * 2].
    const y = rmsNorm(new Float32Array([3, 4]), 1, 2, new Float32Array([1, 2]), 0);
    expectAllClose(y, [0.84852814, 2.2627417], { atol: 0, rtol: 1e-7 });
  });

  it('two rows, eps inside the square root', () => {
    // row 0: [1, 1, 1, 1], mean sq 1, eps 3 -> / 2. row 1: [2, 0, 0, 0], mean sq 1, eps 3 -> / 2.
    const y = rmsNorm(new Float32Array([1, 1, 1, 1, 2, 0, 0, 0]), 2, 4, new Float32Array([1, 1, 1, 1]), 3);
    expect(Array.from(y)).toEqual([0.5, 0.5, 0.5, 0.5, 1, 0, 0, 0]);
  });
});
