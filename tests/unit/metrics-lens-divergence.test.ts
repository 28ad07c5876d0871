// Logit lens and next-token divergence on distributions computable by hand.
import { describe, expect, it } from 'vitest';
import { expectAllClose } from '../helpers/close.ts';
import * as lens from '../../src/core/metrics/lens.ts';
import { compareLogits, klFromLogProbs, logSoftmaxRow } from '../../src/core/metrics/divergence.ts';
import type { Taps } from '../../src/core/metrics/types.ts';

const tol = { atol: 1e-12, rtol: 1e-12 };
const ln = Math.log;

describe('divergence', () => {
  it('KL, NLL and top-1 agreement of known distributions', () => {
    // Row 0: base p = (1/2, 1/4, 1/4), mod q = (1/4, 1/2, 1/4): KL = 1/2 ln 2 - 1/4 ln 2 = 1/4 ln 2.
    // Row 1: identical: KL 0, agree. Base logits shifted by +1000 (softmax shift invariance, overflow-safe).
    const base = [ln(0.5) + 1000, ln(0.25) + 1000, ln(0.25) + 1000, 1, 2, 3];
    const mod = [ln(0.25), ln(0.5), ln(0.25), 1, 2, 3];
    const d = compareLogits(base, mod, 2, 3, [0]);
    expectAllClose(d.klPerToken, [0.25 * ln(2), 0], tol, 'KL per token');
    expectAllClose([d.kl], [0.125 * ln(2)], tol, 'mean KL');
    expectAllClose([d.nllBase, d.nllMod, d.nllDiff], [ln(2), ln(4), ln(2)], tol, 'NLL (row 0 only)');
    expect(d.top1PerToken).toEqual([false, true]);
    expect(d.top1Agreement).toBe(0.5);
  });

  it('zero-probability terms: p = 0 contributes 0, q = 0 where p > 0 gives Infinity', () => {
    const lp = logSoftmaxRow([0, -Infinity], 0, 2);
    expect(Array.from(lp)).toEqual([0, -Infinity]);
    expect(klFromLogProbs(lp, logSoftmaxRow([0, 0], 0, 2))).toBeCloseTo(ln(2), 14);
    expect(klFromLogProbs(logSoftmaxRow([0, 0], 0, 2), lp)).toBe(Infinity);
  });

  it('negative targets are skipped; no targets gives NaN NLL; bad targets throw', () => {
    const z = [0, 1, 1, 0];
    const d = compareLogits(z, z, 2, 2, [-1, 0]);
    // Row 1 logits (1, 0), target 0: -ln(e / (e + 1)) = ln(1 + 1/e).
    expectAllClose([d.nllBase], [ln(1 + 1 / Math.E)], tol, 'NLL of row 1, target 0');
    expect(d.kl).toBe(0);
    expect(Number.isNaN(compareLogits(z, z, 2, 2).nllDiff)).toBe(true);
    expect(() => compareLogits(z, z, 2, 2, [5])).toThrow(/vocabulary/);
  });
});

describe('logit lens', () => {
  // Identity unembedding (C = V = 2), T = 2, L = 2.
  //   final logits: t0 (ln3, 0) -> p_f = (3/4, 1/4);  t1 (0, ln3) -> (1/4, 3/4)
  //   block 0 out:  t0 (0, 0)   -> (1/2, 1/2), KL = 3/4 ln(3/2) - 1/4 ln 2, top1 0 (tie) p 1/2, agree
  //                 t1 (ln3, 0) -> (3/4, 1/4), KL = 1/2 ln 3, top1 0 p 3/4, disagree
  //   block 1 out = final: KL 0, agree.  Embedding blk.0.in = 0: KL = 3/4 ln(3/2) - 1/4 ln 2 at both.
  const k0 = 0.75 * ln(1.5) - 0.25 * ln(2);
  const k1 = 0.5 * ln(3);
  const final = Float32Array.from([ln(3), 0, 0, ln(3)]);
  const taps = (): Taps => ({
    'blk.0.in': Float32Array.from([0, 0, 0, 0]),
    'blk.0.out': Float32Array.from([0, 0, ln(3), 0]),
    'blk.1.out': final,
    logits: final,
  });
  const unembed = (h: Float32Array) => h.slice();

  it('matches the hand computation', () => {
    const r = lens.compute({ taps: taps(), T: 2, C: 2, nLayers: 2, unembed });
    // Float32 storage of ln 3 limits the agreement with the float64 hand values.
    const t32 = { atol: 1e-7, rtol: 1e-7 };
    expectAllClose(r.perToken![0], [k0, k1], t32, 'KL block 0');
    expectAllClose(r.perToken![1], [0, 0], t32, 'KL block 1');
    expectAllClose(r.perBlock, [(k0 + k1) / 2, 0], t32, 'mean KL');
    expectAllClose([0.34005909013759594], [(k0 + k1) / 2], tol, 'hand decimal');
    const e = r.extra!;
    expect(e.top1).toEqual([[0, 0], [0, 1]]);
    expectAllClose((e.top1Prob as number[][]).flat(), [0.5, 0.75, 0.75, 0.75], t32, 'top1 prob');
    expect(e.agree).toEqual([[1, 0], [1, 1]]);
    expectAllClose(e.agreement as number[], [0.5, 1], tol, 'agreement');
    expect(e.finalTop1).toEqual([0, 1]);
    expectAllClose([e.embedKl as number], [k0], t32, 'embedding KL');
    expectAllClose(e.klDrop as number[], [k0 - (k0 + k1) / 2, (k0 + k1) / 2], t32, 'KL drop');
    expect(r.ranking).toEqual([1, 0]);
    expect(r.higherIsMoreImportant).toBe(false);
  });

  it('uses unembed(last block output) when there is no logits tap', () => {
    const t = taps();
    delete t.logits;
    delete t['blk.0.in'];
    const r = lens.compute({ taps: t, T: 2, C: 2, nLayers: 2, unembed });
    expectAllClose(r.perBlock, [(k0 + k1) / 2, 0], { atol: 1e-7, rtol: 1e-7 }, 'mean KL');
    expect(Number.isNaN(r.extra!.embedKl as number)).toBe(true);
  });

  it('unembeds through a real map (V != C): a scaled copy of the final residual agrees in top-1', () => {
    // unembed(h) = h W^T with W = [[1,0],[0,1],[1,1]] (V = 3): logits_t = (h0, h1, h0 + h1).
    const W = [[1, 0], [0, 1], [1, 1]];
    const un = (h: Float32Array, T: number) => {
      const out = new Float32Array(T * 3);
      for (let t = 0; t < T; t++) for (let v = 0; v < 3; v++) out[t * 3 + v] = W[v][0] * h[t * 2] + W[v][1] * h[t * 2 + 1];
      return out;
    };
    const fin = Float32Array.from([2, -1]);
    const r = lens.compute({ taps: { 'blk.0.out': Float32Array.from([4, -2]), 'blk.1.out': fin }, T: 1, C: 2, nLayers: 2, unembed: un });
    expect(r.extra!.vocabSize).toBe(3);
    expect(r.extra!.agree).toEqual([[1], [1]]);
    // block 0: logits (4, -2, 2) vs final (2, -1, 1): KL > 0; block 1: 0.
    expect(r.perBlock[0]).toBeGreaterThan(0);
    expect(r.perBlock[1]).toBe(0);
  });
});
