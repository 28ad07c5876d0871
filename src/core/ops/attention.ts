// Causal multi-head attention reference with grouped-query heads (GQA, Ainslie et al. 2023,
// arXiv 2305.13245) over a KV cache. q [T, H, D] for positions pos0..pos0+T-1; kCache, vCache
// [>= pos0+T, Hkv, D] already hold K/V for positions 0..pos0+T-1. Query head h reads KV head
// h / (H / Hkv). o[t, h] = sum_j softmax_j(q . k_j * scale) v_j over j <= pos0 + t. Float64 softmax.

export function attention(q: Float32Array, kCache: Float32Array, vCache: Float32Array, T: number, H: number, Hkv: number, D: number, pos0: number, scale: number): Float32Array {
  if (H % Hkv !== 0) throw new Error(`attention: ${H} heads are not a multiple of ${Hkv} KV heads`);
  const group = H / Hkv;
  const o = new Float32Array(T * H * D);
  const scores = new Float64Array(pos0 + T);
  for (let t = 0; t < T; t++) {
    const n = pos0 + t + 1;
    for (let h = 0; h < H; h++) {
      const qo = (t * H + h) * D;
      const kvh = Math.floor(h / group);
      let m = -Infinity;
      for (let j = 0; j < n; j++) {
        const ko = (j * Hkv + kvh) * D;
        let s = 0;
        for (let d = 0; d < D; d++) s += q[qo + d] * kCache[ko + d];
        s *= scale;
        scores[j] = s;
        if (s > m) m = s;
      }
      let z = 0;
      for (let j = 0; j < n; j++) {
        scores[j] = Math.exp(scores[j] - m);
        z += scores[j];
      }
      for (let d = 0; d < D; d++) {
        let acc = 0;
        for (let j = 0; j < n; j++) acc += scores[j] * vCache[(j * Hkv + kvh) * D + d];
        o[qo + d] = acc / z;
      }
    }
  }
  return o;
}
