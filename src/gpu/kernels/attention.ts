// Causal GQA self-attention over a KV cache on the GPU: o[t, h] = softmax_j(scale * q[t, h] . k[j]) v[j]
// over j <= pos0 + t, query head h reading KV head h / (H / Hkv). Online softmax over 64-key chunks:
// any context length, D <= 256. Kernel: shaders/attention.wgsl. Reference: src/core/ops/attention.ts.
// Append this step's K/V first with encodeKvWrite (re-exported here).
import { type BufferArg, type GpuContext, UniformWriter, dispatch1d } from '../context.ts';

export { encodeKvWrite, type KvWriteArgs } from './kv-write.ts';

export const ATTENTION_MAX_HEAD_DIM = 256;

export interface AttentionArgs {
  /** q [T, H, D] for positions pos0 .. pos0+T-1 (token t at qOffset + t * qStride). */
  q: BufferArg;
  /** [maxCtx, Hkv, D], positions 0 .. pos0+T-1 filled. */
  kCache: BufferArg;
  vCache: BufferArg;
  /** o [T, H, D] (token t at oOffset + t * oStride). Must not alias q or the caches. */
  o: BufferArg;
  T: number;
  H: number;
  Hkv: number;
  D: number;
  pos0: number;
  /** Usually 1 / sqrt(D). */
  scale: number;
  qOffset?: number;
  /** Elements between tokens of q (default H * D), e.g. the row width of a fused QKV buffer. */
  qStride?: number;
  oOffset?: number;
  oStride?: number;
}

export function encodeAttention(ctx: GpuContext, pass: GPUComputePassEncoder, a: AttentionArgs): void {
  const { T, H, Hkv, D } = a;
  if (T < 1 || H < 1 || Hkv < 1 || D < 1) throw new Error(`encodeAttention: empty shape T=${T} H=${H} Hkv=${Hkv} D=${D}`);
  if (D > ATTENTION_MAX_HEAD_DIM) throw new Error(`encodeAttention: head dim ${D} > ${ATTENTION_MAX_HEAD_DIM} is not supported`);
  if (H % Hkv !== 0) throw new Error(`encodeAttention: ${H} heads are not a multiple of ${Hkv} KV heads`);
  const p = ctx.pipeline({ shader: 'attention' });
  const u = ctx.uniform(
    new UniformWriter()
      .u32(T).u32(H).u32(Hkv).u32(D).u32(a.pos0).f32(a.scale)
      .u32(a.qOffset ?? 0).u32(a.qStride ?? H * D).u32(a.oOffset ?? 0).u32(a.oStride ?? H * D)
      .bytes(),
  );
  pass.setPipeline(p);
  pass.setBindGroup(0, ctx.bindGroup(p, [u, a.q, a.kCache, a.vCache, a.o]));
  const [gx, gy] = dispatch1d(T * H, 1);
  pass.dispatchWorkgroups(gx, gy);
}
