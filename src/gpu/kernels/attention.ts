// Causal GQA self-attention over a KV cache on the GPU: o[t, h] = softmax_j(scale * q[t, h] . k[j]) v[j]
// over j <= pos0 + t, query head h reading KV head h / (H / Hkv). Online softmax over 64-key chunks:
// any context length, D <= 256. Kernel: shaders/attention.wgsl. Reference: src/core/ops/attention.ts.
// Append this step's K/V first with encodeKvWrite (re-exported here).
//
// Two schedules, chosen per call ('auto'):
//   single: one workgroup per (t, h) walks all its keys (prefill: many rows);
//   split:  few rows over a long context (decode): the keys are split into S ranges handled by S
//           workgroups per row, whose partial softmax states are merged by a second dispatch
//           (flash-decoding). Needs a scratch buffer of T * H * S * (D + 2) floats, kept per
//           GpuContext and grown on demand; both dispatches go into the caller's pass.
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
  /** Force a schedule; 'auto' splits when rows T * H are few and the context is long; 'simple' is the barrier-free one-invocation-per-(t, h) kernel for software adapters. */
  variant?: 'auto' | 'single' | 'split' | 'simple';
  /** Keys per split range for 'split' (a multiple of 64; default chosen from the shape). */
  splitLen?: number;
}

/** Rows (T * H) below which, and keys above which, 'auto' uses the split schedule. */
const SPLIT_MAX_ROWS = 512;
const SPLIT_MIN_KEYS = 256;
/** Workgroups the split schedule aims for. */
const SPLIT_TARGET_GROUPS = 1024;

const scratch = new WeakMap<GpuContext, GPUBuffer>();

function scratchBuffer(ctx: GpuContext, floats: number): GPUBuffer {
  const have = scratch.get(ctx);
  if (have && have.size >= floats * 4) return have;
  // A smaller scratch may still be referenced by recorded work: it is dropped, not destroyed.
  const buf = ctx.device.createBuffer({ label: 'attention split scratch', size: Math.max(256, 2 ** Math.ceil(Math.log2(floats * 4))), usage: GPUBufferUsage.STORAGE });
  scratch.set(ctx, buf);
  return buf;
}

export function encodeAttention(ctx: GpuContext, pass: GPUComputePassEncoder, a: AttentionArgs): void {
  const { T, H, Hkv, D } = a;
  if (T < 1 || H < 1 || Hkv < 1 || D < 1) throw new Error(`encodeAttention: empty shape T=${T} H=${H} Hkv=${Hkv} D=${D}`);
  if (D > ATTENTION_MAX_HEAD_DIM) throw new Error(`encodeAttention: head dim ${D} > ${ATTENTION_MAX_HEAD_DIM} is not supported`);
  if (H % Hkv !== 0) throw new Error(`encodeAttention: ${H} heads are not a multiple of ${Hkv} KV heads`);
  const rows = T * H;
  const nMax = a.pos0 + T;
  const variant = a.variant ?? 'auto';
  let splitLen = 0;
  if (variant === 'split' || (variant === 'auto' && rows < SPLIT_MAX_ROWS && nMax > SPLIT_MIN_KEYS)) {
    const S0 = Math.min(Math.ceil(nMax / 64), Math.max(1, Math.ceil(SPLIT_TARGET_GROUPS / rows)));
    splitLen = a.splitLen ?? Math.ceil(nMax / S0 / 64) * 64;
    if (splitLen < 1 || splitLen % 64 !== 0) throw new Error(`encodeAttention: splitLen ${splitLen} must be a positive multiple of 64`);
  }
  const S = splitLen ? Math.ceil(nMax / splitLen) : 1;
  const u = ctx.uniform(
    new UniformWriter()
      .u32(T).u32(H).u32(Hkv).u32(D).u32(a.pos0).f32(a.scale)
      .u32(a.qOffset ?? 0).u32(a.qStride ?? H * D).u32(a.oOffset ?? 0).u32(a.oStride ?? H * D)
      .u32(S).u32(splitLen)
      .bytes(),
  );
  if (variant === 'simple') {
    // One invocation per (t, h), no barriers: for software adapters.
    const p = ctx.pipeline({ shader: 'attention', entry: 'simple' });
    pass.setPipeline(p);
    pass.setBindGroup(0, ctx.bindGroup(p, [u, a.q, a.kCache, a.vCache, a.o]));
    const [gx, gy] = dispatch1d(rows, 64);
    pass.dispatchWorkgroups(gx, gy);
    return;
  }
  if (!splitLen) {
    const p = ctx.pipeline({ shader: 'attention' });
    pass.setPipeline(p);
    pass.setBindGroup(0, ctx.bindGroup(p, [u, a.q, a.kCache, a.vCache, a.o]));
    const [gx, gy] = dispatch1d(rows, 1);
    pass.dispatchWorkgroups(gx, gy);
    return;
  }
  const part = scratchBuffer(ctx, rows * S * (D + 2));
  const p1 = ctx.pipeline({ shader: 'attention', entry: 'split_partial' });
  pass.setPipeline(p1);
  pass.setBindGroup(0, ctx.bindGroup(p1, [u, a.q, a.kCache, a.vCache, part]));
  const [gx, gy] = dispatch1d(rows * S, 1);
  pass.dispatchWorkgroups(gx, gy);
  const p2 = ctx.pipeline({ shader: 'attention', entry: 'split_combine' });
  pass.setPipeline(p2);
  pass.setBindGroup(0, ctx.bindGroupAt(p2, { 0: u, 1: part, 4: a.o }));
  const [hx, hy] = dispatch1d(rows, 1);
  pass.dispatchWorkgroups(hx, hy);
}
