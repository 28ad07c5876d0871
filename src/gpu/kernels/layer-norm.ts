// LayerNorm over rows on the GPU (biased variance, as PyTorch): y[t, :] = (x - mean) / sqrt(var + eps)
// * w + b, x [T, C]; b optional. Row t of x at xOffset + t * xStride (default 0 / C); without y the rows
// are normalized in place. Kernel: shaders/layer-norm.wgsl. Reference: src/core/ops/layer-norm.ts.
import { type BufferArg, type GpuContext, UniformWriter, dispatch1d } from '../context.ts';

export interface LayerNormArgs {
  x: BufferArg;
  /** Weight w[C]. */
  w: BufferArg;
  /** Bias b[C] (optional). */
  b?: BufferArg;
  /** Output; omit to write over x. Must not alias x otherwise. */
  y?: BufferArg;
  T: number;
  C: number;
  eps: number;
  xOffset?: number;
  xStride?: number;
  yOffset?: number;
  yStride?: number;
  /** One invocation per row, no barriers (software adapters); needs y. */
  simple?: boolean;
}

export function encodeLayerNorm(ctx: GpuContext, pass: GPUComputePassEncoder, a: LayerNormArgs): void {
  if (a.T < 1 || a.C < 1) throw new Error(`encodeLayerNorm: empty shape T=${a.T} C=${a.C}`);
  if (a.simple && !a.y) throw new Error('layer-norm: the simple variant needs an output y');
  const p = ctx.pipeline({ shader: 'layer-norm', entry: a.simple ? 'simple' : a.y ? 'main' : 'in_place' });
  const xOff = a.xOffset ?? 0;
  const ldx = a.xStride ?? a.C;
  const u = ctx.uniform(
    new UniformWriter()
      .u32(a.T).u32(a.C).u32(xOff).u32(ldx)
      .u32(a.y ? (a.yOffset ?? 0) : xOff).u32(a.y ? (a.yStride ?? a.C) : ldx)
      .f32(a.eps).u32(a.b ? 1 : 0)
      .bytes(),
  );
  const bias = a.b ?? ctx.placeholder();
  pass.setPipeline(p);
  pass.setBindGroup(0, ctx.bindGroup(p, a.y ? [u, a.x, a.w, bias, a.y] : [u, a.x, a.w, bias]));
  const [gx, gy] = a.simple ? dispatch1d(a.T, 64) : dispatch1d(a.T, 1);
  pass.dispatchWorkgroups(gx, gy);
}
