// Linear layer with a packed GGUF weight: y[M, N] (+)= x[M, K] @ dequant(W)[rowOffset .. rowOffset + N, K]^T (+ bias).
// Kernel: shaders/matmul-q.wgsl (entry `matmul`, or `simple` with args.simple). Reference: dequantize (src/core/quant/dequant.ts,
// ggml's dequantize_row_*), then the f32 matmul (src/core/ops/matmul.ts).
//
// The weight stays packed in GPU memory (src/gpu/weights.ts); the kernel decodes 16-value units on
// the fly. Format = override constant FMT (one pipeline per format); TM = rows of x per workgroup is
// 1 for M = 1 (decode: matrix-vector product) and 8 for M > 1 (prefill: every decoded weight unit is
// used for 8 tokens), so a format has two pipelines, each serving every M. Shapes go in uniforms.
//
// Slicing (same conventions as src/gpu/kernels/matmul.ts):
//   - rowOffset / nRows: rows of W used (GPT-2's fused QKV [3C, C]: rowOffset = C, nRows = C for K);
//   - bias[biasOffset + n], biasOffset defaulting to rowOffset (the bias of the fused matrix);
//   - x row m at xOffset + m * xStride (default 0 / K); y element (m, n) at yOffset + m * yStride + n
//     (default 0 / nRows), so the three projections can be written into columns of one [M, 3C] buffer.
// simple: the barrier-free entry `simple` (one invocation per output y[m, n], walking the row's units;
// no workgroup memory or barrier) for software adapters, where barriers dominate; same semantics and
// arguments, one pipeline per format. GpuBackend passes its `simple` flag (true on software adapters).
// accumulate: y += result (e.g. the output projection straight into the residual stream). y must not
// alias x, W or bias.

import { type GpuContext, UniformWriter } from '../context.ts';
import { type GpuWeight, gpuWeightRowBytes, gpuWeightTypeSupported } from '../weights.ts';
import { typeName } from '../../core/quant/types.ts';

export interface MatmulQArgs {
  /** x[M, K] f32. */
  x: GPUBuffer;
  /** W[rows, K], packed. */
  w: GpuWeight;
  /** y[M, nRows] f32 (written, or accumulated into). */
  y: GPUBuffer;
  M: number;
  /** Optional bias f32, element n at biasOffset + n. */
  bias?: GPUBuffer;
  /** First row of W used (default 0). */
  rowOffset?: number;
  /** Rows of W used = outputs N (default w.rows - rowOffset). */
  nRows?: number;
  /** y += result instead of y = result. */
  accumulate?: boolean;
  /** Default rowOffset. */
  biasOffset?: number;
  /** Element offset / row stride of x (default 0 / K). */
  xOffset?: number;
  xStride?: number;
  /** Element offset / row stride of y (default 0 / nRows). */
  yOffset?: number;
  yStride?: number;
  /** Use the barrier-free entry `simple` (software adapters); default false (the tiled `matmul`). */
  simple?: boolean;
}

/** Threads per workgroup, outputs per workgroup and rows of x per workgroup for M > 1 (see the shader). */
export const MATMUL_Q_WG = 64;
export const MATMUL_Q_NR = 4;
export const MATMUL_Q_TM = 8;
const MAX_GROUPS = 65535;

function nonNegInt(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0) throw new Error(`encodeMatmulQ: ${what} must be a non-negative integer, got ${v}`);
}

export function encodeMatmulQ(ctx: GpuContext, pass: GPUComputePassEncoder, a: MatmulQArgs): void {
  const w = a.w;
  const K = w.cols;
  const rowOffset = a.rowOffset ?? 0;
  const N = a.nRows ?? w.rows - rowOffset;
  const M = a.M;
  nonNegInt(M, 'M');
  nonNegInt(rowOffset, 'rowOffset');
  nonNegInt(N, 'nRows');
  if (!gpuWeightTypeSupported(w.type)) throw new Error(`encodeMatmulQ: ${w.name}: type ${typeName(w.type)} is not supported`);
  if (rowOffset + N > w.rows) {
    throw new Error(`encodeMatmulQ: rows ${rowOffset}..${rowOffset + N} are outside ${w.name} (${w.rows} rows)`);
  }
  if (M === 0 || N === 0) return;
  const xOffset = a.xOffset ?? 0;
  const xStride = a.xStride ?? K;
  const yOffset = a.yOffset ?? 0;
  const yStride = a.yStride ?? N;
  const biasOffset = a.biasOffset ?? rowOffset;
  for (const [k, v] of Object.entries({ xOffset, xStride, yOffset, yStride, biasOffset })) nonNegInt(v, k);
  if (xStride < K || yStride < N) throw new Error('encodeMatmulQ: a row stride is smaller than the row');

  const flags = (a.bias ? 1 : 0) | (a.accumulate ? 2 : 0);
  const uniforms = (groupsX: number): GPUBufferBinding => ctx.uniform(
    new UniformWriter()
      .u32(M).u32(N).u32(K).u32(rowOffset).u32(gpuWeightRowBytes(w)).u32(flags).u32(groupsX)
      .u32(xOffset).u32(xStride).u32(yOffset).u32(yStride).u32(biasOffset)
      .bytes(),
  );

  if (a.simple) {
    // One invocation per output: flat index over M * N, WG per workgroup, x-major 2D grid.
    const total = M * N;
    if (total > 0xffffffff) throw new Error(`encodeMatmulQ: M * N = ${total} exceeds the 32-bit output index`);
    const groups = Math.ceil(total / MATMUL_Q_WG);
    const gy = Math.ceil(groups / MAX_GROUPS);
    const gx = Math.ceil(groups / gy);
    if (gy > MAX_GROUPS) throw new Error(`encodeMatmulQ: M * N = ${total} needs too many workgroups; split the rows`);
    const pipeline = ctx.pipeline({ shader: 'matmul-q', entry: 'simple', constants: { FMT: w.type, WG: MATMUL_Q_WG } });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, ctx.bindGroup(pipeline, [uniforms(gx), w.buffer, a.x, a.bias ?? ctx.placeholder(), a.y]));
    pass.dispatchWorkgroups(gx, gy);
    return;
  }

  const TM = M === 1 ? 1 : MATMUL_Q_TM;
  const pipeline = ctx.pipeline({
    shader: 'matmul-q',
    entry: 'matmul',
    constants: { FMT: w.type, WG: MATMUL_Q_WG, TM },
  });
  const groupsN = Math.ceil(N / MATMUL_Q_NR);
  const gz = Math.ceil(groupsN / MAX_GROUPS);
  const gx = Math.ceil(groupsN / gz);
  const gy = Math.ceil(M / TM);
  if (gy > MAX_GROUPS) throw new Error(`encodeMatmulQ: M = ${M} needs ${gy} workgroups along y (max ${MAX_GROUPS}); split the rows`);
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, ctx.bindGroup(pipeline, [uniforms(gx), w.buffer, a.x, a.bias ?? ctx.placeholder(), a.y]));
  pass.dispatchWorkgroups(gx, gy, gz);
}
