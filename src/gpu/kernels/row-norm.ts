// The shared host side of the row normalizations (rms-norm.ts, layer-norm.ts): x [T, C] read at
// xOffset + t * xStride, written to y (or in place), with the tiled entry (one workgroup per row),
// the in-place entry, or the barrier-free `simple` entry (one invocation per row, needs y). The
// uniform block is T, C, x offset/stride, y offset/stride, eps, then the norm's own trailing words.
import { type BufferArg, type GpuContext, UniformWriter, dispatch1d } from '../context.ts';

export interface RowNormArgs {
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

/**
 * Encodes one row-norm dispatch of `shader`. `tailU32` words follow eps in the uniform block;
 * `params` are bound after x and w (before y), e.g. LayerNorm's bias.
 */
export function encodeRowNorm(ctx: GpuContext, pass: GPUComputePassEncoder, shader: string, a: RowNormArgs, tailU32: number[] = [], params: BufferArg[] = []): void {
  if (a.T < 1 || a.C < 1) throw new Error(`${shader}: empty shape T=${a.T} C=${a.C}`);
  if (a.simple && !a.y) throw new Error(`${shader}: the simple variant needs an output y`);
  const p = ctx.pipeline({ shader, entry: a.simple ? 'simple' : a.y ? 'main' : 'in_place' });
  const xOff = a.xOffset ?? 0;
  const ldx = a.xStride ?? a.C;
  const w = new UniformWriter()
    .u32(a.T).u32(a.C).u32(xOff).u32(ldx)
    .u32(a.y ? (a.yOffset ?? 0) : xOff).u32(a.y ? (a.yStride ?? a.C) : ldx)
    .f32(a.eps);
  for (const v of tailU32) w.u32(v);
  const u = ctx.uniform(w.bytes());
  pass.setPipeline(p);
  pass.setBindGroup(0, ctx.bindGroup(p, a.y ? [u, a.x, a.w, ...params, a.y] : [u, a.x, a.w, ...params]));
  const [gx, gy] = a.simple ? dispatch1d(a.T, 64) : dispatch1d(a.T, 1);
  pass.dispatchWorkgroups(gx, gy);
}
