// Plain dense f32 tensors: row-major data with a shape. Used by the CPU reference ops,
// the reference forward and the metrics. Nothing here touches the DOM or the GPU.

export interface Tensor {
  data: Float32Array;
  shape: number[];
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

export function tensor(data: Float32Array | number[], shape: number[]): Tensor {
  const d = data instanceof Float32Array ? data : Float32Array.from(data);
  if (d.length !== numel(shape)) {
    throw new Error(`tensor: data has ${d.length} values but shape [${shape.join(', ')}] needs ${numel(shape)}`);
  }
  return { data: d, shape: [...shape] };
}

export function zeros(shape: number[]): Tensor {
  return { data: new Float32Array(numel(shape)), shape: [...shape] };
}

/** Row `r` of a 2-D tensor as a view (no copy). */
export function row(t: Tensor, r: number): Float32Array {
  const cols = t.shape[t.shape.length - 1];
  return t.data.subarray(r * cols, (r + 1) * cols);
}

/** Deterministic PRNG (mulberry32) for tests, sampling and seeded strategies. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Seeded standard-normal-ish values (Box-Muller) for tests. */
export function randn(n: number, seed: number, scale = 1): Float32Array {
  const rnd = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(rnd(), 1e-12);
    const v = rnd();
    const r = Math.sqrt(-2 * Math.log(u)) * scale;
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

/** f16 bits -> f32 (exact). */
export function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** f32 -> f16 bits, round to nearest even (as numpy / ggml's FP32_TO_FP16). */
export function f32ToF16(v: number): number {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  f[0] = v;
  const x = u[0];
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
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
  return sign | half;
}

/** bf16 bits -> f32. */
export function bf16ToF32(h: number): number {
  const u = new Uint32Array([h << 16]);
  return new Float32Array(u.buffer)[0];
}
