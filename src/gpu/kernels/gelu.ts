// GELU (tanh form, GPT-2 gelu_new) on the GPU, elementwise over n values: y = gelu(x + bias[i % C]).
// Without y the values are replaced in place; the bias (length C, the row width of x [n / C, C]) is
// optional. Kernel: shaders/gelu.wgsl. Reference: src/core/ops/gelu.ts.
import { type BufferArg, type GpuContext, UniformWriter, dispatch1d } from '../context.ts';

export interface GeluArgs {
  x: BufferArg;
  /** Output; omit to write over x. Must not alias x otherwise. */
  y?: BufferArg;
  /** Number of values (T * C). */
  n: number;
  /** Optional bias[C] added before the GELU; needs C. */
  bias?: BufferArg;
  /** Row width the bias repeats over (required with bias). */
  C?: number;
  biasOffset?: number;
  xOffset?: number;
  yOffset?: number;
}

export function encodeGelu(ctx: GpuContext, pass: GPUComputePassEncoder, a: GeluArgs): void {
  if (a.n < 1) throw new Error(`encodeGelu: n must be positive, got ${a.n}`);
  if (a.bias && !(a.C && a.C > 0)) throw new Error('encodeGelu: a bias needs the row width C');
  const p = ctx.pipeline({ shader: 'gelu', entry: a.y ? 'main' : 'in_place' });
  const xOff = a.xOffset ?? 0;
  const u = ctx.uniform(
    new UniformWriter().u32(a.n).u32(a.C ?? 1).u32(xOff).u32(a.y ? (a.yOffset ?? 0) : xOff).u32(a.biasOffset ?? 0).u32(a.bias ? 1 : 0).bytes(),
  );
  const bias = a.bias ?? ctx.placeholder();
  pass.setPipeline(p);
  pass.setBindGroup(0, ctx.bindGroup(p, a.y ? [u, a.x, bias, a.y] : [u, a.x, bias]));
  const [gx, gy] = dispatch1d(a.n, 256);
  pass.dispatchWorkgroups(gx, gy);
}
