// Quantized matmul reference: y[M, N] = x[M, K] @ W^T with W a [N, K] matrix stored in a GGUF block
// format (N = w.rows output features, each row of K = w.cols values in rowBytes(type, K) bytes, the GGUF
// layout). Computed as "dequantize W bit-exactly as ggml does (src/core/quant), then an f32 matmul": the
// reference the GPU quantized-matmul kernels are tested against. It is NOT llama.cpp's CPU result, which
// also rounds the activations to 8-bit blocks (Q8_0/Q8_K) before the dot products.
// W is dequantized one row at a time (no N*K float buffer); sums run in float64, each output is rounded
// once to f32, exactly like matmul() in ./matmul.ts applied to the dequantized W.

import { dequantizeInto } from '../quant/dequant.ts';
import { GGMLType, rowBytes, typeName } from '../quant/types.ts';

export interface QuantMatrix {
  type: GGMLType;
  data: Uint8Array;
  /** N: output features. */
  rows: number;
  /** K: values per row (a multiple of the type's block size). */
  cols: number;
}

/** y[M, N] = x[M, K] @ dequant(W)[N, K]^T. */
export function matmulQ(x: Float32Array, M: number, K: number, w: QuantMatrix): Float32Array {
  const N = w.rows;
  if (w.cols !== K) throw new Error(`matmulQ: x has K = ${K} columns but W rows hold ${w.cols} values`);
  if (x.length < M * K) throw new Error(`matmulQ: x has ${x.length} values, needs ${M}x${K}`);
  const rb = rowBytes(w.type, K);
  if (w.data.length < N * rb) {
    throw new Error(`matmulQ: W (${typeName(w.type)}, ${N}x${K}) needs ${N * rb} bytes, got ${w.data.length}`);
  }
  const y = new Float32Array(M * N);
  const wr = new Float32Array(K);
  for (let n = 0; n < N; n++) {
    dequantizeInto(w.type, w.data.subarray(n * rb, (n + 1) * rb), K, wr, 0);
    for (let m = 0; m < M; m++) {
      const xo = m * K;
      let acc = 0;
      for (let k = 0; k < K; k++) acc += x[xo + k] * wr[k];
      y[m * N + n] = acc;
    }
  }
  return y;
}
