// Row-wise softmax backward (float64): for y = softmax(x) per row of [R, N],
//   dx_i = y_i (dy_i - sum_j y_j dy_j)
// (the Jacobian diag(y) - y y^T applied to dy). Forward: src/core/ops/softmax.ts (f32 out) or
// softmaxF64 here.

import type { Arr } from './types.ts';

export function softmaxF64(x: Arr, R: number, N: number): Float64Array {
  const y = new Float64Array(R * N);
  for (let r = 0; r < R; r++) {
    const o = r * N;
    let m = -Infinity;
    for (let i = 0; i < N; i++) m = Math.max(m, x[o + i]);
    let z = 0;
    for (let i = 0; i < N; i++) z += (y[o + i] = Math.exp(x[o + i] - m));
    for (let i = 0; i < N; i++) y[o + i] /= z;
  }
  return y;
}

export function softmaxBackward(dy: Arr, y: Arr, R: number, N: number): Float64Array {
  const dx = new Float64Array(R * N);
  for (let r = 0; r < R; r++) {
    const o = r * N;
    let s = 0;
    for (let i = 0; i < N; i++) s += y[o + i] * dy[o + i];
    for (let i = 0; i < N; i++) dx[o + i] = y[o + i] * (dy[o + i] - s);
  }
  return dx;
}
