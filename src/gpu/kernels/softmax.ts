// Row-wise stable softmax on the GPU over R rows of N (logits [T, V]): y = softmax(scale * x), or
// log-softmax with `log: true`. Without y the rows are replaced in place. Row r of x at
// xOffset + r * xStride (default 0 / N). Kernel: shaders/softmax.wgsl. Reference: src/core/ops/softmax.ts.
import { type BufferArg, type GpuContext, UniformWriter, dispatch1d } from '../context.ts';

export interface SoftmaxArgs {
  x: BufferArg;
  /** Output; omit to write over x. Must not alias x otherwise. */
  y?: BufferArg;
  R: number;
  N: number;
  /** Multiplies x before the softmax (1 / temperature; default 1). */
  scale?: number;
  /** Log-softmax instead of softmax. */
  log?: boolean;
  xOffset?: number;
  xStride?: number;
  yOffset?: number;
  yStride?: number;
}

export function encodeSoftmax(ctx: GpuContext, pass: GPUComputePassEncoder, a: SoftmaxArgs): void {
  if (a.R < 1 || a.N < 1) throw new Error(`encodeSoftmax: empty shape R=${a.R} N=${a.N}`);
  const p = ctx.pipeline({ shader: 'softmax', entry: a.y ? 'main' : 'in_place' });
  const xOff = a.xOffset ?? 0;
  const ldx = a.xStride ?? a.N;
  const u = ctx.uniform(
    new UniformWriter()
      .u32(a.R).u32(a.N).u32(xOff).u32(ldx)
      .u32(a.y ? (a.yOffset ?? 0) : xOff).u32(a.y ? (a.yStride ?? a.N) : ldx)
      .f32(a.scale ?? 1).u32(a.log ? 1 : 0)
      .bytes(),
  );
  pass.setPipeline(p);
  pass.setBindGroup(0, ctx.bindGroup(p, a.y ? [u, a.x, a.y] : [u, a.x]));
  const [gx, gy] = dispatch1d(a.R, 1);
  pass.dispatchWorkgroups(gx, gy);
}
