// Embedding gather from an f32 table on the GPU: out[t, :] = scale * table[ids[t], :]
// (+ posTable[pos0 + t, :] for learned positions, GPT-2). ids are u32; an id >= rows gives zeros.
// With table = null only the positions are added to `out` (after a quantized gather, get-rows-q.ts).
// Kernel: shaders/embedding.wgsl. Reference: src/core/ops/embedding.ts.
import { type BufferArg, type GpuContext, UniformWriter, dispatch1d } from '../context.ts';

export interface EmbeddingArgs {
  /** f32 [rows, C], or null to only add positions to `out`. */
  table: BufferArg | null;
  /** Rows of the table (default: the whole buffer / C). */
  rows?: number;
  /** u32 [T] token ids. */
  ids: BufferArg;
  /** f32 [T, C]. */
  out: BufferArg;
  T: number;
  C: number;
  /** f32 [maxPos, C] learned positions; row pos0 + t is added. */
  posTable?: BufferArg;
  pos0?: number;
  /** Multiplies the token row (default 1; Gemma uses sqrt(C)). */
  scale?: number;
}

function sizeOf(b: BufferArg): number {
  return 'buffer' in b ? (b.size ?? b.buffer.size - (b.offset ?? 0)) : b.size;
}

export function encodeEmbedding(ctx: GpuContext, pass: GPUComputePassEncoder, a: EmbeddingArgs): void {
  if (a.T < 1 || a.C < 1) throw new Error(`encodeEmbedding: empty shape T=${a.T} C=${a.C}`);
  if (!a.table && !a.posTable) throw new Error('encodeEmbedding: neither a table nor positions');
  const p = ctx.pipeline({ shader: 'embedding' });
  const flags = (a.posTable ? 1 : 0) | (a.table ? 0 : 2);
  const rows = a.rows ?? (a.table ? Math.floor(sizeOf(a.table) / 4 / a.C) : 0);
  const u = ctx.uniform(new UniformWriter().u32(a.T).u32(a.C).u32(a.pos0 ?? 0).u32(flags).u32(rows).f32(a.scale ?? 1).bytes());
  pass.setPipeline(p);
  pass.setBindGroup(0, ctx.bindGroup(p, [u, a.table ?? ctx.placeholder(), a.ids, a.posTable ?? ctx.placeholder(), a.out]));
  const [gx, gy] = dispatch1d(a.T * a.C, 256);
  pass.dispatchWorkgroups(gx, gy);
}
