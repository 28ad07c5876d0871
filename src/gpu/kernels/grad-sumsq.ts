// Sum of squares into a slot on the GPU: out[slot] += sum_{i < n} x[offset + i]^2 (f32; one workgroup of
// 256 invocations, strided partial sums and a tree reduction). The per-tensor reduction of the Fisher-style
// score (src/core/metrics/fisher.ts), so a weight gradient [N, K] stays on the GPU and one number per
// tensor is read back. out must be zeroed (or hold earlier parts of the same tensor) before the first
// dispatch. Kernel: shaders/grad-sumsq.wgsl. Reference: src/core/grad/ops/sum-sq.ts.
import { type BufferArg, type GpuContext, UniformWriter } from '../context.ts';

export interface SumSqArgs {
  /** x [offset + n] */
  x: BufferArg;
  /** Element offset into x (default 0). */
  offset?: number;
  n: number;
  /** out [> slot], accumulated into. */
  out: BufferArg;
  slot: number;
}

export function encodeSumSq(ctx: GpuContext, pass: GPUComputePassEncoder, a: SumSqArgs): void {
  if (!Number.isInteger(a.n) || a.n < 1) throw new Error(`encodeSumSq: n must be a positive integer, got ${a.n}`);
  if (!Number.isInteger(a.slot) || a.slot < 0) throw new Error(`encodeSumSq: bad slot ${a.slot}`);
  const p = ctx.pipeline({ shader: 'grad-sumsq' });
  const u = ctx.uniform(new UniformWriter().u32(a.n).u32(a.offset ?? 0).u32(a.slot).bytes());
  pass.setPipeline(p);
  pass.setBindGroup(0, ctx.bindGroup(p, [u, a.x, a.out]));
  pass.dispatchWorkgroups(1);
}
