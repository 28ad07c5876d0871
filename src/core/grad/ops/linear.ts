// Linear layer forward and backward in float64 (the GGUF / PyTorch layout: W [N, K], one row of K input
// weights per output feature, as src/core/ops/matmul.ts):
//   forward   y[M, N] = x[M, K] W^T (+ b[N])
//   backward  dX = dY W            [M, K]
//             dW = dY^T X          [N, K]
//             db = sum_m dY[m, :]  [N]
// Standard reverse-mode rules for a matrix product (e.g. Goodfellow et al. 2016, Deep Learning, 6.5).

import type { Arr } from './types.ts';

export function linearF64(x: Arr, M: number, K: number, w: Arr, N: number, b?: Arr): Float64Array {
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    const xo = m * K;
    for (let n = 0; n < N; n++) {
      const wo = n * K;
      let acc = b ? b[n] : 0;
      for (let k = 0; k < K; k++) acc += x[xo + k] * w[wo + k];
      y[m * N + n] = acc;
    }
  }
  return y;
}

export interface LinearGrads {
  dx: Float64Array;
  dw: Float64Array;
  db: Float64Array;
}

/** Gradients of a linear layer given dY [M, N], its input x [M, K] and W [N, K]. */
export function linearBackward(dy: Arr, x: Arr, M: number, K: number, w: Arr, N: number): LinearGrads {
  const dx = new Float64Array(M * K);
  const dw = new Float64Array(N * K);
  const db = new Float64Array(N);
  for (let m = 0; m < M; m++) {
    const xo = m * K;
    for (let n = 0; n < N; n++) {
      const g = dy[m * N + n];
      if (g === 0) continue;
      db[n] += g;
      const wo = n * K;
      for (let k = 0; k < K; k++) {
        dx[xo + k] += g * w[wo + k];
        dw[wo + k] += g * x[xo + k];
      }
    }
  }
  return { dx, dw, db };
}
