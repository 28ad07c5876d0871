// One-sided Jacobi SVD on matrices whose singular values are known by construction:
// diagonal, Q1 diag(s) Q2^T with Q1 a Householder reflection and Q2 a product of Givens rotations,
// rank-deficient, 1xN, Nx1, zero; plus A = U S V^T and orthonormality on seeded random matrices
// (the check is against A itself, not against another run of the code).
import { describe, expect, it } from 'vitest';
import { expectAllClose } from '../helpers/close.ts';
import { svd, singularValues } from '../../src/core/metrics/linalg.ts';
import { randn } from '../../src/core/tensor.ts';

const tol = { atol: 1e-12, rtol: 1e-12 };

/** Householder reflection I - 2 v v^T / (v^T v), [n, n]. */
function householder(v: number[]): number[][] {
  const n = v.length;
  const vv = v.reduce((a, x) => a + x * x, 0);
  return Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0) - (2 * v[i] * v[j]) / vv));
}

/** Product of Givens rotations G(i, j, theta) applied in order to the identity, [n, n]. */
function givens(n: number, rots: [number, number, number][]): number[][] {
  const q: number[][] = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
  for (const [i, j, th] of rots) {
    const c = Math.cos(th);
    const s = Math.sin(th);
    for (let r = 0; r < n; r++) {
      const a = q[r][i];
      const b = q[r][j];
      q[r][i] = c * a - s * b;
      q[r][j] = s * a + c * b;
    }
  }
  return q;
}

/** Q1[:, :k] diag(s) Q2^T as a row-major [m, n] array (k = s.length = n). */
function build(q1: number[][], s: number[], q2: number[][]): { a: Float64Array; m: number; n: number } {
  const m = q1.length;
  const n = q2.length;
  const a = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
    let v = 0;
    for (let k = 0; k < s.length; k++) v += q1[i][k] * s[k] * q2[j][k];
    a[i * n + j] = v;
  }
  return { a, m, n };
}

function transpose(a: ArrayLike<number>, m: number, n: number): Float64Array {
  const t = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) t[j * m + i] = a[i * n + j];
  return t;
}

const q1 = householder([1, -2, 0.5, 3]);
const q2 = givens(3, [[0, 1, 0.7], [1, 2, -1.3], [0, 2, 2.1]]);

describe('svd (one-sided Jacobi)', () => {
  it('diagonal matrix: |diagonal| sorted', () => {
    const a = [3, 0, 0, 0, -1, 0, 0, 0, 2];
    expectAllClose(singularValues(a, 3, 3), [3, 2, 1], tol, 's');
  });

  it('orthogonal x diagonal x orthogonal, tall and wide', () => {
    const { a, m, n } = build(q1, [5, 2, 0.5], q2);
    expectAllClose(singularValues(a, m, n), [5, 2, 0.5], tol, 's (4x3)');
    expectAllClose(singularValues(transpose(a, m, n), n, m), [5, 2, 0.5], tol, 's (3x4)');
  });

  it('orthogonal matrix: every singular value is 1', () => {
    const a = Float64Array.from(q1.flat());
    expectAllClose(singularValues(a, 4, 4), [1, 1, 1, 1], tol, 's');
  });

  it('rank-deficient: a zero singular value', () => {
    const { a, m, n } = build(q1, [4, 1, 0], q2);
    expectAllClose(singularValues(a, m, n), [4, 1, 0], { atol: 1e-14, rtol: 1e-12 }, 's');
    const r = svd(a, m, n, { vectors: true });
    // Reconstruction still holds with the zero column of U.
    expectAllClose(reconstruct(r.u!, r.s, r.v!, m, n), a, { atol: 1e-13, rtol: 0 }, 'U S V^T');
  });

  it('1xN and Nx1 vectors: the norm, with the unit vectors', () => {
    const r = svd([3, 4], 1, 2, { vectors: true });
    expectAllClose(r.s, [5], tol, 's (1x2)');
    expectAllClose(r.u!.map(Math.abs), [1], tol, 'u');
    expectAllClose(Array.from(r.v!, (x) => x * Math.sign(r.u![0])), [0.6, 0.8], tol, 'v');
    expectAllClose(singularValues([3, 4], 2, 1), [5], tol, 's (2x1)');
    expectAllClose(singularValues([1, 2, 2, 4, 4], 5, 1), [Math.sqrt(41)], tol, 's (5x1)');
  });

  it('zero matrix: all zeros', () => {
    expectAllClose(singularValues(new Float64Array(6), 2, 3), [0, 0], tol, 's');
  });

  for (const [m, n] of [[7, 5], [5, 7], [6, 6], [1, 9], [9, 1]] as const) {
    it(`random ${m}x${n}: A = U S V^T, U^T U = I, V^T V = I, s descending`, () => {
      const a = randn(m * n, 1000 + m * 10 + n);
      const r = svd(a, m, n, { vectors: true });
      const k = Math.min(m, n);
      expect(r.s.length).toBe(k);
      for (let i = 1; i < k; i++) expect(r.s[i]).toBeLessThanOrEqual(r.s[i - 1]);
      expectAllClose(reconstruct(r.u!, r.s, r.v!, m, n), a, { atol: 1e-12, rtol: 0 }, 'U S V^T');
      expectAllClose(gramCols(r.u!, m, k), eye(k), { atol: 1e-12, rtol: 0 }, 'U^T U');
      expectAllClose(gramCols(r.v!, n, k), eye(k), { atol: 1e-12, rtol: 0 }, 'V^T V');
      // Sum of squared singular values = squared Frobenius norm (an independent identity).
      const fro2 = Array.from(a).reduce((x, y) => x + y * y, 0);
      expect(r.s.reduce((x, y) => x + y * y, 0)).toBeCloseTo(fro2, 10);
    });
  }
});

function reconstruct(u: Float64Array, s: Float64Array, v: Float64Array, m: number, n: number): Float64Array {
  const k = s.length;
  const a = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
    let x = 0;
    for (let c = 0; c < k; c++) x += u[i * k + c] * s[c] * v[j * k + c];
    a[i * n + j] = x;
  }
  return a;
}

function gramCols(x: Float64Array, rows: number, k: number): Float64Array {
  const g = new Float64Array(k * k);
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) {
    let s = 0;
    for (let r = 0; r < rows; r++) s += x[r * k + i] * x[r * k + j];
    g[i * k + j] = s;
  }
  return g;
}

function eye(k: number): Float64Array {
  const e = new Float64Array(k * k);
  for (let i = 0; i < k; i++) e[i * k + i] = 1;
  return e;
}
