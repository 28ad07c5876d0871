// Rotary position embedding reference (Su et al. 2021, arXiv 2104.09864), in place on x [T, H, D] for
// positions pos0 + t. Only the first `dim` channels of each head rotate (dim = D for full rotary).
// For pair index i in 0..dim/2: freq_i = theta^(-2i / dim), angle = pos * freq_i, and
//   'adjacent' rotates channels (2i, 2i+1)  (llama2.c run.c, GGUF/llama.cpp LLAMA layout),
//   'half'     rotates channels (i, i + dim/2) (Hugging Face rotate_half, llama.cpp NEOX layout):
//   (a, b) -> (a cos - b sin, a sin + b cos).

export function rope(x: Float32Array, T: number, H: number, D: number, pos0: number, theta: number, dim: number, kind: 'adjacent' | 'half'): void {
  const half = dim / 2;
  for (let t = 0; t < T; t++) {
    const pos = pos0 + t;
    for (let i = 0; i < half; i++) {
      const freq = 1 / Math.pow(theta, (2 * i) / dim);
      const ang = pos * freq;
      const c = Math.cos(ang);
      const s = Math.sin(ang);
      for (let h = 0; h < H; h++) {
        const o = (t * H + h) * D;
        const ia = kind === 'adjacent' ? o + 2 * i : o + i;
        const ib = kind === 'adjacent' ? o + 2 * i + 1 : o + i + half;
        const a = x[ia];
        const b = x[ib];
        x[ia] = a * c - b * s;
        x[ib] = a * s + b * c;
      }
    }
  }
}
