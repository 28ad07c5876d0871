// Backward kernels for gradient attribution (issue 3, metric 8) on the GPU, the ops other than linear
// and RMSNorm (those are in ./grad-backward.ts): LayerNorm (dx, dw, db), RoPE (both forms, partial
// rotary dim), row softmax, causal GQA attention (probabilities, dS, dq, dk, dv), SwiGLU gate (dg, du),
// GELU (tanh form), embedding (race-free scatter-add into dTable) and next-token cross-entropy
// (softmax - onehot) / denom. The residual add's backward is the identity (dy flows to both inputs).
// Kernels: shaders/grad-{layer-norm,rope,softmax,attention,activations,embedding,cross-entropy}.wgsl,
// one invocation per output row or element, plain loops, f32. References (float64, finite-difference
// tested): src/core/grad/ops/*.ts.
import { type BufferArg, type GpuContext, UniformWriter, dispatch1d } from '../context.ts';
import { ropeTableBuffer } from './rope.ts';

function grid(pass: GPUComputePassEncoder, n: number): void {
  const [gx, gy] = dispatch1d(n, 64);
  pass.dispatchWorkgroups(gx, gy);
}

export interface LayerNormBackwardArgs {
  /** dY [T, C] */
  dy: BufferArg;
  /** x [T, C], the norm's input (unused by 'db') */
  x: BufferArg;
  /** w [C] (read by 'dx' only) */
  w: BufferArg;
  /** 'dx': [T, C]; 'dw', 'db': [C] (overwritten). */
  out: BufferArg;
  T: number;
  C: number;
  eps: number;
  which: 'dx' | 'dw' | 'db';
}

export function encodeLayerNormBackward(ctx: GpuContext, pass: GPUComputePassEncoder, a: LayerNormBackwardArgs): void {
  if (a.T < 1 || a.C < 1) throw new Error(`encodeLayerNormBackward: empty shape T=${a.T} C=${a.C}`);
  const p = ctx.pipeline({ shader: 'grad-layer-norm', entry: a.which });
  const u = ctx.uniform(new UniformWriter().u32(a.T).u32(a.C).f32(a.eps).bytes());
  pass.setPipeline(p);
  const b: Record<number, BufferArg> = { 0: u, 1: a.dy, 3: a.out };
  if (a.which !== 'db') b[2] = a.x;
  if (a.which === 'dx') b[4] = a.w;
  pass.setBindGroup(0, ctx.bindGroupAt(p, b));
  grid(pass, a.which === 'dx' ? a.T : a.C);
}

export interface RopeBackwardArgs {
  /** dY [T, H, D] contiguous, turned into dX in place (rotation by -angle; channels >= dim unchanged). */
  x: BufferArg;
  T: number;
  H: number;
  D: number;
  pos0: number;
  theta: number;
  /** Rotary channels per head (even, <= D). */
  dim: number;
  kind: 'adjacent' | 'half';
}

export function encodeRopeBackward(ctx: GpuContext, pass: GPUComputePassEncoder, a: RopeBackwardArgs): void {
  if (a.dim % 2 !== 0 || a.dim < 2 || a.dim > a.D) throw new Error(`encodeRopeBackward: rotary dim ${a.dim} must be even, >= 2 and <= head dim ${a.D}`);
  if (a.T < 1 || a.H < 1) throw new Error(`encodeRopeBackward: empty shape T=${a.T} H=${a.H}`);
  const table = ropeTableBuffer(ctx, a.theta, a.dim, a.pos0 + a.T);
  const p = ctx.pipeline({ shader: 'grad-rope' });
  const u = ctx.uniform(new UniformWriter().u32(a.T).u32(a.H).u32(a.D).u32(a.dim).u32(a.pos0).u32(a.kind === 'half' ? 1 : 0).bytes());
  pass.setPipeline(p);
  pass.setBindGroup(0, ctx.bindGroup(p, [u, table, a.x]));
  grid(pass, a.T * a.H * (a.dim / 2));
}

export interface SoftmaxBackwardArgs {
  /** dY [R, N] */
  dy: BufferArg;
  /** y = softmax(x) [R, N] */
  y: BufferArg;
  /** dX [R, N] */
  out: BufferArg;
  R: number;
  N: number;
}

export function encodeSoftmaxBackward(ctx: GpuContext, pass: GPUComputePassEncoder, a: SoftmaxBackwardArgs): void {
  if (a.R < 1 || a.N < 1) throw new Error(`encodeSoftmaxBackward: empty shape R=${a.R} N=${a.N}`);
  const p = ctx.pipeline({ shader: 'grad-softmax' });
  const u = ctx.uniform(new UniformWriter().u32(a.R).u32(a.N).bytes());
  pass.setPipeline(p);
  pass.setBindGroup(0, ctx.bindGroup(p, [u, a.dy, a.y, a.out]));
  grid(pass, a.R);
}

export interface AttentionShape {
  T: number;
  H: number;
  Hkv: number;
  D: number;
  scale: number;
}

export interface AttentionBackwardArgs extends AttentionShape {
  /** dO [T, H, D] */
  dO: BufferArg;
  /** q [T, H, D] (post-RoPE) */
  q: BufferArg;
  /** k, v [T, Hkv, D] (k post-RoPE) */
  k: BufferArg;
  v: BufferArg;
  /** Probabilities [H, T, T] as encodeAttentionProbs writes them. */
  p: BufferArg;
  /** Scratch [H, T, T] for the score gradients dS (scale included). */
  ds: BufferArg;
  /** Outputs: dq [T, H, D], dk, dv [T, Hkv, D] (overwritten). */
  dq: BufferArg;
  dk: BufferArg;
  dv: BufferArg;
}

function attnUniform(ctx: GpuContext, a: AttentionShape): GPUBufferBinding {
  if (a.T < 1 || a.H < 1 || a.Hkv < 1 || a.D < 1) throw new Error(`attention backward: empty shape T=${a.T} H=${a.H} Hkv=${a.Hkv} D=${a.D}`);
  if (a.H % a.Hkv !== 0) throw new Error(`attention backward: ${a.H} heads are not a multiple of ${a.Hkv} KV heads`);
  return ctx.uniform(new UniformWriter().u32(a.T).u32(a.H).u32(a.Hkv).u32(a.D).f32(a.scale).bytes());
}

function attnEntry(ctx: GpuContext, pass: GPUComputePassEncoder, entry: string, u: GPUBufferBinding, b: Record<number, BufferArg>, n: number): void {
  const p = ctx.pipeline({ shader: 'grad-attention', entry });
  pass.setPipeline(p);
  pass.setBindGroup(0, ctx.bindGroupAt(p, { 0: u, ...b }));
  grid(pass, n);
}

/** Causal softmax probabilities p [H, T, T] (zero above the diagonal) of q [T, H, D], k [T, Hkv, D]. */
export function encodeAttentionProbs(ctx: GpuContext, pass: GPUComputePassEncoder, a: AttentionShape & { q: BufferArg; k: BufferArg; p: BufferArg }): void {
  const u = attnUniform(ctx, a);
  attnEntry(ctx, pass, 'probs', u, { 1: a.q, 2: a.k, 3: a.p }, a.H * a.T);
}

/** Attention output o [T, H, D] = P V from probabilities p [H, T, T] and v [T, Hkv, D] (the `dq` entry). */
export function encodeAttentionApply(ctx: GpuContext, pass: GPUComputePassEncoder, a: AttentionShape & { p: BufferArg; v: BufferArg; out: BufferArg }): void {
  const u = attnUniform(ctx, a);
  attnEntry(ctx, pass, 'dq', u, { 1: a.p, 2: a.v, 3: a.out }, a.T * a.H * a.D);
}

/** dq, dk, dv of causal GQA attention from dO and the saved probabilities (four dispatches). */
export function encodeAttentionBackward(ctx: GpuContext, pass: GPUComputePassEncoder, a: AttentionBackwardArgs): void {
  const u = attnUniform(ctx, a);
  attnEntry(ctx, pass, 'ds', u, { 1: a.dO, 2: a.v, 3: a.ds, 4: a.p }, a.H * a.T);
  attnEntry(ctx, pass, 'dq', u, { 1: a.ds, 2: a.k, 3: a.dq }, a.T * a.H * a.D);
  attnEntry(ctx, pass, 'dkv', u, { 1: a.ds, 2: a.q, 3: a.dk }, a.T * a.Hkv * a.D);
  attnEntry(ctx, pass, 'dkv', u, { 1: a.p, 2: a.dO, 3: a.dv }, a.T * a.Hkv * a.D);
}

/** SwiGLU gate backward: dg, du [n] from dy, g, u [n]. */
export function encodeSiluGateBackward(ctx: GpuContext, pass: GPUComputePassEncoder, a: { dy: BufferArg; g: BufferArg; u: BufferArg; dg: BufferArg; du: BufferArg; n: number }): void {
  if (a.n < 1) throw new Error('encodeSiluGateBackward: empty');
  const p = ctx.pipeline({ shader: 'grad-activations', entry: 'silu_gate' });
  const u = ctx.uniform(new UniformWriter().u32(a.n).bytes());
  pass.setPipeline(p);
  pass.setBindGroup(0, ctx.bindGroup(p, [u, a.dy, a.g, a.u, a.dg, a.du]));
  grid(pass, a.n);
}

/** GELU (tanh form) backward: dx [n] from dy, x [n]. */
export function encodeGeluBackward(ctx: GpuContext, pass: GPUComputePassEncoder, a: { dy: BufferArg; x: BufferArg; out: BufferArg; n: number }): void {
  if (a.n < 1) throw new Error('encodeGeluBackward: empty');
  const p = ctx.pipeline({ shader: 'grad-activations', entry: 'gelu' });
  const u = ctx.uniform(new UniformWriter().u32(a.n).bytes());
  pass.setPipeline(p);
  pass.setBindGroup(0, ctx.bindGroupAt(p, { 0: u, 1: a.dy, 2: a.x, 4: a.out }));
  grid(pass, a.n);
}

/** Embedding backward: dTable [rows, C] += scatter of dy [T, C] by ids [T] (u32). */
export function encodeEmbeddingBackward(ctx: GpuContext, pass: GPUComputePassEncoder, a: { dy: BufferArg; ids: BufferArg; dTable: BufferArg; T: number; C: number; rows: number }): void {
  if (a.T < 1 || a.C < 1 || a.rows < 1) throw new Error(`encodeEmbeddingBackward: empty shape T=${a.T} C=${a.C} rows=${a.rows}`);
  const p = ctx.pipeline({ shader: 'grad-embedding' });
  const u = ctx.uniform(new UniformWriter().u32(a.T).u32(a.C).u32(a.rows).bytes());
  pass.setPipeline(p);
  pass.setBindGroup(0, ctx.bindGroup(p, [u, a.dy, a.ids, a.dTable]));
  grid(pass, a.rows * a.C);
}

/**
 * Next-token cross-entropy: dlogits [T, V] = (softmax - onehot(ids[t+1])) / denom (last row 0), and
 * loss [T] per-row terms (their sum is the mean loss). ids [T] u32. denom defaults to T - 1.
 */
export function encodeCrossEntropyBackward(ctx: GpuContext, pass: GPUComputePassEncoder, a: { logits: BufferArg; ids: BufferArg; dlogits: BufferArg; loss: BufferArg; T: number; V: number; denom?: number }): void {
  if (a.T < 1 || a.V < 1) throw new Error(`encodeCrossEntropyBackward: empty shape T=${a.T} V=${a.V}`);
  const denom = a.denom ?? Math.max(1, a.T - 1);
  const p = ctx.pipeline({ shader: 'grad-cross-entropy' });
  const u = ctx.uniform(new UniformWriter().u32(a.T).u32(a.V).f32(denom).bytes());
  pass.setPipeline(p);
  pass.setBindGroup(0, ctx.bindGroup(p, [u, a.logits, a.ids, a.dlogits, a.loss]));
  grid(pass, a.T);
}
