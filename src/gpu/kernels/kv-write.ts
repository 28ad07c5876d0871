// KV-cache append on the GPU: kCache[pos0 + t] = k[t], vCache[pos0 + t] = v[t] for t < T, rows of
// Hkv * D values; caches are [maxCtx, Hkv, D]. Kernel: shaders/kv-write.wgsl. With kBits / vBits < 16 the
// values are quantized on write (K/V cache bits, KVTuner arXiv 2502.04420): per-token asymmetric min-max
// groups of min(32, D) along head_dim, reference src/core/ops/kv-quant.ts (kvQuantizeInPlace); 16 (the
// default) is the plain copy, whose reference is the copy itself (tests/gpu/kv-write.test.ts).
// k and v may be column slices of one fused buffer (kOffset/kStride, vOffset/vStride); k and v must be
// different buffers from the caches.
import { type BufferArg, type GpuContext, UniformWriter, dispatch1d } from '../context.ts';
import { kvGroup } from '../../core/ops/kv-quant.ts';

export interface KvWriteArgs {
  /** k, v [T, Hkv, D] for positions pos0 .. pos0+T-1 (token t at kOffset + t * kStride). */
  k: BufferArg;
  v: BufferArg;
  /** [maxCtx, Hkv, D]. */
  kCache: BufferArg;
  vCache: BufferArg;
  T: number;
  Hkv: number;
  D: number;
  pos0: number;
  kOffset?: number;
  /** Elements between tokens of k (default Hkv * D). */
  kStride?: number;
  vOffset?: number;
  vStride?: number;
  /** K / V cache bits: 2..8 quantize on write, 16 (default) copies. */
  kBits?: number;
  vBits?: number;
}

export function encodeKvWrite(ctx: GpuContext, pass: GPUComputePassEncoder, a: KvWriteArgs): void {
  const row = a.Hkv * a.D;
  if (a.T < 1 || row < 1) throw new Error(`encodeKvWrite: empty shape T=${a.T} Hkv=${a.Hkv} D=${a.D}`);
  const kBits = a.kBits ?? 16;
  const vBits = a.vBits ?? 16;
  for (const b of [kBits, vBits]) if (!Number.isInteger(b) || b < 1 || (b > 8 && b !== 16)) throw new Error(`encodeKvWrite: cache bits must be 1..8 or 16, got ${b}`);
  const quant = kBits < 16 || vBits < 16;
  const G = kvGroup(a.D);
  const p = ctx.pipeline({ shader: 'kv-write', entry: quant ? 'quant' : 'main' });
  const u = ctx.uniform(
    new UniformWriter().u32(a.T).u32(row).u32(a.pos0).u32(a.kOffset ?? 0).u32(a.kStride ?? row).u32(a.vOffset ?? 0).u32(a.vStride ?? row)
      .u32(a.D).u32(G).u32(kBits).u32(vBits).bytes(),
  );
  pass.setPipeline(p);
  pass.setBindGroup(0, ctx.bindGroup(p, [u, a.k, a.v, a.kCache, a.vCache]));
  const threads = quant ? a.T * a.Hkv * Math.ceil(a.D / G) : a.T * row;
  const [gx, gy] = dispatch1d(threads, 64);
  pass.dispatchWorkgroups(gx, gy);
}
