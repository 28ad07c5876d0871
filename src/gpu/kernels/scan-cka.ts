// The memory-bound steps of linear CKA on the GPU (Kornblith et al. 2019, arXiv 1905.00414); the Gram /
// cross products go through encodeMatmul. Kernel: shaders/scan-cka.wgsl (barrier-free entries, one
// version for every adapter). Reference: src/core/metrics/cka.ts.
//   encodeCenter: X [T, C] (from aOffset) -> column-centred Xc, row-major [T, C] or transposed [C, T].
//   encodeRowDot: out[outOffset + r] = sum_j a[aOffset + r * cols + j] * b[bOffset + r * cols + j], r < rows.
import { type BufferArg, type GpuContext, UniformWriter, dispatch1d } from '../context.ts';

export interface CenterArgs {
  x: BufferArg;
  /** f32 [T, C] (or [C, T] when transposed) from outOffset; must not alias x. */
  out: BufferArg;
  T: number;
  C: number;
  xOffset?: number;
  outOffset?: number;
  transposed?: boolean;
}

export function encodeCenter(ctx: GpuContext, pass: GPUComputePassEncoder, a: CenterArgs): void {
  if (a.T < 1 || a.C < 1) throw new Error(`encodeCenter: empty shape T=${a.T} C=${a.C}`);
  const p = ctx.pipeline({ shader: 'scan-cka', entry: 'center' });
  const u = ctx.uniform(new UniformWriter().u32(a.T).u32(a.C).u32(a.xOffset ?? 0).u32(0).u32(a.outOffset ?? 0).u32(a.transposed ? 1 : 0).bytes());
  pass.setPipeline(p);
  pass.setBindGroup(0, ctx.bindGroupAt(p, { 0: u, 1: a.x, 3: a.out }));
  const [gx, gy] = dispatch1d(a.C, 64);
  pass.dispatchWorkgroups(gx, gy);
}

export interface RowDotArgs {
  a: BufferArg;
  b: BufferArg;
  /** f32, rows values from outOffset; must not alias a or b. */
  out: BufferArg;
  rows: number;
  cols: number;
  aOffset?: number;
  bOffset?: number;
  outOffset?: number;
}

export function encodeRowDot(ctx: GpuContext, pass: GPUComputePassEncoder, a: RowDotArgs): void {
  if (a.rows < 1 || a.cols < 1) throw new Error(`encodeRowDot: empty shape ${a.rows}x${a.cols}`);
  const p = ctx.pipeline({ shader: 'scan-cka', entry: 'row_dot' });
  const u = ctx.uniform(new UniformWriter().u32(a.rows).u32(a.cols).u32(a.aOffset ?? 0).u32(a.bOffset ?? 0).u32(a.outOffset ?? 0).u32(0).bytes());
  pass.setPipeline(p);
  pass.setBindGroup(0, ctx.bindGroupAt(p, { 0: u, 1: a.a, 2: a.b, 3: a.out }));
  const [gx, gy] = dispatch1d(a.rows, 64);
  pass.dispatchWorkgroups(gx, gy);
}
