// Central finite differences in float64 for the gradient tests: d/dx_i F(x) ~ (F(x + h e_i) - F(x - h e_i)) / 2h.
import { mulberry32 } from '../../src/core/tensor.ts';

export function rand64(n: number, seed: number, scale = 1): Float64Array {
  const r = mulberry32(seed);
  return Float64Array.from({ length: n }, () => (r() * 2 - 1) * scale);
}

/** Numerical gradient of the scalar f() w.r.t. every entry of x (edited in place and restored). */
export function numGrad(f: () => number, x: Float64Array, h = 1e-5, only?: number[]): Float64Array {
  const idx = only ?? Array.from(x.keys());
  const g = new Float64Array(idx.length);
  idx.forEach((i, k) => {
    const x0 = x[i];
    x[i] = x0 + h;
    const fp = f();
    x[i] = x0 - h;
    const fm = f();
    x[i] = x0;
    g[k] = (fp - fm) / (2 * h);
  });
  return g;
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
