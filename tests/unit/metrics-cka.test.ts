// Linear CKA: a hand 3x2 example, the invariances the definition guarantees (self = 1, orthogonal
// transform = 1, isotropic scaling, translation), and a property test of the Gram form against the
// feature form and against a third formula written here from the HSIC definition
// (tr(K H L H) with the centering matrix H applied to the uncentered Gram matrices).
import { describe, expect, it } from 'vitest';
import { expectAllClose } from '../helpers/close.ts';
import * as cka from '../../src/core/metrics/cka.ts';
import { ckaMatrix, linearCka, linearCkaFeature, linearCkaGram } from '../../src/core/metrics/cka.ts';
import { randn } from '../../src/core/tensor.ts';
import type { Taps } from '../../src/core/metrics/types.ts';

const tol = { atol: 1e-12, rtol: 1e-12 };

/** HSIC-based linear CKA: tr(KHLH) / sqrt(tr(KHKH) tr(LHLH)), K = X X^T uncentered, H = I - 11^T/T. */
function ckaHsic(x: ArrayLike<number>, y: ArrayLike<number>, T: number, p: number, q: number): number {
  const gramOf = (a: ArrayLike<number>, d: number) => {
    const k: number[][] = [];
    for (let i = 0; i < T; i++) {
      k.push([]);
      for (let j = 0; j < T; j++) {
        let s = 0;
        for (let c = 0; c < d; c++) s += a[i * d + c] * a[j * d + c];
        k[i].push(s);
      }
    }
    return k;
  };
  const center = (k: number[][]) => {
    // H K H: subtract row means and column means, add the grand mean.
    const rm = k.map((r) => r.reduce((a, b) => a + b, 0) / T);
    const cm = k[0].map((_, j) => k.reduce((a, r) => a + r[j], 0) / T);
    const g = rm.reduce((a, b) => a + b, 0) / T;
    return k.map((r, i) => r.map((v, j) => v - rm[i] - cm[j] + g));
  };
  const kc = center(gramOf(x, p));
  const lc = center(gramOf(y, q));
  const inner = (a: number[][], b: number[][]) => a.reduce((s, r, i) => s + r.reduce((t, v, j) => t + v * b[i][j], 0), 0);
  return inner(kc, lc) / Math.sqrt(inner(kc, kc) * inner(lc, lc));
}

/** Multiply X [T, C] by the Householder reflection I - 2vv^T/(v^T v) on the right. */
function reflect(x: Float32Array, T: number, C: number, v: Float32Array): Float64Array {
  const vv = v.reduce((a, b) => a + b * b, 0);
  const out = new Float64Array(T * C);
  for (let t = 0; t < T; t++) {
    let d = 0;
    for (let c = 0; c < C; c++) d += x[t * C + c] * v[c];
    for (let c = 0; c < C; c++) out[t * C + c] = x[t * C + c] - (2 * d * v[c]) / vv;
  }
  return out;
}

describe('linear CKA', () => {
  it('hand 3x2 example: X = [[1,0],[0,1],[0,0]], Y = [[1,0],[0,0],[0,1]] -> 7/10', () => {
    // Centered: ||Yc^T Xc||_F^2 = 7/9, ||Xc^T Xc||_F = ||Yc^T Yc||_F = sqrt(10/9).
    const x = [1, 0, 0, 1, 0, 0];
    const y = [1, 0, 0, 0, 0, 1];
    expect(linearCkaGram(x, y, 3, 2, 2)).toBeCloseTo(0.7, 14);
    expect(linearCkaFeature(x, y, 3, 2, 2)).toBeCloseTo(0.7, 14);
    expect(ckaHsic(x, y, 3, 2, 2)).toBeCloseTo(0.7, 14);
  });

  for (const form of ['gram', 'feature'] as const) {
    it(`${form} form: self = 1, orthogonal transform = 1, scale and translation invariant`, () => {
      const T = 9;
      const C = 6;
      const x = randn(T * C, 11);
      expect(linearCka(x, x, T, C, C, form)).toBeCloseTo(1, 12);
      const rot = reflect(x, T, C, randn(C, 12));
      expect(linearCka(x, rot, T, C, C, form)).toBeCloseTo(1, 12);
      const y = randn(T * C, 13);
      const base = linearCka(x, y, T, C, C, form);
      expect(base).toBeGreaterThan(0);
      expect(base).toBeLessThan(1);
      // Array.from keeps the transformed values in float64 (a Float32Array map would round them).
      expect(linearCka(Array.from(x, (v) => -3.5 * v), y, T, C, C, form)).toBeCloseTo(base, 12);
      expect(linearCka(Array.from(x, (v, i) => v + (i % C) * 10), y, T, C, C, form)).toBeCloseTo(base, 12);
    });
  }

  for (const [T, p, q] of [[5, 12, 7], [20, 4, 6], [8, 8, 8], [3, 1, 2]] as const) {
    it(`Gram form = feature form = HSIC form on random T=${T}, p=${p}, q=${q}`, () => {
      const x = randn(T * p, 100 + T);
      const y = randn(T * q, 200 + T);
      const g = linearCkaGram(x, y, T, p, q);
      const f = linearCkaFeature(x, y, T, p, q);
      const h = ckaHsic(x, y, T, p, q);
      expect(g).toBeCloseTo(h, 12);
      expect(f).toBeCloseTo(h, 12);
      expect(linearCka(x, y, T, p, q)).toBeCloseTo(h, 12);
    });
  }

  it('undefined for a representation without variance across tokens (NaN)', () => {
    expect(Number.isNaN(linearCka([1, 2, 3], [4, 5, 6], 1, 3, 3))).toBe(true);
    expect(Number.isNaN(linearCka([1, 2, 1, 2], [0, 1, 1, 0], 2, 2, 2))).toBe(true);
  });

  it('ckaMatrix: symmetric, unit diagonal, equal to pairwise CKA in both forms', () => {
    const T = 6;
    const C = 4;
    const reps = [randn(T * C, 1), randn(T * C, 2), randn(T * C, 3)];
    for (const form of ['gram', 'feature'] as const) {
      const m = ckaMatrix(reps, T, C, form);
      for (let i = 0; i < 3; i++) {
        expect(m[i][i]).toBeCloseTo(1, 12);
        for (let j = 0; j < 3; j++) expect(m[i][j]).toBeCloseTo(ckaHsic(reps[i], reps[j], T, C, C), 12);
      }
    }
  });
});

describe('cka metric', () => {
  it('perBlock = 1 - CKA(in, out): 0 for a block that scales and rotates, > 0 otherwise', () => {
    const T = 7;
    const C = 5;
    const h0 = randn(T * C, 21);
    const h1 = Float32Array.from(reflect(h0, T, C, randn(C, 22)), (v) => 2 * v); // orthogonal x scale
    const h2 = randn(T * C, 23); // unrelated
    const taps: Taps = { 'blk.0.in': h0, 'blk.0.out': h1, 'blk.1.in': h1, 'blk.1.out': h2 };
    const r = cka.compute({ taps, T, C, nLayers: 2 });
    expectAllClose([r.perBlock[0]], [0], { atol: 1e-6, rtol: 0 }, 'block 0');
    expectAllClose([r.perBlock[1]], [1 - ckaHsic(h1, h2, T, C, C)], { atol: 1e-9, rtol: 0 }, 'block 1');
    expect(r.ranking).toEqual([1, 0]);
    expect(r.matrix!.length).toBe(2);
    expectAllClose(r.matrix!.flat(), [1, ckaHsic(h1, h2, T, C, C), ckaHsic(h1, h2, T, C, C), 1], { atol: 1e-9, rtol: 0 }, 'matrix');
  });

  it('gives the same numbers with either form forced', () => {
    const T = 4;
    const C = 3;
    const taps: Taps = {};
    for (let l = 0; l < 3; l++) {
      taps[`blk.${l}.in`] = randn(T * C, 30 + l);
      taps[`blk.${l}.out`] = randn(T * C, 40 + l);
    }
    const g = cka.compute({ taps, T, C, nLayers: 3, form: 'gram' });
    const f = cka.compute({ taps, T, C, nLayers: 3, form: 'feature' });
    expectAllClose(g.perBlock, f.perBlock, tol, 'perBlock');
    expectAllClose(g.matrix!.flat(), f.matrix!.flat(), tol, 'matrix');
  });
});
