// RMSNorm reference (Zhang & Sennrich 2019, arXiv 1910.07467; as in llama2.c rmsnorm and llama.cpp):
// y[t, c] = x[t, c] / sqrt(mean_c(x[t, :]^2) + eps) * w[c], x [T, C]. Sums in float64.

export function rmsNorm(x: Float32Array, T: number, C: number, w: Float32Array, eps: number): Float32Array {
  const y = new Float32Array(T * C);
  for (let t = 0; t < T; t++) {
    const o = t * C;
    let ss = 0;
    for (let c = 0; c < C; c++) ss += x[o + c] * x[o + c];
    const inv = 1 / Math.sqrt(ss / C + eps);
    for (let c = 0; c < C; c++) y[o + c] = x[o + c] * inv * w[c];
  }
  return y;
}
