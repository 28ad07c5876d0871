// Token embedding gather from an f32 table, plus learned positions (shaders/embedding.wgsl).
// Quantized tables use encodeGetRowsQ (kernels/get-rows-q.ts), then this kernel with table = null adds
// the positions. Reference: row copies (src/core/model/forward.ts embedding step).
import { type GpuContext, UniformWriter, dispatch1d } from '../context.ts';

export interface EmbeddingArgs {
  /** f32 [rows, C], or null to only add positions to `out`. */
  table: GPUBuffer | null;
  /** Rows of the table (ids >= rows give zeros). */
  rows?: number;
  ids: GPUBuffer;
  out: GPUBuffer;
  T: number;
  C: number;
  /** f32 [maxPos, C] learned positions, row pos0 + t added. */
  posTable?: GPUBuffer;
  pos0?: number;
}

export function encodeEmbedding(ctx: GpuContext, pass: GPUComputePassEncoder, a: EmbeddingArgs): void {
  const p = ctx.pipeline({ shader: 'embedding' });
  const flags = (a.posTable ? 1 : 0) | (a.table ? 0 : 2);
  const rows = a.rows ?? (a.table ? Math.floor(a.table.size / 4 / a.C) : 0);
  const u = ctx.uniform(new UniformWriter().u32(a.T).u32(a.C).u32(a.pos0 ?? 0).u32(flags).u32(rows).u32(0).u32(0).u32(0).bytes());
  pass.setPipeline(p);
  pass.setBindGroup(0, ctx.bindGroup(p, [u, a.table ?? ctx.placeholder(), a.ids, a.posTable ?? ctx.placeholder(), a.out]));
  const [gx, gy] = dispatch1d(a.T * a.C, 256);
  pass.dispatchWorkgroups(gx, gy);
}
