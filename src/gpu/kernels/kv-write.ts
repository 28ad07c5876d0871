// KV-cache append on the GPU: kCache[pos0 + t] = k[t], vCache[pos0 + t] = v[t] for t < T, rows of
// Hkv * D values; caches are [maxCtx, Hkv, D]. Kernel: shaders/kv-write.wgsl. The reference is the
// copy itself (tests/gpu/kv-write.test.ts checks it value by value).
// k and v may be column slices of one fused buffer (kOffset/kStride, vOffset/vStride); k and v must be
// different buffers from the caches.
import { type BufferArg, type GpuContext, UniformWriter, dispatch1d } from '../context.ts';

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
}

export function encodeKvWrite(ctx: GpuContext, pass: GPUComputePassEncoder, a: KvWriteArgs): void {
  const row = a.Hkv * a.D;
  if (a.T < 1 || row < 1) throw new Error(`encodeKvWrite: empty shape T=${a.T} Hkv=${a.Hkv} D=${a.D}`);
  const p = ctx.pipeline({ shader: 'kv-write' });
  const u = ctx.uniform(
    new UniformWriter().u32(a.T).u32(row).u32(a.pos0).u32(a.kOffset ?? 0).u32(a.kStride ?? row).u32(a.vOffset ?? 0).u32(a.vStride ?? row).bytes(),
  );
  pass.setPipeline(p);
  pass.setBindGroup(0, ctx.bindGroup(p, [u, a.k, a.v, a.kCache, a.vCache]));
  const [gx, gy] = dispatch1d(a.T * row, 64);
  pass.dispatchWorkgroups(gx, gy);
}
