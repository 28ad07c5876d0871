// RMSNorm over rows on the GPU: y[t, :] = x[t, :] / sqrt(mean(x[t, :]^2) + eps) * w, x [T, C].
// Kernel: shaders/rms-norm.wgsl. Reference: src/core/ops/rms-norm.ts.
// Row t of x is read at xOffset + t * xStride (default 0 / C), e.g. xOffset = (T - 1) * C to normalize
// only the last token; without `y` the rows are normalized in place.
import { type BufferArg, type GpuContext, UniformWriter, dispatch1d } from '../context.ts';

export interface RmsNormArgs {
  x: BufferArg;
  /** Weight w[C]. */
  w: BufferArg;
  /** Output; omit to write over x. Must not alias x otherwise. */
  y?: BufferArg;
  /** Rows. */
  T: number;
  /** Channels per row. */
  C: number;
  eps: number;
  xOffset?: number;
  xStride?: number;
  yOffset?: number;
  yStride?: number;
  /** One invocation per row, no barriers (software adapters); needs y. */
  simple?: boolean;
}

export function encodeRmsNorm(ctx: GpuContext, pass: GPUComputePassEncoder, a: RmsNormArgs): void {
  if (a.T < 1 || a.C < 1) throw new Error(`encodeRmsNorm: empty shape T=${a.T} C=${a.C}`);
  if (a.simple && !a.y) throw new Error('rms-norm: the simple variant needs an output y');
  const p = ctx.pipeline({ shader: 'rms-norm', entry: a.simple ? 'simple' : a.y ? 'main' : 'in_place' });
  const xOff = a.xOffset ?? 0;
  const ldx = a.xStride ?? a.C;
  const u = ctx.uniform(
    new UniformWriter()
      .u32(a.T).u32(a.C).u32(xOff).u32(ldx)
      .u32(a.y ? (a.yOffset ?? 0) : xOff).u32(a.y ? (a.yStride ?? a.C) : ldx)
      .f32(a.eps)
      .bytes(),
  );
  pass.setPipeline(p);
  pass.setBindGroup(0, ctx.bindGroup(p, a.y ? [u, a.x, a.w, a.y] : [u, a.x, a.w]));
  const [gx, gy] = a.simple ? dispatch1d(a.T, 64) : dispatch1d(a.T, 1);
  pass.dispatchWorkgroups(gx, gy);
}
