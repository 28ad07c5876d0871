// LayerNorm reference (Ba et al. 2016, arXiv 1607.06450; PyTorch nn.LayerNorm, biased variance):
// y[t, c] = (x[t, c] - mean) / sqrt(var + eps) * w[c] + b[c], statistics over C per row of x [T, C].

export function layerNorm(x: Float32Array, T: number, C: number, w: Float32Array, b: Float32Array | undefined, eps: number): Float32Array {
  const y = new Float32Array(T * C);
  for (let t = 0; t < T; t++) {
    const o = t * C;
    let s = 0;
    for (let c = 0; c < C; c++) s += x[o + c];
    const mean = s / C;
    let v = 0;
    for (let c = 0; c < C; c++) v += (x[o + c] - mean) ** 2;
    const inv = 1 / Math.sqrt(v / C + eps);
    for (let c = 0; c < C; c++) y[o + c] = (x[o + c] - mean) * inv * w[c] + (b ? b[c] : 0);
  }
  return y;
}
