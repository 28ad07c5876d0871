// Per-row cosine similarity reference, for the layer-importance metrics (ShortGPT's Block Influence,
// Men et al. 2024, arXiv 2403.03853, is 1 - mean_t cos(h_in[t], h_out[t])): a, b [T, C] -> out [T],
//   out[t] = <a[t], b[t]> / (||a[t]|| ||b[t]||), clamped to [-1, 1]; a zero-norm row gives 1 (the
// convention of src/core/metrics/cos.ts: an all-zero tap reads as "unchanged"). Float64 sums.

/** The rows' cosines in float64 (what the metrics report). */
export function cosineRowsF64(a: Float32Array, b: Float32Array, T: number, C: number): Float64Array {
  if (a.length < T * C || b.length < T * C) throw new Error(`cosineRows: inputs shorter than ${T}x${C}`);
  const out = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    const o = t * C;
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let c = 0; c < C; c++) {
      dot += a[o + c] * b[o + c];
      na += a[o + c] * a[o + c];
      nb += b[o + c] * b[o + c];
    }
    // sqrt(na * nb), not sqrt(na) * sqrt(nb): one rounding, so parallel rows give exactly +-1.
    out[t] = na === 0 || nb === 0 ? 1 : Math.min(1, Math.max(-1, dot / Math.sqrt(na * nb)));
  }
  return out;
}

/** The rows' cosines rounded to f32 (the reference of the cosine kernel). */
export function cosineRows(a: Float32Array, b: Float32Array, T: number, C: number): Float32Array {
  return Float32Array.from(cosineRowsF64(a, b, T, C));
}
