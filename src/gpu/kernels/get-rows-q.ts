// Embedding gather from a packed table: out[t, c] = dequant(table)[ids[t], c] for t < T, c < cols.
// Kernel: shaders/matmul-q.wgsl, entry `get_rows` (it shares that file's block decoders; WGSL has no
// includes, so the gather lives next to the matmul rather than in its own .wgsl). Reference:
// dequantize (src/core/quant/dequant.ts) of the selected rows. Every type of the engine list
// (F32, F16, BF16, Q4_0 .. Q8_0, Q2_K .. Q6_K). An id outside the table gives a row of zeros.

import { type GpuContext, UniformWriter } from '../context.ts';
import { type GpuWeight, gpuWeightRowBytes, gpuWeightTypeSupported } from '../weights.ts';
import { typeName } from '../../core/quant/types.ts';

export interface GetRowsQArgs {
  /** The table [rows, cols], packed. */
  table: GpuWeight;
  /** u32 [T] row ids. */
  ids: GPUBuffer;
  /** f32 [T, cols]. */
  out: GPUBuffer;
  T: number;
}

export const GET_ROWS_Q_WG = 64;
const MAX_GROUPS = 65535;

export function encodeGetRowsQ(ctx: GpuContext, pass: GPUComputePassEncoder, a: GetRowsQArgs): void {
  const { table, T } = a;
  if (!Number.isInteger(T) || T < 0) throw new Error(`encodeGetRowsQ: T must be a non-negative integer, got ${T}`);
  if (!gpuWeightTypeSupported(table.type)) throw new Error(`encodeGetRowsQ: ${table.name}: type ${typeName(table.type)} is not supported`);
  if (T === 0) return;
  const cols = table.cols;
  const pipeline = ctx.pipeline({ shader: 'matmul-q', entry: 'get_rows', constants: { FMT: table.type, WG: GET_ROWS_Q_WG } });
  const gx = Math.ceil(Math.ceil(cols / 4) / GET_ROWS_Q_WG);
  if (gx > MAX_GROUPS) throw new Error(`encodeGetRowsQ: rows of ${cols} values are too long`);
  const gz = Math.ceil(T / MAX_GROUPS);
  const gy = Math.ceil(T / gz);
  const u = ctx.uniform(
    new UniformWriter().u32(T).u32(table.rows).u32(cols).u32(0).u32(gpuWeightRowBytes(table)).u32(0).u32(gy).bytes(),
  );
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, ctx.bindGroup(pipeline, [u, table.buffer, a.ids, a.out]));
  pass.dispatchWorkgroups(gx, gy, gz);
}
