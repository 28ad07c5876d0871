// RMSNorm forward and backward in float64 (Zhang & Sennrich 2019, arXiv 1910.07467), per row of x [T, C]:
//   r = 1 / sqrt(mean_c x_c^2 + eps),  y_c = x_c r w_c
//   backward: dx_c = r w_c dy_c - x_c r^3 / C * sum_j dy_j w_j x_j,   dw_c = sum_t dy_c x_c r

import type { Arr } from './types.ts';

export function rmsNormF64(x: Arr, T: number, C: number, w: Arr, eps: number): Float64Array {
  const y = new Float64Array(T * C);
  for (let t = 0; t < T; t++) {
    const o = t * C;
    let ss = 0;
    for (let c = 0; c < C; c++) ss += x[o + c] * x[o + c];
    const r = 1 / Math.sqrt(ss / C + eps);
    for (let c = 0; c < C; c++) y[o + c] = x[o + c] * r * w[c];
  }
  return y;
}

export function rmsNormBackward(dy: Arr, x: Arr, T: number, C: number, w: Arr, eps: number): { dx: Float64Array; dw: Float64Array } {
  const dx = new Float64Array(T * C);
  const dw = new Float64Array(C);
  for (let t = 0; t < T; t++) {
    const o = t * C;
    let ss = 0;
    let s = 0;
    for (let c = 0; c < C; c++) {
      ss += x[o + c] * x[o + c];
      s += dy[o + c] * w[c] * x[o + c];
    }
    const r = 1 / Math.sqrt(ss / C + eps);
    const k = (r * r * r * s) / C;
    for (let c = 0; c < C; c++) {
      dx[o + c] = r * w[c] * dy[o + c] - x[o + c] * k;
      dw[c] += dy[o + c] * x[o + c] * r;
    }
  }
  return { dx, dw };
}
