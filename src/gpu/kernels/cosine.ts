// Per-row cosine similarity on the GPU: out[outOffset + t] = cos(a[t], b[t]) for rows of a, b [T, C]
// (zero-norm row -> 1, clamped to [-1, 1]). Rows at aOffset + t * aStride (default 0 / C), likewise b,
// so taps of a [L, T, C] buffer can be compared layer against layer and written into an [L, T] result.
// Kernel: shaders/cosine.wgsl. Reference: src/core/ops/cosine.ts.
import { type BufferArg, type GpuContext, UniformWriter, dispatch1d } from '../context.ts';

export interface CosineArgs {
  a: BufferArg;
  b: BufferArg;
  /** f32, T values written at outOffset. Must not alias a or b. */
  out: BufferArg;
  T: number;
  C: number;
  aOffset?: number;
  aStride?: number;
  bOffset?: number;
  bStride?: number;
  outOffset?: number;
}

export function encodeCosine(ctx: GpuContext, pass: GPUComputePassEncoder, a: CosineArgs): void {
  if (a.T < 1 || a.C < 1) throw new Error(`encodeCosine: empty shape T=${a.T} C=${a.C}`);
  const p = ctx.pipeline({ shader: 'cosine' });
  const u = ctx.uniform(
    new UniformWriter()
      .u32(a.T).u32(a.C).u32(a.aOffset ?? 0).u32(a.aStride ?? a.C).u32(a.bOffset ?? 0).u32(a.bStride ?? a.C).u32(a.outOffset ?? 0)
      .bytes(),
  );
  pass.setPipeline(p);
  pass.setBindGroup(0, ctx.bindGroup(p, [u, a.a, a.b, a.out]));
  const [gx, gy] = dispatch1d(a.T, 1);
  pass.dispatchWorkgroups(gx, gy);
}
