// Dense linear algebra for the metrics, in float64: the singular value decomposition by one-sided
// (Hestenes) Jacobi rotations. A [m, n] row-major = U diag(s) V^T with k = min(m, n), U [m, k] and
// V [n, k] row-major with orthonormal columns, s descending and >= 0.
//
// Method (Hestenes 1958; Demmel & Veselic 1992, "Jacobi's method is more accurate than QR"): work on
// the k columns of A (or of A^T when m < n). For every pair of columns (p, q) with
// alpha = ||w_p||^2, beta = ||w_q||^2, gamma = <w_p, w_q>, a plane rotation
//   zeta = (beta - alpha) / (2 gamma), t = sign(zeta) / (|zeta| + sqrt(1 + zeta^2)),
//   c = 1 / sqrt(1 + t^2), s = c t,  w_p <- c w_p - s w_q,  w_q <- s w_p + c w_q
// makes the two columns orthogonal; the same rotations applied to the identity give V. Sweeps repeat
// until every pair satisfies |gamma| <= tol sqrt(alpha beta). Then s_j = ||w_j|| and U_j = w_j / s_j.
// Singular values come out with high relative accuracy; the cost is O(sweeps * k^2 * max(m, n)),
// exact and fast enough for the matrices of the small models this runs on (a few hundred wide).
// Columns of U for zero singular values are left as zero vectors.

export interface Svd {
  m: number;
  n: number;
  k: number;
  /** Singular values, descending, length k. */
  s: Float64Array;
  /** [m, k] row-major, present when vectors were asked for. */
  u?: Float64Array;
  /** [n, k] row-major, present when vectors were asked for. */
  v?: Float64Array;
  /** Sweeps used. */
  sweeps: number;
}

export interface SvdOptions {
  vectors?: boolean;
  /** Orthogonality tolerance (default 1e-15). */
  tol?: number;
  maxSweeps?: number;
}

export function svd(a: ArrayLike<number>, m: number, n: number, opts: SvdOptions = {}): Svd {
  if (a.length !== m * n) throw new Error(`svd: ${a.length} values for a ${m}x${n} matrix`);
  const tol = opts.tol ?? 1e-15;
  const maxSweeps = opts.maxSweeps ?? 80;
  const wantVec = opts.vectors ?? false;
  const trans = m < n;
  const r = trans ? n : m; // rows of the working matrix
  const k = trans ? m : n; // its columns
  // Working columns w_j (length r) and accumulated right rotations z_j (length k).
  const w: Float64Array[] = [];
  for (let j = 0; j < k; j++) {
    const col = new Float64Array(r);
    for (let i = 0; i < r; i++) col[i] = trans ? a[j * n + i] : a[i * n + j];
    w.push(col);
  }
  const z: Float64Array[] = [];
  if (wantVec) for (let j = 0; j < k; j++) { const e = new Float64Array(k); e[j] = 1; z.push(e); }

  let sweeps = 0;
  for (; sweeps < maxSweeps; sweeps++) {
    let rotated = false;
    for (let p = 0; p < k - 1; p++) {
      for (let q = p + 1; q < k; q++) {
        const wp = w[p];
        const wq = w[q];
        let alpha = 0;
        let beta = 0;
        let gamma = 0;
        for (let i = 0; i < r; i++) {
          alpha += wp[i] * wp[i];
          beta += wq[i] * wq[i];
          gamma += wp[i] * wq[i];
        }
        if (gamma === 0 || Math.abs(gamma) <= tol * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.hypot(1, zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (let i = 0; i < r; i++) {
          const x = wp[i];
          const y = wq[i];
          wp[i] = c * x - s * y;
          wq[i] = s * x + c * y;
        }
        if (wantVec) {
          const zp = z[p];
          const zq = z[q];
          for (let i = 0; i < k; i++) {
            const x = zp[i];
            const y = zq[i];
            zp[i] = c * x - s * y;
            zq[i] = s * x + c * y;
          }
        }
      }
    }
    if (!rotated) break;
  }

  const norms = w.map((col) => Math.sqrt(col.reduce((acc, x) => acc + x * x, 0)));
  const order = norms.map((_, j) => j).sort((x, y) => norms[y] - norms[x] || x - y);
  const sv = Float64Array.from(order, (j) => norms[j]);
  const out: Svd = { m, n, k, s: sv, sweeps };
  if (wantVec) {
    // Left vectors of the working matrix: w_j / s_j ([r, k]); right ones: z_j ([k, k]).
    const left = new Float64Array(r * k);
    const right = new Float64Array(k * k);
    order.forEach((j, col) => {
      const sj = norms[j];
      if (sj > 0) for (let i = 0; i < r; i++) left[i * k + col] = w[j][i] / sj;
      for (let i = 0; i < k; i++) right[i * k + col] = z[j][i];
    });
    // A = W-form: (trans ? A^T : A) = left S right^T.
    out.u = trans ? right : left;
    out.v = trans ? left : right;
  }
  return out;
}

/** Singular values of A [m, n] (row-major), descending. */
export function singularValues(a: ArrayLike<number>, m: number, n: number): Float64Array {
  return svd(a, m, n).s;
}
