// SiLU gate reference (src/core/ops/silu-gate.ts) at hand-computed points.
import { describe, it } from 'vitest';
import { siluGate } from '../../src/core/ops/silu-gate.ts';
import { expectAllClose } from '../helpers/close.ts';

describe('siluGate reference', () => {
  it('silu(0) = 0, silu(1) = 1 / (1 + 1/e), silu(-1) = -1 / (1 + e), times u', () => {
    // 1 / (1 + 0.36787944) = 0.73105858; -1 / (1 + 2.71828183) = -0.26894142.
    const y = siluGate(new Float32Array([0, 1, -1, 1]), new Float32Array([5, 1, 1, 2]));
    expectAllClose(y, [0, 0.7310585786, -0.2689414214, 1.4621171573], { atol: 1e-8, rtol: 1e-7 });
  });
});
