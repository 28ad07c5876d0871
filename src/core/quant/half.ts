// IEEE binary16 and bfloat16 <-> float32 conversions as ggml does them (GGML_FP16_TO_FP32 /
// GGML_FP32_TO_FP16: round to nearest, ties to even; ggml_compute_fp32_to_bf16: round to nearest even,
// NaN forced quiet). Bit-level, no per-call allocation: the quantizers call these in inner loops.

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

let f16Table: Float32Array | null = null;

function f16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m ? NaN : sign * Infinity;
  return sign * (1024 + m) * 2 ** (e - 25);
}

/** All 65536 f16 values as f32 (built once, 256 KiB); index with the raw 16-bit pattern. */
export function f16Lut(): Float32Array {
  if (!f16Table) {
    const t = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) t[h] = f16BitsToNumber(h);
    f16Table = t;
  }
  return f16Table;
}

/** f16 bit pattern -> value (exact). */
export function f16ToF32(h: number): number {
  return f16Lut()[h & 0xffff];
}

/** float32 bit pattern of `v` (after rounding v to float32). */
export function f32Bits(v: number): number {
  scratchF32[0] = v;
  return scratchU32[0];
}

/** value of a float32 bit pattern. */
export function bitsToF32(u: number): number {
  scratchU32[0] = u >>> 0;
  return scratchF32[0];
}

/** value -> f16 bit pattern: rounds to float32 first (ggml's input is float), then to nearest-even f16. */
export function f32ToF16(v: number): number {
  scratchF32[0] = v;
  const x = scratchU32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // a carry out of the mantissa correctly bumps the exponent (up to 0x7c00 = inf)
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return sign | half;
}

/** f16 rounding of a value, as a number (ggml's FP16_TO_FP32(FP32_TO_FP16(v))). */
export function roundF16(v: number): number {
  return f16Lut()[f32ToF16(v)];
}

/** bf16 bit pattern -> value. */
export function bf16ToF32(h: number): number {
  scratchU32[0] = (h & 0xffff) << 16;
  return scratchF32[0];
}

/** value -> bf16 bit pattern (ggml_compute_fp32_to_bf16: nearest even; NaN made quiet). */
export function f32ToBf16(v: number): number {
  scratchF32[0] = v;
  const u = scratchU32[0];
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 64) & 0xffff;
  // u + 0x7fff + lsb stays below 2^32 for every non-NaN pattern
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}
