// LayerNorm forward and backward in float64 (Ba et al. 2016, arXiv 1607.06450; biased variance as
// PyTorch nn.LayerNorm), per row of x [T, C]:
//   mu = mean x, r = 1 / sqrt(mean (x - mu)^2 + eps), xh = (x - mu) r, y = xh w + b
//   backward: g = dy w; dx = r (g - mean(g) - xh mean(g xh)); dw = sum_t dy xh; db = sum_t dy

import type { Arr } from './types.ts';

function stats(x: Arr, o: number, C: number, eps: number): { mu: number; r: number } {
  let s = 0;
  for (let c = 0; c < C; c++) s += x[o + c];
  const mu = s / C;
  let v = 0;
  for (let c = 0; c < C; c++) v += (x[o + c] - mu) ** 2;
  return { mu, r: 1 / Math.sqrt(v / C + eps) };
}

export function layerNormF64(x: Arr, T: number, C: number, w: Arr, b: Arr | undefined, eps: number): Float64Array {
  const y = new Float64Array(T * C);
  for (let t = 0; t < T; t++) {
    const o = t * C;
    const { mu, r } = stats(x, o, C, eps);
    for (let c = 0; c < C; c++) y[o + c] = (x[o + c] - mu) * r * w[c] + (b ? b[c] : 0);
  }
  return y;
}

export function layerNormBackward(dy: Arr, x: Arr, T: number, C: number, w: Arr, eps: number): { dx: Float64Array; dw: Float64Array; db: Float64Array } {
  const dx = new Float64Array(T * C);
  const dw = new Float64Array(C);
  const db = new Float64Array(C);
  for (let t = 0; t < T; t++) {
    const o = t * C;
    const { mu, r } = stats(x, o, C, eps);
    let mg = 0;
    let mgx = 0;
    for (let c = 0; c < C; c++) {
      const xh = (x[o + c] - mu) * r;
      const g = dy[o + c] * w[c];
      mg += g;
      mgx += g * xh;
      dw[c] += dy[o + c] * xh;
      db[c] += dy[o + c];
    }
    mg /= C;
    mgx /= C;
    for (let c = 0; c < C; c++) {
      const xh = (x[o + c] - mu) * r;
      dx[o + c] = r * (dy[o + c] * w[c] - mg - xh * mgx);
    }
  }
  return { dx, dw, db };
}
