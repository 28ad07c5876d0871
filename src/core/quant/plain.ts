// Plain symmetric intN quantization ("absmax", round to nearest), one scale per output row or per
// group of `groupSize` consecutive values of a row: the scheme issue 3 (metric 7) names for the
// quantization-sensitivity measurement, the vector-wise absmax quantization of Dettmers et al. 2022,
// "LLM.int8(): 8-bit Matrix Multiplication for Transformers at Scale", arXiv 2208.07339 (§3.1).
//
// W is row-major [rows, cols] (GGUF / PyTorch order: a row = one output feature). For bits b >= 2,
// qmax = 2^(b-1) - 1 (the code range is symmetric: -qmax..qmax, the value -2^(b-1) is unused), and for
// every group g (the whole row by default):
//   scale_g = max_{i in g} |w_i| / qmax                       (float64, then stored as float32)
//   q_i     = clamp(round_half_away_from_zero(w_i / scale_g), -qmax, qmax)   (division in float64)
//   w~_i    = q_i * scale_g                                  (rounded to float32)
// An all-zero group has scale 0 and q = 0 (no division by zero). Rounding: |x| rounded half up, sign
// restored (2.5 -> 3, -2.5 -> -3, 0.5 -> 1), as C's round() and ggml's roundf do; not banker's rounding.
// Because the scale is rounded to float32, max|w| / scale can land a hair above qmax: the clamp keeps
// q in range. b = 2 gives the ternary codes {-1, 0, 1}. Non-finite weights are not supported.

export interface PlainQuantized {
  /** Integer codes, row-major [rows, cols], each in [-qmax, qmax]. */
  q: Int32Array;
  /** One scale per group, row-major [rows, ceil(cols / groupSize)]. */
  scales: Float32Array;
  bits: number;
  rows: number;
  cols: number;
  groupSize: number;
}

/** Largest code magnitude of b-bit symmetric quantization: 2^(b-1) - 1. */
export function plainQmax(bits: number): number {
  if (!Number.isInteger(bits) || bits < 2 || bits > 16) throw new Error(`plain quantization: bits must be an integer in 2..16, got ${bits}`);
  return 2 ** (bits - 1) - 1;
}

/** round(x) with halves away from zero (2.5 -> 3, -2.5 -> -3). */
export function roundHalfAwayFromZero(x: number): number {
  // Math.round rounds halves toward +inf and is exact for every double (0.49999999999999994 -> 0);
  // applying it to |x| makes halves go away from zero.
  const r = Math.round(Math.abs(x));
  return x < 0 ? -r : r;
}

/** Quantize a [rows, cols] matrix to b-bit codes with one absmax scale per group (default: per row). */
export function quantizePlain(w: ArrayLike<number>, rows: number, cols: number, bits: number, groupSize = cols): PlainQuantized {
  const qmax = plainQmax(bits);
  if (w.length !== rows * cols) throw new Error(`plain quantization: ${w.length} values, expected ${rows}x${cols}`);
  if (!Number.isInteger(groupSize) || groupSize < 1) throw new Error(`plain quantization: bad group size ${groupSize}`);
  const gpr = Math.ceil(cols / groupSize);
  const q = new Int32Array(rows * cols);
  const scales = new Float32Array(rows * gpr);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < gpr; g++) {
      const from = r * cols + g * groupSize;
      const to = r * cols + Math.min(cols, (g + 1) * groupSize);
      let amax = 0;
      for (let i = from; i < to; i++) amax = Math.max(amax, Math.abs(w[i]));
      const scale = Math.fround(amax / qmax);
      scales[r * gpr + g] = scale;
      if (scale === 0) continue; // all-zero group (or below float32 range): codes stay 0
      for (let i = from; i < to; i++) q[i] = Math.max(-qmax, Math.min(qmax, roundHalfAwayFromZero(w[i] / scale)));
    }
  }
  return { q, scales, bits, rows, cols, groupSize };
}

/** w~ = q * scale as float32, [rows, cols]. */
export function dequantizePlain(p: PlainQuantized): Float32Array {
  const { q, scales, rows, cols, groupSize } = p;
  const gpr = Math.ceil(cols / groupSize);
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[r * cols + c] = q[r * cols + c] * scales[r * gpr + Math.floor(c / groupSize)];
  }
  return out;
}

/** Quantize then dequantize ("fake quantization"): the float32 values a b-bit plain model computes with. */
export function fakeQuantizePlain(w: ArrayLike<number>, rows: number, cols: number, bits: number, groupSize = cols): Float32Array {
  return dequantizePlain(quantizePlain(w, rows, cols, bits, groupSize));
}
