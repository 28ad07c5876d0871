// Row-wise argmax on the GPU over R rows of N (greedy decoding reads back 4 bytes per token instead of
// the logits row): ids[outOffset + r] = lowest index of the row's maximum; ties go to the lowest index;
// a row containing NaN gives ARGMAX_NAN (0xffffffff). Row r of x at xOffset + r * xStride (default 0 / N).
// Kernel: shaders/argmax.wgsl (main: one 256-thread workgroup per row; simple: one invocation per row).
// Reference: src/core/ops/argmax.ts.
import { type BufferArg, type GpuContext, UniformWriter, dispatch1d } from '../context.ts';

export { ARGMAX_NAN } from '../../core/ops/argmax.ts';

export interface ArgmaxArgs {
  x: BufferArg;
  /** u32 output, R entries from outOffset. */
  ids: BufferArg;
  R: number;
  N: number;
  xOffset?: number;
  xStride?: number;
  outOffset?: number;
  /** Barrier-free one-invocation-per-row entry (software adapters). */
  simple?: boolean;
}

export function encodeArgmax(ctx: GpuContext, pass: GPUComputePassEncoder, a: ArgmaxArgs): void {
  if (a.R < 1 || a.N < 1) throw new Error(`encodeArgmax: empty shape R=${a.R} N=${a.N}`);
  const ldx = a.xStride ?? a.N;
  if (ldx < a.N) throw new Error('encodeArgmax: the row stride is smaller than the row');
  const p = ctx.pipeline({ shader: 'argmax', entry: a.simple ? 'simple' : 'main' });
  const u = ctx.uniform(new UniformWriter().u32(a.R).u32(a.N).u32(a.xOffset ?? 0).u32(ldx).u32(a.outOffset ?? 0).bytes());
  pass.setPipeline(p);
  pass.setBindGroup(0, ctx.bindGroup(p, [u, a.x, a.ids]));
  const [gx, gy] = a.simple ? dispatch1d(a.R, 64) : dispatch1d(a.R, 1);
  pass.dispatchWorkgroups(gx, gy);
}
