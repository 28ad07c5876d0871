// GELU (tanh form) reference (src/core/ops/gelu.ts) at known values.
import { describe, it } from 'vitest';
import { gelu } from '../../src/core/ops/gelu.ts';
import { expectAllClose } from '../helpers/close.ts';

describe('gelu reference (tanh approximation)', () => {
  it('gelu(0) = 0, gelu(1), gelu(-1), gelu(2), large |x|', () => {
    // u(1) = sqrt(2/pi) * 1.044715 = 0.83356197, tanh u = 0.68238398 -> 0.5 * 1.68238398 = 0.84119199
    // gelu(-1) = -0.5 * (1 - 0.68238398) = -0.15880801 (u is odd)
    // u(2) = sqrt(2/pi) * 2.35772 = 1.88118839, tanh u = 0.95459769 -> 2 * 0.5 * 1.95459769
    // |x| = 20: tanh u = +-1 to double precision -> 20 and 0
    const y = gelu(new Float32Array([0, 1, -1, 2, 20, -20]));
    expectAllClose(y, [0, 0.84119199, -0.15880801, 1.95459769, 20, 0], { atol: 1e-6, rtol: 1e-6 });
  });
});
