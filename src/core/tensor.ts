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

// Half-precision conversions live in quant/half.ts (ggml-exact); re-exported here for convenience.
export { f16ToF32, f32ToF16, bf16ToF32 } from './quant/half.ts';
