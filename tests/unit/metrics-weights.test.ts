// Weight metrics on hand-checked tiny matrices: ZD (pooled vs per-matrix z-scores), kurtosis,
// magnitude outlier share, OWL's outlier ratio with Wanda scores, effective rank, Frobenius norm.
import { describe, expect, it } from 'vitest';
import { expectAllClose } from '../helpers/close.ts';
import * as zd from '../../src/core/metrics/zd.ts';
import * as weights from '../../src/core/metrics/weights.ts';
import { effectiveRank, kurtosis, magnitudeOutlierShare, owlOutliers, weightStats } from '../../src/core/metrics/weights.ts';
import { singularValues } from '../../src/core/metrics/linalg.ts';
import type { WeightMatrix } from '../../src/core/metrics/types.ts';

const tol = { atol: 1e-12, rtol: 1e-12 };
const mat = (rows: number, cols: number, v: number[]): WeightMatrix => ({ rows, cols, data: Float32Array.from(v) });
const lookup = (m: Record<string, WeightMatrix>) => (name: string) => m[name];

describe('zd (LayerwiseQuant z-score share)', () => {
  // Block 0: attn_q = [[1,-1],[1,-1]], ffn_up = [3,-3,0,0,0,0].
  //   Pooled: N = 10, mu = 0, var = (4 + 18)/10 = 2.2, sigma = 1.483 -> only the two 3s -> 2/10.
  //   attn_q alone: sigma = 1, |z| = 1 is not > 1 -> 0. ffn_up alone: sigma = sqrt(3) -> 2/6.
  // Block 1: attn_q only, ZD 0 -> with "smaller is more important", block 1 ranks first.
  const w = {
    'blk.0.attn_q': mat(2, 2, [1, -1, 1, -1]),
    'blk.0.ffn_up': mat(1, 6, [3, -3, 0, 0, 0, 0]),
    'blk.0.attn_norm': mat(1, 2, [100, 100]), // not a linear weight: ignored
    'blk.1.attn_q': mat(2, 2, [1, -1, 1, -1]),
  };
  it('pools mean and std over the block, per-matrix values in perTensor', () => {
    const r = zd.compute({ nLayers: 2, weight: lookup(w) });
    expectAllClose(r.perBlock, [0.2, 0], tol, 'ZD');
    expectAllClose([r.perTensor!['blk.0.attn_q'], r.perTensor!['blk.0.ffn_up'], r.perTensor!['blk.1.attn_q']], [0, 2 / 6, 0], tol, 'per matrix');
    expectAllClose(r.extra!.perMatrixMean as number[], [1 / 6, 0], tol, 'per-matrix mean');
    expect(r.higherIsMoreImportant).toBe(false);
    expect(r.ranking).toEqual([1, 0]);
    expect(r.perTensor!['blk.0.attn_norm']).toBeUndefined();
  });
  it('constant weights give 0; a block without linear weights gives NaN', () => {
    // A Map works as the weight source as well as a function.
    const r = zd.compute({ nLayers: 2, weight: new Map([['blk.0.ffn_down', mat(1, 3, [2, 2, 2])]]) });
    expect(r.perBlock[0]).toBe(0);
    expect(Number.isNaN(r.perBlock[1])).toBe(true);
    expect(r.ranking).toEqual([0, 1]);
  });
});

describe('weight statistics', () => {
  it('Pearson kurtosis of known samples (not excess)', () => {
    // 1..5: mu 3, m2 = 2, m4 = 34/5 -> 1.7.
    expectAllClose([kurtosis([[1, 2, 3, 4, 5]])], [1.7], tol, 'uniform 1..5');
    // Bernoulli(1/4) scaled: (1 - 6pq)/(pq) + 3 = 7/3.
    expectAllClose([kurtosis([[0, 0, 0, 10]])], [7 / 3], tol, 'Bernoulli(1/4)');
    // Pooling over parts = the concatenation.
    expectAllClose([kurtosis([[1, 2], [3, 4, 5]])], [1.7], tol, 'pooled');
    expect(Number.isNaN(kurtosis([[4, 4, 4]]))).toBe(true);
  });

  it('magnitude outlier share |w| > k mean|w|', () => {
    // mean|w| = 29/10 = 2.9; k = 5 -> 14.5: only 20.
    const v = [1, 1, 1, 1, 1, 1, 1, 1, 1, -20];
    expectAllClose([magnitudeOutlierShare([v], 5)], [0.1], tol, 'k=5');
    // k = 0.3 -> 0.87: all ten.
    expectAllClose([magnitudeOutlierShare([v], 0.3)], [1], tol, 'k=0.3');
  });

  it('effective rank: identity n = n, rank 1 = 1, two equal values = 2', () => {
    const n = 5;
    const eye = new Float64Array(n * n);
    for (let i = 0; i < n; i++) eye[i * n + i] = 1;
    expect(effectiveRank(singularValues(eye, n, n))).toBeCloseTo(5, 12);
    const outer = new Float64Array(4 * 3);
    const u = [1, -2, 0.5, 3];
    const v = [2, 1, -1];
    for (let i = 0; i < 4; i++) for (let j = 0; j < 3; j++) outer[i * 3 + j] = u[i] * v[j];
    expect(effectiveRank(singularValues(outer, 4, 3))).toBeCloseTo(1, 12);
    expect(effectiveRank([3, 3, 0])).toBeCloseTo(2, 14);
    // p = (1/2, 1/4, 1/4): H = 1.5 ln 2 -> 2^1.5.
    expect(effectiveRank([2, 1, 1])).toBeCloseTo(2 ** 1.5, 13);
    expect(effectiveRank([0, 0])).toBe(0);
  });

  it('OWL outlier ratio with Wanda scores, mean over the whole block', () => {
    // attn_q W = [[1,2],[3,4]], ||X|| = [1, 0.5] -> A = [[1,1],[3,2]];
    // ffn_down W = [[-10, 0]],   ||X|| = [2, 1]   -> A = [[20, 0]].  mean(A) = 27/6 = 4.5.
    const mats: [string, WeightMatrix][] = [['blk.0.attn_q', mat(2, 2, [1, 2, 3, 4])], ['blk.0.ffn_down', mat(1, 2, [-10, 0])]];
    const norms: Record<string, Float32Array> = { 'blk.0.attn_q': Float32Array.from([1, 0.5]), 'blk.0.ffn_down': Float32Array.from([2, 1]) };
    const m2 = owlOutliers(mats, (n) => norms[n], 2); // threshold 9: only 20
    expectAllClose([m2.layer, m2.perTensor['blk.0.attn_q'], m2.perTensor['blk.0.ffn_down']], [1 / 6, 0, 1 / 2], tol, 'M=2');
    const mh = owlOutliers(mats, (n) => norms[n], 0.5); // threshold 2.25: 3 and 20
    expectAllClose([mh.layer, mh.perTensor['blk.0.attn_q'], mh.perTensor['blk.0.ffn_down']], [2 / 6, 1 / 4, 1 / 2], tol, 'M=0.5');
    // A common scale on the norms cancels.
    const scaled = owlOutliers(mats, (n) => norms[n].map((x) => x * 8), 2);
    expect(scaled.layer).toBe(m2.layer);
    expect(() => owlOutliers(mats, () => Float32Array.from([1, 2, 3]), 2)).toThrow(/input columns/);
  });

  it('weightStats / compute: Frobenius norm per tensor and per block, OWL via ctx, NaN without norms', () => {
    const w = { 'blk.0.attn_q': mat(2, 2, [1, 2, 3, 4]), 'blk.0.ffn_down': mat(1, 2, [-10, 0]) };
    const norms: Record<string, Float32Array> = { 'blk.0.attn_q': Float32Array.from([1, 0.5]), 'blk.0.ffn_down': Float32Array.from([2, 1]) };
    const ws = weightStats({ nLayers: 1, weight: lookup(w), inputNorms: (n) => norms[n], owlM: 2 });
    expectAllClose(ws.perLayer.fro, [Math.sqrt(130)], tol, 'block fro');
    expectAllClose([ws.perTensor['blk.0.attn_q'].fro, ws.perTensor['blk.0.ffn_down'].fro], [Math.sqrt(30), 10], tol, 'tensor fro');
    expectAllClose(ws.perLayer.owl, [1 / 6], tol, 'owl');
    // erank of [-10, 0] (1x2) is 1; of [[1,2],[3,4]]: s = sqrt(15 +- sqrt(221)).
    const s1 = Math.sqrt(15 + Math.sqrt(221));
    const s2 = Math.sqrt(15 - Math.sqrt(221));
    const p1 = s1 / (s1 + s2);
    const e = Math.exp(-(p1 * Math.log(p1) + (1 - p1) * Math.log(1 - p1)));
    expectAllClose([ws.perTensor['blk.0.attn_q'].erank, ws.perTensor['blk.0.ffn_down'].erank], [e, 1], { atol: 1e-12, rtol: 0 }, 'erank');
    expectAllClose(ws.perLayer.erank, [(e + 1) / 2], { atol: 1e-12, rtol: 0 }, 'block erank');
    expectAllClose(ws.perLayer.erankNormalized, [(e / 2 + 1) / 2], { atol: 1e-12, rtol: 0 }, 'block erank normalized');

    const owl = weights.compute({ nLayers: 1, weight: lookup(w), inputNorms: (n) => norms[n], owlM: 2 }, 'owl');
    expect(owl.metricId).toBe('owl');
    expectAllClose(owl.perBlock, [1 / 6], tol, 'owl perBlock');
    const noNorms = weights.compute({ nLayers: 1, weight: lookup(w) }, 'owl');
    expect(Number.isNaN(noNorms.perBlock[0])).toBe(true);
    const fro = weights.compute({ nLayers: 1, weight: lookup(w) }, 'fro');
    expect(fro.perTensor!['blk.0.ffn_down']).toBe(10);
  });
});
