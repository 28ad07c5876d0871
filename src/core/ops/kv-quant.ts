// K/V cache quantize-dequantize on write (the CPU reference of shaders/kv-write.wgsl's quantized path).
// x [T, Hkv, D] (rows of Hkv * D values, one row per token) is replaced in place by its b-bit
// reconstruction; b = 16 (or more) leaves it unchanged.
//
// Scheme (stated choice): per-token asymmetric min-max quantization in groups of G = min(32, D)
// consecutive values along head_dim, groups never crossing a head (a head of D values has ceil(D / G)
// groups, the last one shorter when G does not divide D). This is the per-token asymmetric mode
// KVTuner searches over (Li et al. 2025, "KVTuner: Sensitivity-Aware Layer-wise Mixed Precision KV Cache
// Quantization", arXiv 2502.04420, the KIVI-style token-wise group quantization, KIVI: Liu et al. 2024,
// arXiv 2402.02750 §3) applied to both K and V, so a token can be quantized the moment it is written
// (KIVI's per-channel K grouping needs a window of tokens). Per group, in f32 arithmetic:
//   lo = min x, hi = max x, s = (hi - lo) / (2^b - 1)
//   s == 0: values unchanged (a constant group is exact)
//   q = clamp(floor((x - lo) / s + 0.5), 0, 2^b - 1), x~ = lo + q * s
// The zero point is the float lo (KIVI's form), not a rounded integer. The cache stores x~ as f32 (what the
// attention kernel reads); the bytes a packed cache would take are kvCacheBits() below.

/** Group length along head_dim. */
export function kvGroup(D: number): number {
  return Math.min(32, D);
}

const f = Math.fround;

/** Quantize-dequantize rows of Hkv * D values in place (see the file comment). */
export function kvQuantizeInPlace(x: Float32Array, T: number, Hkv: number, D: number, bits: number): Float32Array {
  if (bits >= 16) return x;
  if (!Number.isInteger(bits) || bits < 1) throw new Error(`kv quantization: bits must be an integer 1..8 or 16, got ${bits}`);
  const row = Hkv * D;
  if (x.length < T * row) throw new Error(`kv quantization: ${x.length} values for T=${T} rows of ${row}`);
  const G = kvGroup(D);
  const levels = 2 ** bits - 1;
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < Hkv; h++) {
      for (let g0 = 0; g0 < D; g0 += G) {
        const from = t * row + h * D + g0;
        const to = t * row + h * D + Math.min(D, g0 + G);
        let lo = Infinity;
        let hi = -Infinity;
        for (let i = from; i < to; i++) { lo = Math.min(lo, x[i]); hi = Math.max(hi, x[i]); }
        const s = f(f(hi - lo) / levels);
        if (s === 0) continue;
        for (let i = from; i < to; i++) {
          const q = Math.min(levels, Math.max(0, Math.floor(f(f(f(x[i] - lo) / s) + 0.5))));
          x[i] = f(lo + f(q * s));
        }
      }
    }
  }
  return x;
}

/** Stored bits of one cache row of Hkv * D values at `bits` if packed: b per value plus an f16 scale and an f16 minimum per group. */
export function kvRowBits(Hkv: number, D: number, bits: number): number {
  if (bits >= 16) return Hkv * D * 16;
  return Hkv * (D * bits + Math.ceil(D / kvGroup(D)) * 32);
}
