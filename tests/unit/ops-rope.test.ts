// RoPE references against hand-computed values: src/core/ops/rope.ts (float64 angles) and the f32
// angle table src/core/ops/rope-table.ts used by the GPU kernel.
import { describe, expect, it } from 'vitest';
import { rope } from '../../src/core/ops/rope.ts';
import { ropeFreqsF32, ropeTable } from '../../src/core/ops/rope-table.ts';
import { expectAllClose } from '../helpers/close.ts';

// x = [1, 2, 3, 4], position 1, theta 10000, dim 4: freq = [1, 10000^(-1/2) = 0.01], angles [1, 0.01].
// adjacent: pairs (x0, x1) by 1 rad, (x2, x3) by 0.01 rad:
//   (1 cos1 - 2 sin1, 1 sin1 + 2 cos1, 3 cos.01 - 4 sin.01, 3 sin.01 + 4 cos.01)
// half: pairs (x0, x2) by 1 rad, (x1, x3) by 0.01 rad:
//   (1 cos1 - 3 sin1, 2 cos.01 - 4 sin.01, 1 sin1 + 3 cos1, 2 sin.01 + 4 cos.01)
const ADJ = [-1.1426396637476532, 1.922075596544176, 2.9598506679133294, 4.029799501669161];
const HALF = [-1.9841106485555495, 1.959900667496664, 2.4623779024123156, 4.019799668334994];
const tol = { atol: 2e-7, rtol: 2e-7 };

describe('rope reference', () => {
  it('adjacent form, 4-vector at position 1', () => {
    const x = new Float32Array([1, 2, 3, 4]);
    rope(x, 1, 1, 4, 1, 10000, 4, 'adjacent');
    expectAllClose(x, ADJ, tol);
  });

  it('half form, 4-vector at position 1', () => {
    const x = new Float32Array([1, 2, 3, 4]);
    rope(x, 1, 1, 4, 1, 10000, 4, 'half');
    expectAllClose(x, HALF, tol);
  });

  it('position 0 is the identity; channels past the rotary dim are untouched', () => {
    const x = new Float32Array([1, 2, 3, 4, 5, 6]);
    rope(x, 1, 1, 6, 0, 10000, 6, 'half');
    expect(Array.from(x)).toEqual([1, 2, 3, 4, 5, 6]);
    const y = new Float32Array([1, 2, 3, 4, 5, 6]);
    rope(y, 1, 1, 6, 1, 10000, 4, 'adjacent'); // dim 4 < D 6
    expectAllClose(y.subarray(0, 4), ADJ, tol);
    expect(Array.from(y.subarray(4))).toEqual([5, 6]);
  });
});

describe('rope f32 angle table', () => {
  it('freq_i = theta^(-2i/dim) rounded as float32', () => {
    expect(Array.from(ropeFreqsF32(10000, 4))).toEqual([1, Math.fround(0.01)]);
    expect(Array.from(ropeFreqsF32(10000, 8))).toEqual([1, Math.fround(0.1), Math.fround(0.01), Math.fround(0.001)]);
  });

  it('rows hold cos/sin of the f32 product pos * freq', () => {
    const t = ropeTable(10000, 4, 2, 2); // positions 2 and 3
    const f = Math.fround;
    const want = [];
    for (const pos of [2, 3]) for (const fr of [1, f(0.01)]) want.push(Math.cos(f(pos * fr)), Math.sin(f(pos * fr)));
    expectAllClose(t, want, { atol: 0, rtol: 1e-7 });
    // and those are cos 2, sin 2, cos .02, ... to f32 accuracy
    expectAllClose(t, [Math.cos(2), Math.sin(2), Math.cos(0.02), Math.sin(0.02), Math.cos(3), Math.sin(3), Math.cos(0.03), Math.sin(0.03)], { atol: 1e-8, rtol: 1e-7 });
  });
});
