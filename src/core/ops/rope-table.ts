// RoPE angles in float32 exactly as llama2.c run.c computes them (Su et al. 2021, arXiv 2104.09864):
//   freq_i = 1.0f / powf(theta, (2i) / (float)dim),  val = pos * freq_i (f32 product),  cos/sin of val,
// for pair index i < dim / 2. Hugging Face computes inv_freq and the angle product in float32 the same
// way. The GPU RoPE kernel reads this table instead of evaluating pow/sin/cos in WGSL, whose accuracy
// the spec leaves loose (pow: exp2(y log2 x), several ulp; sin/cos: 2^-11 absolute, only in [-pi, pi]),
// so GPU and CPU rotate by the same f32 angle to within one rounding of cos and sin.
// The plain reference src/core/ops/rope.ts evaluates the same formula in float64.

const f = Math.fround;

/** freq_i = f32(1 / f32(theta ^ f32(2i / dim))), i < dim / 2. */
export function ropeFreqsF32(theta: number, dim: number): Float32Array {
  if (dim < 2 || dim % 2 !== 0) throw new Error(`rope: rotary dim ${dim} must be even and >= 2`);
  const half = dim / 2;
  const out = new Float32Array(half);
  for (let i = 0; i < half; i++) out[i] = f(1 / f(Math.pow(f(theta), f((2 * i) / dim))));
  return out;
}

/**
 * (cos, sin) of the f32 angle pos * freq_i for positions pos0 .. pos0 + count - 1:
 * [count, dim / 2, 2] row-major, entry ((p - pos0) * dim/2 + i) * 2 = cos, +1 = sin.
 */
export function ropeTable(theta: number, dim: number, pos0: number, count: number): Float32Array {
  const freqs = ropeFreqsF32(theta, dim);
  const half = dim / 2;
  const out = new Float32Array(count * half * 2);
  for (let p = 0; p < count; p++) {
    const pos = f(pos0 + p);
    for (let i = 0; i < half; i++) {
      const ang = f(pos * freqs[i]);
      out[(p * half + i) * 2] = Math.cos(ang);
      out[(p * half + i) * 2 + 1] = Math.sin(ang);
    }
  }
  return out;
}
