// Shared inputs for the packed-weight GPU tests (matmul-q, get-rows-q): random valid GGUF block bytes,
// weights quantized by the CPU quantizer, ggml's own dequantization vectors, the quantized stories260K
// tensors, and a float64 reference matmul over dequantized weights.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { WeightTensor } from '../../src/core/formats/types.ts';
import { parseGguf } from '../../src/core/formats/gguf.ts';
import { GGMLType, TYPE_INFO, rowBytes, typeName } from '../../src/core/quant/types.ts';
import { f32ToF16, f32ToBf16 } from '../../src/core/quant/half.ts';
import { mulberry32 } from '../../src/core/tensor.ts';
import { GpuContext } from '../../src/gpu/context.ts';
import { shaderSource } from '../../src/gpu/shaders.ts';
import { readModelBytes, refsDir } from '../helpers/models.ts';
import { testDevice } from '../helpers/gpu.ts';

export async function testContext(): Promise<GpuContext> {
  return new GpuContext(await testDevice(), shaderSource);
}

/** Byte offsets of the f16 fields of one block: `d` (signed scales) and `m` (second field). */
const F16_FIELDS: Partial<Record<GGMLType, { d: number[]; m: number[] }>> = {
  [GGMLType.Q4_0]: { d: [0], m: [] },
  [GGMLType.Q5_0]: { d: [0], m: [] },
  [GGMLType.Q8_0]: { d: [0], m: [] },
  [GGMLType.Q4_1]: { d: [0], m: [2] },
  [GGMLType.Q5_1]: { d: [0], m: [2] },
  [GGMLType.Q2_K]: { d: [80], m: [82] },
  [GGMLType.Q3_K]: { d: [108], m: [] },
  [GGMLType.Q4_K]: { d: [0], m: [2] },
  [GGMLType.Q5_K]: { d: [0], m: [2] },
  [GGMLType.Q6_K]: { d: [208], m: [] },
};

function put16(b: Uint8Array, o: number, h: number): void {
  b[o] = h & 0xff;
  b[o + 1] = h >> 8;
}

/**
 * Random but valid bytes of a [rows, cols] tensor: every quant bit random, f16 scale fields replaced by
 * finite values of magnitude 10^U(-3,-1) (d of either sign; the min `m` of Q4_1/Q5_1 of either sign,
 * dmin of the K-quants positive, as ggml writes it). F32: normal(0, 1). F16/BF16: random bit patterns
 * with a bounded exponent, zeros and subnormals included (no inf/NaN).
 */
export function randomBlockBytes(type: GGMLType, rows: number, cols: number, seed: number): Uint8Array {
  const rnd = mulberry32(seed);
  const n = rows * rowBytes(type, cols);
  const b = new Uint8Array(n);
  if (type === GGMLType.F32) {
    const f = new Float32Array(b.buffer);
    for (let i = 0; i < f.length; i += 2) {
      const u = Math.max(rnd(), 1e-12);
      const r = Math.sqrt(-2 * Math.log(u));
      f[i] = r * Math.cos(2 * Math.PI * rnd());
      if (i + 1 < f.length) f[i + 1] = r * Math.sin(2 * Math.PI * rnd());
    }
    return b;
  }
  if (type === GGMLType.F16 || type === GGMLType.BF16) {
    for (let i = 0; i < n; i += 2) {
      const sign = rnd() < 0.5 ? 0x8000 : 0;
      const pick = rnd();
      let h: number;
      if (type === GGMLType.F16) {
        // exponent 0 (zero/subnormal) .. 30 (up to 65504): every finite f16
        const e = pick < 0.1 ? 0 : Math.floor(rnd() * 31);
        h = sign | (e << 10) | Math.floor(rnd() * 1024);
      } else {
        // bf16 exponents 127 +- 20 (and some zeros / subnormals)
        const e = pick < 0.1 ? 0 : 107 + Math.floor(rnd() * 41);
        h = sign | (e << 7) | Math.floor(rnd() * 128);
      }
      put16(b, i, h);
    }
    return b;
  }
  const info = TYPE_INFO[type]!;
  const fields = F16_FIELDS[type];
  if (!fields) throw new Error(`no block description for ${typeName(type)}`);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rnd() * 256);
  const isK = info.blockSize === 256;
  for (let o = 0; o < n; o += info.typeSize) {
    for (const f of fields.d) put16(b, o + f, f32ToF16((rnd() < 0.5 ? -1 : 1) * 10 ** (-3 + 2 * rnd())));
    for (const f of fields.m) put16(b, o + f, f32ToF16((isK || rnd() < 0.5 ? 1 : -1) * 10 ** (-3 + 2 * rnd())));
  }
  return b;
}

export function randn(n: number, seed: number, scale = 1): Float32Array {
  const rnd = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(rnd(), 1e-12);
    out[i] = scale * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd());
  }
  return out;
}

/** 16-bit encodings for plain types when quantize() is not the subject (F16/BF16 from f32 values). */
export function plainBytes(type: GGMLType, values: Float32Array): Uint8Array {
  if (type === GGMLType.F32) return new Uint8Array(values.slice().buffer);
  const b = new Uint8Array(values.length * 2);
  for (let i = 0; i < values.length; i++) put16(b, 2 * i, type === GGMLType.F16 ? f32ToF16(values[i]) : f32ToBf16(values[i]));
  return b;
}

/**
 * Float64 reference: y[m, n] = sum_k x[m, k] * w[n, k] (+ bias[n]) (+ y0[m, n]) and the magnitude
 * sum_k |x[m, k] * w[n, k]| of every output (what bounds the f32 rounding error of any summation order).
 */
export function refMatmul(
  x: Float32Array, M: number, K: number, w: Float32Array, N: number,
  opts: { bias?: Float32Array; y0?: Float32Array } = {},
): { y: Float64Array; mag: Float64Array } {
  const y = new Float64Array(M * N);
  const mag = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      let a = 0;
      for (let k = 0; k < K; k++) {
        const p = x[m * K + k] * w[n * K + k];
        s += p;
        a += Math.abs(p);
      }
      if (opts.bias) {
        s += opts.bias[n];
        a += Math.abs(opts.bias[n]);
      }
      if (opts.y0) {
        s += opts.y0[m * N + n];
        a += Math.abs(opts.y0[m * N + n]);
      }
      y[m * N + n] = s;
      mag[m * N + n] = a;
    }
  }
  return { y, mag };
}

export function maxOf(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

// ---- ggml's dequantization vectors (refs/gguf-quant-vectors/dequant/<TYPE>.json) -----------------

export interface GgmlVectors {
  type: string;
  blockSize: number;
  typeSize: number;
  nBlocks: number;
  bytes: Uint8Array;
  values: Float32Array;
}

export function ggmlVectors(type: GGMLType): GgmlVectors {
  const j = JSON.parse(readFileSync(resolve(refsDir, 'gguf-quant-vectors', 'dequant', `${typeName(type)}.json`), 'utf8')) as {
    type: string; block_size: number; type_size: number; n_blocks: number; bytes_hex: string; values: number[];
  };
  const bytes = new Uint8Array(j.bytes_hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(j.bytes_hex.slice(2 * i, 2 * i + 2), 16);
  return { type: j.type, blockSize: j.block_size, typeSize: j.type_size, nBlocks: j.n_blocks, bytes, values: Float32Array.from(j.values) };
}

/**
 * A [rows, blocksPerRow * blockSize] tensor whose blocks are ggml's vector blocks in a scrambled order,
 * with its values taken from the vector file (independent of src/core/quant).
 */
export function tensorFromVectors(v: GgmlVectors, rows: number, blocksPerRow: number): { bytes: Uint8Array; values: Float32Array; cols: number } {
  const cols = blocksPerRow * v.blockSize;
  const bytes = new Uint8Array(rows * blocksPerRow * v.typeSize);
  const values = new Float32Array(rows * cols);
  for (let i = 0; i < rows * blocksPerRow; i++) {
    const src = (i * 7 + Math.floor(i / 3)) % v.nBlocks;
    bytes.set(v.bytes.subarray(src * v.typeSize, (src + 1) * v.typeSize), i * v.typeSize);
    values.set(v.values.subarray(src * v.blockSize, (src + 1) * v.blockSize), i * v.blockSize);
  }
  return { bytes, values, cols };
}

// ---- the quantized stories260K files ---------------------------------------------------------------

const ggufCache = new Map<string, Map<string, WeightTensor>>();

/** The tensors of ../shared/models/<rel> (a GGUF file) as WeightTensors under their stored names. */
export function ggufTensors(rel: string): Map<string, WeightTensor> {
  let m = ggufCache.get(rel);
  if (!m) {
    const bytes = readModelBytes(rel);
    const f = parseGguf(bytes);
    m = new Map();
    for (const t of f.tensors) {
      m.set(t.name, {
        name: t.name,
        type: t.type as GGMLType,
        shape: [...t.ne].reverse(),
        data: bytes.subarray(t.absOffset, t.absOffset + t.nbytes),
      });
    }
    ggufCache.set(rel, m);
  }
  return m;
}

// ---- running ------------------------------------------------------------------------------------

/** Encode some dispatches in one compute pass, submit, and wait. */
export async function runPass(ctx: GpuContext, encode: (pass: GPUComputePassEncoder) => void): Promise<void> {
  ctx.device.pushErrorScope('validation');
  const enc = ctx.device.createCommandEncoder();
  const pass = enc.beginComputePass();
  try {
    encode(pass);
  } catch (e) {
    await ctx.device.popErrorScope();
    throw e;
  }
  pass.end();
  await ctx.submit([enc.finish()]);
  const err = await ctx.device.popErrorScope();
  if (err) throw new Error(`WebGPU validation error: ${err.message}`);
}
