// Softmax reference (src/core/ops/softmax.ts) at hand-computed values.
import { describe, it } from 'vitest';
import { softmax } from '../../src/core/ops/softmax.ts';
import { expectAllClose } from '../helpers/close.ts';

describe('softmax reference', () => {
  it('[0, ln 2, ln 5] -> [1, 2, 5] / 8; a row of -1000s (exp underflows without the max) -> 1/3 each', () => {
    const x = new Float32Array([0, Math.LN2, Math.log(5), -1000, -1000, -1000]);
    expectAllClose(softmax(x, 2, 3), [0.125, 0.25, 0.625, 1 / 3, 1 / 3, 1 / 3], { atol: 1e-7, rtol: 1e-6 });
  });
  it('log-softmax of [0, 0] is -ln 2; scale 2 on [0, ln 2] gives [1, 4] / 5', () => {
    expectAllClose(softmax(new Float32Array([0, 0]), 1, 2, { log: true }), [-Math.LN2, -Math.LN2], { atol: 1e-7, rtol: 0 });
    expectAllClose(softmax(new Float32Array([0, Math.LN2]), 1, 2, { scale: 2 }), [0.2, 0.8], { atol: 1e-7, rtol: 1e-6 });
  });
});
