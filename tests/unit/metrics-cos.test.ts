// Hand-checked tiny cases for the residual-stream metrics: cos (ShortGPT BI / LLM-Drop), lim, contrib.
// One block, T = 2 tokens, C = 3 channels:
//   in  = [1,0,0], [1,1,0]
//   mid = [1,1,0], [0,1,0]       (attn_out = mid - in)
//   out = [0,1,0], [1,1,1]       (mlp_out  = out - mid)
// cos(in, out) = 0 and 2/sqrt(6); cos(in, mid) = 1/sqrt2, 1/sqrt2; cos(mid, out) = 1/sqrt2, 1/sqrt3.
import { describe, expect, it } from 'vitest';
import { expectAllClose } from '../helpers/close.ts';
import * as cos from '../../src/core/metrics/cos.ts';
import * as lim from '../../src/core/metrics/lim.ts';
import * as contrib from '../../src/core/metrics/contrib.ts';
import type { Taps } from '../../src/core/metrics/types.ts';

const tol = { atol: 1e-12, rtol: 1e-12 };
const s2 = Math.SQRT2;
const s3 = Math.sqrt(3);
const s6 = Math.sqrt(6);

function handTaps(): Taps {
  const hin = [1, 0, 0, 1, 1, 0];
  const mid = [1, 1, 0, 0, 1, 0];
  const out = [0, 1, 0, 1, 1, 1];
  return {
    'blk.0.in': Float32Array.from(hin),
    'blk.0.mid': Float32Array.from(mid),
    'blk.0.out': Float32Array.from(out),
    'blk.0.attn_out': Float32Array.from(mid.map((v, i) => v - hin[i])),
    'blk.0.mlp_out': Float32Array.from(out.map((v, i) => v - mid[i])),
  };
}
const ctx = () => ({ taps: handTaps(), T: 2, C: 3, nLayers: 1 });

describe('cos (block influence)', () => {
  it('matches the hand computation', () => {
    const r = cos.compute(ctx());
    const c1 = 2 / s6;
    expectAllClose(r.perBlock, [1 - c1 / 2], tol, 'BI');
    expectAllClose(r.perToken![0], [1, 1 - c1], tol, 'perToken');
    expectAllClose(r.extra!.meanCos as number[], [c1 / 2], tol, 'meanCos');
    expectAllClose(r.extra!.meanCosNoFirst as number[], [c1], tol, 'meanCosNoFirst');
    expectAllClose(r.extra!.biNoFirst as number[], [1 - c1], tol, 'biNoFirst');
    expectAllClose(r.extra!.angular as number[], [(0.5 + Math.acos(c1) / Math.PI) / 2], tol, 'angular');
    expectAllClose(r.extra!.angular as number[], [0.3479566380076518], tol, 'angular (decimal)');
    expectAllClose(r.perSublayer!.attn, [1 - 1 / s2], tol, 'attn');
    expectAllClose(r.perSublayer!.mlp, [1 - (1 / s2 + 1 / s3) / 2], tol, 'mlp');
    expectAllClose(r.extra!.attnAngular as number[], [0.25], tol, 'attn angular (45 degrees)');
    expect(r.ranking).toEqual([0]);
    expect(r.higherIsMoreImportant).toBe(true);
  });

  it('reads a zero vector as unchanged (cos = 1) and an identity block as 0', () => {
    const taps = handTaps();
    taps['blk.0.in'] = Float32Array.from([0, 0, 0, 1, 1, 0]);
    taps['blk.0.out'] = Float32Array.from([5, 1, 2, 2, 2, 0]);
    const r = cos.compute({ taps, T: 2, C: 3, nLayers: 1 });
    expectAllClose(r.perToken![0], [0, 0], tol, 'zero row -> 0, parallel row -> 0');
    expect(r.perBlock[0]).toBeCloseTo(0, 12);
  });

  it('ranks blocks by BI and gives NaN for the no-first mean when T = 1', () => {
    // Block 0 leaves the residual alone, block 1 flips it (cos = -1), block 2 turns it by 90 degrees.
    const x = Float32Array.from([1, 2]);
    const taps: Taps = {};
    const outs = [x, Float32Array.from([-1, -2]), Float32Array.from([-2, 1])];
    for (let l = 0; l < 3; l++) {
      taps[`blk.${l}.in`] = x;
      taps[`blk.${l}.mid`] = x;
      taps[`blk.${l}.out`] = outs[l];
    }
    const r = cos.compute({ taps, T: 1, C: 2, nLayers: 3 });
    expectAllClose(r.perBlock, [0, 2, 1], tol, 'BI');
    expect(r.ranking).toEqual([1, 2, 0]);
    expect(Number.isNaN((r.extra!.meanCosNoFirst as number[])[0])).toBe(true);
    expectAllClose(r.extra!.angular as number[], [0, 1, 0.5], tol, 'angular');
  });

  it('names a missing tap', () => {
    const taps = handTaps();
    delete taps['blk.0.mid'];
    expect(() => cos.compute({ taps, T: 2, C: 3, nLayers: 1 })).toThrow(/blk\.0\.mid/);
  });
});

describe('lim', () => {
  it('is minus the mean cosine of block input and output', () => {
    const r = lim.compute(ctx());
    expectAllClose(r.perBlock, [-(2 / s6) / 2], tol, 'LIM');
    expectAllClose(r.perToken![0], [0, -2 / s6], tol, 'perToken');
    expect(r.higherIsMoreImportant).toBe(true);
  });
});

describe('contrib (relative contribution)', () => {
  it('matches the hand computation', () => {
    const r = contrib.compute(ctx());
    // block: ||out - in|| / ||in|| = sqrt2 / 1 and 1 / sqrt2
    expectAllClose(r.perToken![0], [s2, 1 / s2], tol, 'block per token');
    expectAllClose(r.perBlock, [(s2 + 1 / s2) / 2], tol, 'block');
    // attention: ||attn_out|| / ||in|| = 1 / 1 and 1 / sqrt2
    expectAllClose(r.perSublayer!.attn, [(1 + 1 / s2) / 2], tol, 'attn');
    // MLP: ||mlp_out|| / ||mid|| = 1 / sqrt2 and sqrt2 / 1
    expectAllClose(r.perSublayer!.mlp, [(1 / s2 + s2) / 2], tol, 'mlp');
  });

  it('leaves tokens with a zero residual out of the mean', () => {
    const taps = handTaps();
    taps['blk.0.in'] = Float32Array.from([0, 0, 0, 1, 1, 0]);
    const r = contrib.compute({ taps, T: 2, C: 3, nLayers: 1 });
    expect(Number.isNaN(r.perToken![0][0])).toBe(true);
    // token 1: out - in = (0,0,1) -> 1 / sqrt2
    expectAllClose(r.perBlock, [1 / s2], tol, 'block mean over the defined token');
  });
});
