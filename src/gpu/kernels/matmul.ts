// Linear layer on the GPU: y[M, N] = x[M, K] @ W^T (+ bias) (+ y), W[N, K] row-major (out, in).
// Kernel: shaders/matmul.wgsl. Reference: src/core/ops/matmul.ts.
//
// Slicing: every operand has an element offset and a row stride, so
//   - rows r0..r0+N of a fused matrix Wqkv[3C, C]: wOffset = r0 * C (and biasOffset = r0);
//   - writing into columns c0..c0+N of a wider buffer y[M, Y]: yOffset = c0, yStride = Y;
//   - reading columns of a wider x likewise (xOffset, xStride).
// Fused residual: `accumulate: true` computes y += x @ W^T (+ bias), e.g. the attention output
// projection straight into the residual stream. y must not alias x, W or bias (one writable binding).
import { type BufferArg, type GpuContext, UniformWriter, dispatch1d } from '../context.ts';
import { encodeMatmulSimple } from './matmul-simple.ts';

export interface MatmulArgs {
  /** x[M, K] (row m at xOffset + m * xStride). */
  x: BufferArg;
  /** W[N, K] (row n at wOffset + n * wStride). */
  w: BufferArg;
  /** y[M, N] (element (m, n) at yOffset + m * yStride + n). Written (or accumulated into). */
  y: BufferArg;
  /** Optional bias[N] (element n at biasOffset + n). */
  bias?: BufferArg;
  M: number;
  N: number;
  K: number;
  /** Element offset / row stride of x (default 0 / K). */
  xOffset?: number;
  xStride?: number;
  /** Element offset / row stride of W (default 0 / K). Row slice r0.. of a fused matrix: r0 * wStride. */
  wOffset?: number;
  wStride?: number;
  /** Element offset / row stride of y (default 0 / N). */
  yOffset?: number;
  yStride?: number;
  biasOffset?: number;
  /** y += result instead of y = result. */
  accumulate?: boolean;
  /**
   * Force a code path; 'auto' picks gemv for M <= 4, else the 64x64 tiled kernel. 'simple' is the
   * barrier-free one-invocation-per-output kernel (shaders/matmul-simple.wgsl) for software adapters.
   */
  variant?: 'auto' | 'tiled' | 'gemv' | 'simple';
}

/** Rows M up to which 'auto' uses the gemv path. */
export const GEMV_MAX_M = 4;

export function encodeMatmul(ctx: GpuContext, pass: GPUComputePassEncoder, a: MatmulArgs): void {
  const { M, N, K } = a;
  for (const [k, v] of Object.entries({ M, N, K })) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`encodeMatmul: ${k} must be a positive integer, got ${v}`);
  }
  const xOff = a.xOffset ?? 0;
  const ldx = a.xStride ?? K;
  const wOff = a.wOffset ?? 0;
  const ldw = a.wStride ?? K;
  const yOff = a.yOffset ?? 0;
  const ldy = a.yStride ?? N;
  if (ldx < K || ldw < K || ldy < N) throw new Error('encodeMatmul: a row stride is smaller than the row');
  const vec4 = [K, ldx, xOff, ldw, wOff].every((v) => v % 4 === 0);
  const variant = a.variant ?? 'auto';
  if (variant === 'simple') {
    encodeMatmulSimple(ctx, pass, a);
    return;
  }
  const gemv = variant === 'gemv' || (variant === 'auto' && M <= GEMV_MAX_M);
  const entry = `${gemv ? 'gemv' : 'tiled'}${vec4 ? '_vec4' : ''}`;
  const pipeline = ctx.pipeline({ shader: 'matmul', entry });
  const flags = (a.bias ? 1 : 0) | (a.accumulate ? 2 : 0);
  const u = ctx.uniform(
    new UniformWriter().u32(M).u32(N).u32(K).u32(ldx).u32(xOff).u32(ldw).u32(wOff).u32(ldy).u32(yOff).u32(a.biasOffset ?? 0).u32(flags).bytes(),
  );
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, ctx.bindGroup(pipeline, [u, a.x, a.w, a.bias ?? ctx.placeholder(), a.y]));
  if (gemv) {
    const [gx, gy] = dispatch1d(N, 4);
    if (Math.ceil(M / 4) > 65535) throw new Error('encodeMatmul: gemv supports M <= 262140');
    pass.dispatchWorkgroups(gx, gy, Math.ceil(M / 4));
  } else {
    const [gx, gy] = dispatch1d(Math.ceil(M / 64) * Math.ceil(N / 64), 1);
    pass.dispatchWorkgroups(gx, gy);
  }
}
