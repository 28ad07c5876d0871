// Causal grouped-query self-attention forward and backward in float64 (Vaswani et al. 2017; GQA:
// Ainslie et al. 2023, arXiv 2305.13245), positions 0..T-1 of one sequence (no cache).
// q [T, H, D], k, v [T, Hkv, D]; query head h reads KV head floor(h / (H / Hkv)).
//   s_tj = scale q_t . k_j (j <= t),  P_t = softmax_j(s_t),  o_t = sum_j P_tj v_j
// Backward, with dO [T, H, D]:
//   dP_tj = dO_t . v_j;  dS_t = P_t (dP_t - sum_j P_tj dP_tj)   (softmax backward, ./softmax.ts)
//   dq_t = scale sum_j dS_tj k_j;  dk_j += scale dS_tj q_t;  dv_j += P_tj dO_t  (summed over the heads
//   that share a KV head).

import type { Arr } from './types.ts';

export interface AttentionF64 {
  /** [T, H, D] */
  o: Float64Array;
  /** Probabilities [H, T, T] (row t, column j; zero above the diagonal). */
  p: Float64Array;
}

export function attentionF64(q: Arr, k: Arr, v: Arr, T: number, H: number, Hkv: number, D: number, scale: number): AttentionF64 {
  if (H % Hkv !== 0) throw new Error(`attention: ${H} heads are not a multiple of ${Hkv} KV heads`);
  const group = H / Hkv;
  const o = new Float64Array(T * H * D);
  const p = new Float64Array(H * T * T);
  for (let h = 0; h < H; h++) {
    const kvh = Math.floor(h / group);
    for (let t = 0; t < T; t++) {
      const qo = (t * H + h) * D;
      const po = (h * T + t) * T;
      let m = -Infinity;
      for (let j = 0; j <= t; j++) {
        const ko = (j * Hkv + kvh) * D;
        let s = 0;
        for (let d = 0; d < D; d++) s += q[qo + d] * k[ko + d];
        p[po + j] = s * scale;
        if (p[po + j] > m) m = p[po + j];
      }
      let z = 0;
      for (let j = 0; j <= t; j++) z += (p[po + j] = Math.exp(p[po + j] - m));
      for (let j = 0; j <= t; j++) p[po + j] /= z;
      for (let j = 0; j <= t; j++) {
        const w = p[po + j];
        const vo = (j * Hkv + kvh) * D;
        for (let d = 0; d < D; d++) o[qo + d] += w * v[vo + d];
      }
    }
  }
  return { o, p };
}

export function attentionBackward(dO: Arr, q: Arr, k: Arr, v: Arr, p: Arr, T: number, H: number, Hkv: number, D: number, scale: number): { dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  const group = H / Hkv;
  const dq = new Float64Array(T * H * D);
  const dk = new Float64Array(T * Hkv * D);
  const dv = new Float64Array(T * Hkv * D);
  const dP = new Float64Array(T);
  for (let h = 0; h < H; h++) {
    const kvh = Math.floor(h / group);
    for (let t = 0; t < T; t++) {
      const qo = (t * H + h) * D;
      const po = (h * T + t) * T;
      let s = 0;
      for (let j = 0; j <= t; j++) {
        const vo = (j * Hkv + kvh) * D;
        let acc = 0;
        for (let d = 0; d < D; d++) {
          acc += dO[qo + d] * v[vo + d];
          dv[vo + d] += p[po + j] * dO[qo + d];
        }
        dP[j] = acc;
        s += p[po + j] * acc;
      }
      for (let j = 0; j <= t; j++) {
        const ds = p[po + j] * (dP[j] - s) * scale;
        if (ds === 0) continue;
        const ko = (j * Hkv + kvh) * D;
        for (let d = 0; d < D; d++) {
          dq[qo + d] += ds * k[ko + d];
          dk[ko + d] += ds * q[qo + d];
        }
      }
    }
  }
  return { dq, dk, dv };
}
