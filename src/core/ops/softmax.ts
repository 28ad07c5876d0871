// Row-wise softmax reference (numerically stable: the row max is subtracted before exp), x [R, N]:
//   y[r, i] = exp(s x[r, i] - m) / sum_j exp(s x[r, j] - m),  m = max_j s x[r, j]
// with an optional scale s (1 / temperature); `log: true` gives log-softmax s x - m - log(sum).
// Float64 arithmetic, f32 output.

export function softmax(x: Float32Array, R: number, N: number, opts: { scale?: number; log?: boolean } = {}): Float32Array {
  const s = opts.scale ?? 1;
  const y = new Float32Array(R * N);
  for (let r = 0; r < R; r++) {
    const o = r * N;
    let m = -Infinity;
    for (let i = 0; i < N; i++) m = Math.max(m, s * x[o + i]);
    let z = 0;
    for (let i = 0; i < N; i++) z += Math.exp(s * x[o + i] - m);
    const lz = Math.log(z);
    for (let i = 0; i < N; i++) y[o + i] = opts.log ? s * x[o + i] - m - lz : Math.exp(s * x[o + i] - m) / z;
  }
  return y;
}
