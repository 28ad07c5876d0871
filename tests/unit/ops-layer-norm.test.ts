// LayerNorm reference (src/core/ops/layer-norm.ts) by hand.
import { describe, it } from 'vitest';
import { layerNorm } from '../../src/core/ops/layer-norm.ts';
import { expectAllClose } from '../helpers/close.ts';

describe('layerNorm reference', () => {
  it('[1, 2, 3, 4]: mean 2.5, biased var 1.25, with w and b', () => {
    // (x - 2.5) / sqrt(1.25) = [-1.34164079, -0.44721360, 0.44721360, 1.34164079]; * w + b.
    const y = layerNorm(new Float32Array([1, 2, 3, 4]), 1, 4, new Float32Array([1, 2, 1, 1]), new Float32Array([0, 0, 1, -1]), 0);
    expectAllClose(y, [-1.34164079, -0.8944272, 1.4472136, 0.34164079], { atol: 1e-7, rtol: 1e-7 });
  });
  it('eps inside the root; no bias', () => {
    // [0, 2]: mean 1, var 1, eps 3 -> (x - 1) / 2.
    expectAllClose(layerNorm(new Float32Array([0, 2]), 1, 2, new Float32Array([1, 1]), undefined, 3), [-0.5, 0.5], { atol: 0, rtol: 0 });
  });
});
