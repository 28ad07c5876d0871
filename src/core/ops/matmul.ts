// Dense f32 matmul reference: y[M, N] = x[M, K] @ W^T, W stored row-major as [N, K] (the GGUF / PyTorch
// linear-layer layout: one row of K input weights per output feature). Plain loops, accumulation in
// float64, each output rounded once to f32. This is the CPU reference the GPU matmul kernels are tested
// against (DESIGN.md, "Reference first").

/** y[M, N] = x[M, K] @ w[N, K]^T. */
export function matmul(x: Float32Array, M: number, K: number, w: Float32Array, N: number): Float32Array {
  if (x.length < M * K) throw new Error(`matmul: x has ${x.length} values, needs M*K = ${M * K}`);
  if (w.length < N * K) throw new Error(`matmul: w has ${w.length} values, needs N*K = ${N * K}`);
  const y = new Float32Array(M * N);
  for (let m = 0; m < M; m++) {
    const xo = m * K;
    for (let n = 0; n < N; n++) {
      const wo = n * K;
      let acc = 0;
      for (let k = 0; k < K; k++) acc += x[xo + k] * w[wo + k];
      y[m * N + n] = acc;
    }
  }
  return y;
}
