// Strided 2-D f32 copy on the GPU: dst[dstOffset + r * dstStride + c] = src[srcOffset + r * srcStride + c]
// for R rows of C values (strides default to C). For slicing q/k/v out of a fused QKV buffer or
// writing a block of columns into a wider buffer. Kernel: shaders/copy.wgsl; the reference is the copy
// itself (tests/gpu/copy.test.ts). src and dst must be different buffers.
import { type BufferArg, type GpuContext, UniformWriter, dispatch1d } from '../context.ts';

export interface CopyArgs {
  src: BufferArg;
  dst: BufferArg;
  R: number;
  C: number;
  srcOffset?: number;
  srcStride?: number;
  dstOffset?: number;
  dstStride?: number;
}

export function encodeCopy(ctx: GpuContext, pass: GPUComputePassEncoder, a: CopyArgs): void {
  if (a.R < 1 || a.C < 1) throw new Error(`encodeCopy: empty shape R=${a.R} C=${a.C}`);
  const p = ctx.pipeline({ shader: 'copy' });
  const u = ctx.uniform(
    new UniformWriter().u32(a.R).u32(a.C).u32(a.srcOffset ?? 0).u32(a.srcStride ?? a.C).u32(a.dstOffset ?? 0).u32(a.dstStride ?? a.C).bytes(),
  );
  pass.setPipeline(p);
  pass.setBindGroup(0, ctx.bindGroup(p, [u, a.src, a.dst]));
  const [gx, gy] = dispatch1d(a.R * a.C, 256);
  pass.dispatchWorkgroups(gx, gy);
}
