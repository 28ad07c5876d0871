// Residual add on the GPU: y = a + scale * b over n values, or in place a += scale * b (omit y).
// Kernel: shaders/add.wgsl. Reference: src/core/ops/add.ts. Offsets are in elements; b and y must be
// different buffers from a when writing in place / from a and b otherwise.
import { type BufferArg, type GpuContext, UniformWriter, dispatch1d } from '../context.ts';

export interface AddArgs {
  a: BufferArg;
  b: BufferArg;
  /** Output; omit to accumulate into a. */
  y?: BufferArg;
  n: number;
  /** Multiplies b (default 1). */
  scale?: number;
  aOffset?: number;
  bOffset?: number;
  yOffset?: number;
}

export function encodeAdd(ctx: GpuContext, pass: GPUComputePassEncoder, a: AddArgs): void {
  if (a.n < 1) throw new Error(`encodeAdd: n must be positive, got ${a.n}`);
  const p = ctx.pipeline({ shader: 'add', entry: a.y ? 'main' : 'in_place' });
  const aOff = a.aOffset ?? 0;
  const u = ctx.uniform(
    new UniformWriter().u32(a.n).u32(aOff).u32(a.bOffset ?? 0).u32(a.y ? (a.yOffset ?? 0) : aOff).f32(a.scale ?? 1).bytes(),
  );
  pass.setPipeline(p);
  pass.setBindGroup(0, ctx.bindGroup(p, a.y ? [u, a.a, a.b, a.y] : [u, a.a, a.b]));
  const [gx, gy] = dispatch1d(a.n, 256);
  pass.dispatchWorkgroups(gx, gy);
}
