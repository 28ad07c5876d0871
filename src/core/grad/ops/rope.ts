// Rotary position embedding forward and backward in float64 (Su et al. 2021, arXiv 2104.09864), same
// angles and pairings as src/core/ops/rope.ts: for pair i < dim/2, angle = pos theta^(-2i/dim);
// 'adjacent' pairs (2i, 2i+1), 'half' pairs (i, i + dim/2); (a, b) -> (a cos - b sin, a sin + b cos).
// The map is a rotation R per pair, so the backward is its transpose: dx = R^T dy = rotation by -angle.
// x, dy: [T, H, D] for positions pos0 + t. Returns a new array (inputs untouched).

import type { Arr } from './types.ts';

function rotate(x: Arr, T: number, H: number, D: number, pos0: number, theta: number, dim: number, kind: 'adjacent' | 'half', sign: 1 | -1): Float64Array {
  const y = Float64Array.from(x);
  const half = dim / 2;
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      const ang = (pos0 + t) / Math.pow(theta, (2 * i) / dim);
      const c = Math.cos(ang);
      const s = sign * Math.sin(ang);
      for (let h = 0; h < H; h++) {
        const o = (t * H + h) * D;
        const ia = kind === 'adjacent' ? o + 2 * i : o + i;
        const ib = kind === 'adjacent' ? o + 2 * i + 1 : o + i + half;
        const a = y[ia];
        const b = y[ib];
        y[ia] = a * c - b * s;
        y[ib] = a * s + b * c;
      }
    }
  }
  return y;
}

export function ropeF64(x: Arr, T: number, H: number, D: number, pos0: number, theta: number, dim: number, kind: 'adjacent' | 'half'): Float64Array {
  return rotate(x, T, H, D, pos0, theta, dim, kind, 1);
}

export function ropeBackward(dy: Arr, T: number, H: number, D: number, pos0: number, theta: number, dim: number, kind: 'adjacent' | 'half'): Float64Array {
  return rotate(dy, T, H, D, pos0, theta, dim, kind, -1);
}
