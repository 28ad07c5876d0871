// GPU gradients of the mean next-token cross-entropy for attribution (issue 3, metric 8), for both graphs
// of the reference forward (src/core/model/forward.ts):
//   Llama  RMSNorm, RoPE adjacent/half/none, causal GQA attention, SwiGLU MLP, optional q/k/v biases;
//   GPT-2  learned position embeddings, LayerNorm with bias, fused QKV with bias, GELU(tanh) MLP, biases
//          on every linear;
// tied or untied unembedding (with optional output bias). The same computation as
// src/core/grad/backward.ts (GradModel.lossAndGrad), in f32 on the GPU:
//   forward  one compute pass that keeps every block's tape (x, hA, q, k, v, P, o, mid, hM, [g,] u, act)
//            in storage buffers (kernels: embedding (+ positions), matmul 'simple' with bias, rms-norm /
//            layer-norm, rope, grad-attention probs / P V, silu-gate / gelu, add);
//   loss     shaders/grad-cross-entropy.wgsl;
//   backward the kernels of src/gpu/kernels/grad-backward.ts and grad-ops.ts in reverse; the residual
//            add's backward is the identity, so dL/dh flows straight through and each sublayer adds its
//            input gradient to it.
// A fused QKV matrix [3C, C] (GPT-2) is uploaded as its three row blocks q, k, v (and bias slices), so the
// attention path is the Llama one; the gradient of the fused tensor is the concatenation of the three.
//
// Two results:
//   residGrad     dL/dh at blk.l.in, blk.l.mid, blk.l.out ([T, C] each, the points of GradModel);
//   weightGradSq  per tensor, sum_i (dL/dw_i)^2 over its entries (the input of the Fisher-style score,
//                 src/core/metrics/fisher.ts): every weight gradient is formed on the GPU (linear
//                 dW = dY^T X over tokens, bias db = sum_t dY[t], norm dw / db, token and position
//                 embedding scatter; with tied embeddings token_embd's gradient sums the unembedding and
//                 the embedding parts before squaring), reduced by shaders/grad-sumsq.wgsl into one slot
//                 per tensor, and only those numbers are read back.
// Quantized (packed) weights are dequantized to f32 on upload (tensorToF32): gradients are with respect
// to the dequantized values. Positions 0..T-1 of one sequence, no interventions.
import type { LoadedModel } from '../core/formats/types.ts';
import { checkIds, type ModelSpec } from '../core/model/spec.ts';
import { tensorToF32 } from '../core/model/weights.ts';
import type { GpuContext } from './context.ts';
import { encodeAdd } from './kernels/add.ts';
import { encodeEmbedding } from './kernels/embedding.ts';
import { encodeGelu } from './kernels/gelu.ts';
import { encodeLayerNorm } from './kernels/layer-norm.ts';
import { encodeMatmul } from './kernels/matmul.ts';
import { encodeRmsNorm } from './kernels/rms-norm.ts';
import { encodeRope } from './kernels/rope.ts';
import { encodeSiluGate } from './kernels/silu-gate.ts';
import { encodeMatmulBackward, encodeRmsNormBackward } from './kernels/grad-backward.ts';
import {
  encodeAttentionApply, encodeAttentionBackward, encodeAttentionProbs, encodeCrossEntropyBackward, encodeEmbeddingBackward,
  encodeGeluBackward, encodeLayerNormBackward, encodeRopeBackward, encodeSiluGateBackward,
} from './kernels/grad-ops.ts';
import { encodeSumSq } from './kernels/grad-sumsq.ts';

export interface GpuResidGrad {
  /** Mean next-token cross-entropy (sum of the per-row terms, read back as f32). */
  loss: number;
  T: number;
  /** dL/dh at blk.l.in / blk.l.mid / blk.l.out, each [T, C]. */
  resid: Record<string, Float32Array>;
}

export interface GpuWeightGradSq {
  loss: number;
  T: number;
  /** sum_i (dL/dw_i)^2 per tensor (canonical names; every tensor that gets a gradient). */
  sumSq: Record<string, number>;
}

/** Whether the GPU gradient supports this model's graph (the Llama and GPT-2 graphs of the reference). */
export function gpuGradSupported(spec: ModelSpec): boolean {
  const llama = spec.norm.kind === 'rms' && spec.mlp === 'silu-gate' && !spec.fusedQkv && !spec.learnedPositions;
  const gpt2 = spec.norm.kind === 'layer' && spec.mlp === 'gelu' && spec.rope.kind === 'none';
  return (llama || gpt2) && spec.nKvHeads > 0 && spec.nHeads % spec.nKvHeads === 0;
}

export class GpuGrad {
  private readonly ctx: GpuContext;
  readonly spec: ModelSpec;
  private readonly w = new Map<string, GPUBuffer>();
  /** Reported tensor names (model order) and their slot in the sum-of-squares buffer. */
  private readonly slots = new Map<string, number>();

  constructor(ctx: GpuContext, model: LoadedModel) {
    const s = model.spec;
    if (!gpuGradSupported(s)) {
      throw new Error('GpuGrad: supported graphs are Llama (RMSNorm, SwiGLU, separate q/k/v) and GPT-2 (LayerNorm, GELU, no RoPE)');
    }
    this.ctx = ctx;
    this.spec = s;
    for (const [name, t] of model.tensors) {
      this.slots.set(name, this.slots.size);
      const m = /^(blk\.\d+)\.attn_qkv(\.bias)?$/.exec(name);
      const data = tensorToF32(t);
      if (s.fusedQkv && m) {
        // Rows [0, HD) q, [HD, HD + kvW) k, [HD + kvW, HD + 2 kvW) v; a bias splits the same way.
        const HD = s.nHeads * s.headDim;
        const kvW = s.nKvHeads * s.headDim;
        const K = m[2] ? 1 : s.dModel;
        const parts: [string, number, number][] = [['attn_q', 0, HD], ['attn_k', HD, kvW], ['attn_v', HD + kvW, kvW]];
        for (const [p, r0, n] of parts) {
          this.w.set(`${m[1]}.${p}${m[2] ?? ''}`, ctx.storage(data.subarray(r0 * K, (r0 + n) * K), `${name}:${p}`));
        }
      } else {
        this.w.set(name, ctx.storage(data, name));
      }
    }
  }

  private wt(name: string): GPUBuffer {
    const b = this.w.get(name);
    if (!b) throw new Error(`model has no tensor ${name}`);
    return b;
  }

  /** Slot of a weight buffer's gradient: the split q/k/v of a fused model report as attn_qkv. */
  private slot(name: string): number {
    const fused = this.spec.fusedQkv ? name.replace(/\.attn_[qkv](\.bias)?$/, '.attn_qkv$1') : name;
    const i = this.slots.get(fused);
    if (i === undefined) throw new Error(`model has no tensor ${fused}`);
    return i;
  }

  /** Forward, loss and residual-stream backward in one submission; `denom` as GradOptions.lossDenominator. */
  async residGrad(ids: number[], denom?: number): Promise<GpuResidGrad> {
    const r = await this.run(ids, denom, false);
    return { loss: r.loss, T: r.T, resid: r.resid! };
  }

  /** Forward, loss and full backward; per tensor the sum of squared gradient entries (one read-back). */
  async weightGradSq(ids: number[], denom?: number): Promise<GpuWeightGradSq> {
    const r = await this.run(ids, denom, true);
    return { loss: r.loss, T: r.T, sumSq: r.sumSq! };
  }

  private async run(ids: number[], denom: number | undefined, weights: boolean): Promise<{ loss: number; T: number; resid?: Record<string, Float32Array>; sumSq?: Record<string, number> }> {
    const s = this.spec;
    const ctx = this.ctx;
    const T = ids.length;
    const C = s.dModel;
    const D = s.headDim;
    const H = s.nHeads;
    const Hkv = s.nKvHeads;
    const HD = H * D;
    const kvW = Hkv * D;
    const F = s.dFF;
    const V = s.vocabSize;
    const L = s.nLayers;
    const eps = s.norm.eps;
    const rms = s.norm.kind === 'rms';
    const swiglu = s.mlp === 'silu-gate';
    checkIds(s, ids, 0, s.contextLength, 'gradients');
    const shape = { T, H, Hkv, D, scale: 1 / Math.sqrt(D) };
    const made: GPUBuffer[] = [];
    const keep = (n: number) => {
      const b = ctx.storage(n * 4);
      made.push(b);
      return b;
    };
    const bias = (name: string) => this.w.get(name);
    const lin = (pass: GPUComputePassEncoder, x: GPUBuffer, name: string, y: GPUBuffer, K: number, N: number) =>
      encodeMatmul(ctx, pass, { x, w: this.wt(name), y, bias: bias(`${name}.bias`), M: T, K, N, variant: 'simple' });
    const norm = (pass: GPUComputePassEncoder, x: GPUBuffer, name: string, y: GPUBuffer) =>
      rms
        ? encodeRmsNorm(ctx, pass, { x, w: this.wt(name), y, T, C, eps, simple: true })
        : encodeLayerNorm(ctx, pass, { x, w: this.wt(name), b: bias(`${name}.bias`), y, T, C, eps, simple: true });

    // Weight gradients: each formed in `scratch` (or dE for the token table), then reduced into its slot.
    const sums = weights ? keep(this.slots.size) : null;
    const hit = new Set<number>();
    const sizes = [...this.w.entries()].filter(([n]) => n !== 'token_embd').map(([, b]) => b.size / 4);
    const scratch = weights ? keep(Math.max(1, ...sizes)) : null;
    const reduce = (pass: GPUComputePassEncoder, x: GPUBuffer, n: number, name: string) => {
      const slot = this.slot(name);
      hit.add(slot);
      encodeSumSq(ctx, pass, { x, n, out: sums!, slot });
    };
    // dY [T, N] and the layer's input X [T, K]: dW = dY^T X [N, K]; a bias gets db = sum_t dY[t] (the
    // column sums, via LayerNorm's `db` entry, which computes exactly that).
    const linW = (pass: GPUComputePassEncoder, dy: GPUBuffer, x: GPUBuffer, name: string, K: number, N: number, out = scratch!, biasName = `${name}.bias`) => {
      if (!weights) return;
      encodeMatmulBackward(ctx, pass, { dy, src: x, out, M: T, K, N, which: 'dw' });
      if (out === scratch) reduce(pass, scratch, N * K, name);
      if (this.w.has(biasName)) {
        encodeLayerNormBackward(ctx, pass, { dy, x: dy, w: dy, out: scratch!, T, C: N, eps: 0, which: 'db' });
        reduce(pass, scratch!, N, biasName);
      }
    };
    // Norm weight (and LayerNorm bias) gradients from dY [T, C] and the norm's input x.
    const normW = (pass: GPUComputePassEncoder, dy: GPUBuffer, x: GPUBuffer, name: string) => {
      if (!weights) return;
      if (rms) encodeRmsNormBackward(ctx, pass, { dy, x, w: this.wt(name), out: scratch!, T, C, eps, which: 'dw' });
      else encodeLayerNormBackward(ctx, pass, { dy, x, w: this.wt(name), out: scratch!, T, C, eps, which: 'dw' });
      reduce(pass, scratch!, C, name);
      if (!rms && this.w.has(`${name}.bias`)) {
        encodeLayerNormBackward(ctx, pass, { dy, x, w: this.wt(name), out: scratch!, T, C, eps, which: 'db' });
        reduce(pass, scratch!, C, `${name}.bias`);
      }
    };
    // dX [T, K] = dY [T, N] W [N, K] (into out, overwritten).
    const linBack = (pass: GPUComputePassEncoder, dy: GPUBuffer, name: string, out: GPUBuffer, K: number, N: number) =>
      encodeMatmulBackward(ctx, pass, { dy, src: this.wt(name), out, M: T, K, N, which: 'dx' });
    const normBack = (pass: GPUComputePassEncoder, dy: GPUBuffer, x: GPUBuffer, name: string, out: GPUBuffer) =>
      rms
        ? encodeRmsNormBackward(ctx, pass, { dy, x, w: this.wt(name), out, T, C, eps, which: 'dx' })
        : encodeLayerNormBackward(ctx, pass, { dy, x, w: this.wt(name), out, T, C, eps, which: 'dx' });

    const idsBuf = keep(T);
    ctx.device.queue.writeBuffer(idsBuf, 0, Uint32Array.from(ids));
    const xs = Array.from({ length: L + 1 }, () => keep(T * C));
    const tape = Array.from({ length: L }, () => ({
      hA: keep(T * C), q: keep(T * HD), k: keep(T * kvW), v: keep(T * kvW), p: keep(H * T * T), o: keep(T * HD),
      mid: keep(T * C), hM: keep(T * C), g: swiglu ? keep(T * F) : null, u: keep(T * F), act: keep(T * F),
    }));
    const tmpC = keep(T * C);
    const tmpC2 = keep(T * C);
    const hf = keep(T * C);
    const logits = keep(T * V);
    const dlogits = keep(T * V);
    const lossRows = keep(T);
    // Backward scratch.
    const dAct = keep(T * F), dg = keep(T * F), du = keep(T * F);
    const dhM = keep(T * C), dO = keep(T * HD), dq = keep(T * HD), dk = keep(T * kvW), dv = keep(T * kvW), ds = keep(H * T * T);
    const gOut = Array.from({ length: L }, () => keep(T * C));
    const gMid = Array.from({ length: L }, () => keep(T * C));
    const gIn0 = keep(T * C);
    // Token-table gradient [V, C] (zero-initialized like every new buffer): the unembedding part when
    // tied, then the embedding scatter adds into it.
    const dE = weights ? keep(V * C) : null;

    const d = ctx.device;
    d.pushErrorScope('validation');
    const enc = d.createCommandEncoder();
    const pass = enc.beginComputePass();
    // Forward.
    const pos = s.learnedPositions ? this.wt('position_embd') : undefined;
    encodeEmbedding(ctx, pass, { table: this.wt('token_embd'), rows: V, ids: idsBuf, out: xs[0], T, C, posTable: pos });
    for (let l = 0; l < L; l++) {
      const b = `blk.${l}`;
      const t = tape[l];
      norm(pass, xs[l], `${b}.attn_norm`, t.hA);
      lin(pass, t.hA, `${b}.attn_q`, t.q, C, HD);
      lin(pass, t.hA, `${b}.attn_k`, t.k, C, kvW);
      lin(pass, t.hA, `${b}.attn_v`, t.v, C, kvW);
      if (s.rope.kind !== 'none') {
        encodeRope(ctx, pass, { x: t.q, T, H, D, pos0: 0, theta: s.rope.theta, dim: s.rope.dim, kind: s.rope.kind });
        encodeRope(ctx, pass, { x: t.k, T, H: Hkv, D, pos0: 0, theta: s.rope.theta, dim: s.rope.dim, kind: s.rope.kind });
      }
      encodeAttentionProbs(ctx, pass, { ...shape, q: t.q, k: t.k, p: t.p });
      encodeAttentionApply(ctx, pass, { ...shape, p: t.p, v: t.v, out: t.o });
      lin(pass, t.o, `${b}.attn_output`, tmpC, HD, C);
      encodeAdd(ctx, pass, { a: xs[l], b: tmpC, y: t.mid, n: T * C });
      norm(pass, t.mid, `${b}.ffn_norm`, t.hM);
      if (swiglu) {
        lin(pass, t.hM, `${b}.ffn_gate`, t.g!, C, F);
        lin(pass, t.hM, `${b}.ffn_up`, t.u, C, F);
        encodeSiluGate(ctx, pass, { g: t.g!, u: t.u, y: t.act, n: T * F });
      } else {
        lin(pass, t.hM, `${b}.ffn_up`, t.u, C, F);
        encodeGelu(ctx, pass, { x: t.u, y: t.act, n: T * F });
      }
      lin(pass, t.act, `${b}.ffn_down`, tmpC, F, C);
      encodeAdd(ctx, pass, { a: t.mid, b: tmpC, y: xs[l + 1], n: T * C });
    }
    norm(pass, xs[L], 'output_norm', hf);
    const outName = s.tiedEmbeddings ? 'token_embd' : 'output';
    // The unembedding's bias is always `output.bias` (also with a tied matrix), as in the reference.
    encodeMatmul(ctx, pass, { x: hf, w: this.wt(outName), y: logits, bias: bias('output.bias'), M: T, K: C, N: V, variant: 'simple' });
    encodeCrossEntropyBackward(ctx, pass, { logits, ids: idsBuf, dlogits, loss: lossRows, T, V, denom });

    // Backward.
    linBack(pass, dlogits, outName, tmpC, C, V);
    linW(pass, dlogits, hf, outName, C, V, s.tiedEmbeddings ? dE! : scratch!, 'output.bias');
    normBack(pass, tmpC, xs[L], 'output_norm', gOut[L - 1]);
    normW(pass, tmpC, xs[L], 'output_norm');
    for (let l = L - 1; l >= 0; l--) {
      const b = `blk.${l}`;
      const t = tape[l];
      // MLP: dL/dmid = dL/dout + d(mlp)/dmid^T dL/dout.
      linBack(pass, gOut[l], `${b}.ffn_down`, dAct, F, C);
      linW(pass, gOut[l], t.act, `${b}.ffn_down`, F, C);
      if (swiglu) {
        encodeSiluGateBackward(ctx, pass, { dy: dAct, g: t.g!, u: t.u, dg, du, n: T * F });
        linBack(pass, dg, `${b}.ffn_gate`, dhM, C, F);
        linW(pass, dg, t.hM, `${b}.ffn_gate`, C, F);
        linBack(pass, du, `${b}.ffn_up`, tmpC, C, F);
        linW(pass, du, t.hM, `${b}.ffn_up`, C, F);
        encodeAdd(ctx, pass, { a: dhM, b: tmpC, n: T * C });
      } else {
        encodeGeluBackward(ctx, pass, { dy: dAct, x: t.u, out: du, n: T * F });
        linBack(pass, du, `${b}.ffn_up`, dhM, C, F);
        linW(pass, du, t.hM, `${b}.ffn_up`, C, F);
      }
      normBack(pass, dhM, t.mid, `${b}.ffn_norm`, tmpC2);
      normW(pass, dhM, t.mid, `${b}.ffn_norm`);
      encodeAdd(ctx, pass, { a: gOut[l], b: tmpC2, y: gMid[l], n: T * C });
      // Attention.
      linBack(pass, gMid[l], `${b}.attn_output`, dO, HD, C);
      linW(pass, gMid[l], t.o, `${b}.attn_output`, HD, C);
      encodeAttentionBackward(ctx, pass, { ...shape, dO, q: t.q, k: t.k, v: t.v, p: t.p, ds, dq, dk, dv });
      if (s.rope.kind !== 'none') {
        encodeRopeBackward(ctx, pass, { x: dq, T, H, D, pos0: 0, theta: s.rope.theta, dim: s.rope.dim, kind: s.rope.kind });
        encodeRopeBackward(ctx, pass, { x: dk, T, H: Hkv, D, pos0: 0, theta: s.rope.theta, dim: s.rope.dim, kind: s.rope.kind });
      }
      linBack(pass, dq, `${b}.attn_q`, dhM, C, HD);
      linW(pass, dq, t.hA, `${b}.attn_q`, C, HD);
      linBack(pass, dk, `${b}.attn_k`, tmpC, C, kvW);
      linW(pass, dk, t.hA, `${b}.attn_k`, C, kvW);
      encodeAdd(ctx, pass, { a: dhM, b: tmpC, n: T * C });
      linBack(pass, dv, `${b}.attn_v`, tmpC, C, kvW);
      linW(pass, dv, t.hA, `${b}.attn_v`, C, kvW);
      encodeAdd(ctx, pass, { a: dhM, b: tmpC, n: T * C });
      normBack(pass, dhM, xs[l], `${b}.attn_norm`, tmpC2);
      normW(pass, dhM, xs[l], `${b}.attn_norm`);
      encodeAdd(ctx, pass, { a: gMid[l], b: tmpC2, y: l > 0 ? gOut[l - 1] : gIn0, n: T * C });
    }
    if (weights) {
      // Embeddings: dE[ids[t]] += dL/dx0[t]; position t's row of position_embd gets dL/dx0[t] (rows >= T: 0).
      encodeEmbeddingBackward(ctx, pass, { dy: gIn0, ids: idsBuf, dTable: dE!, T, C, rows: V });
      reduce(pass, dE!, V * C, 'token_embd');
      if (pos) reduce(pass, gIn0, T * C, 'position_embd');
    }
    pass.end();
    await ctx.submit([enc.finish()]);
    const err = await d.popErrorScope();
    if (err) {
      for (const b of made) b.destroy();
      throw new Error(`GpuGrad: WebGPU validation error: ${err.message}`);
    }

    const rows = await ctx.readF32(lossRows, T);
    const out: { loss: number; T: number; resid?: Record<string, Float32Array>; sumSq?: Record<string, number> } = {
      loss: rows.reduce((a, v) => a + v, 0),
      T,
    };
    if (weights) {
      const got = await ctx.readF32(sums!, this.slots.size);
      out.sumSq = {};
      for (const [name, i] of this.slots) if (hit.has(i)) out.sumSq[name] = got[i];
    } else {
      const resid: Record<string, Float32Array> = {};
      for (let l = 0; l < L; l++) {
        resid[`blk.${l}.out`] = await ctx.readF32(gOut[l], T * C);
        resid[`blk.${l}.mid`] = await ctx.readF32(gMid[l], T * C);
        resid[`blk.${l}.in`] = l > 0 ? resid[`blk.${l - 1}.out`] : await ctx.readF32(gIn0, T * C);
      }
      out.resid = resid;
    }
    for (const b of made) b.destroy();
    return out;
  }

  /** Frees the weight buffers. */
  dispose(): void {
    for (const b of this.w.values()) b.destroy();
    this.w.clear();
  }
}

/** Device buffer limits the gradient's buffers must respect (GPUSupportedLimits has both). */
export interface GradLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
}

/**
 * Whether GpuGrad's buffers for `T` tokens fit the device limits: every buffer it allocates is bound
 * whole, so each must be at most min(maxStorageBufferBindingSize, maxBufferSize). The largest are the
 * f32 weights (token_embd [V, C] when not split), the attention probabilities P and their gradient
 * [H, T, T], the logits and their gradient [T, V], the MLP tape [T, dFF], and with weight gradients the
 * token-table gradient [V, C] and the scratch of the largest other weight. Returns null when it fits,
 * else the reason (the largest offending buffer, its bytes and the limit).
 */
export function gpuGradFitError(spec: ModelSpec, T: number, limits: GradLimits, weights: boolean, model?: LoadedModel): string | null {
  const limit = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const C = spec.dModel;
  const HD = spec.nHeads * spec.headDim;
  const kvW = spec.nKvHeads * spec.headDim;
  const sizes: [string, number][] = [
    ['attention probabilities [H, T, T]', spec.nHeads * T * T],
    ['logits [T, V]', T * spec.vocabSize],
    ['MLP activations [T, dFF]', T * spec.dFF],
    ['attention q/o [T, H*D]', T * HD],
    ['k/v [T, Hkv*D]', T * kvW],
    ['residual [T, C]', T * C],
  ];
  let largestOther = 0;
  if (model) {
    for (const [name, t] of model.tensors) {
      const n = t.shape.reduce((a, b) => a * b, 1);
      // A fused QKV matrix is uploaded as its three row blocks: the largest is q.
      const up = spec.fusedQkv && /\.attn_qkv$/.test(name) ? HD * C : n;
      sizes.push([`weight ${name} (f32)`, up]);
      if (name !== 'token_embd') largestOther = Math.max(largestOther, up);
    }
  } else {
    sizes.push(['weight token_embd (f32)', spec.vocabSize * C]);
  }
  if (weights) {
    sizes.push(['token-table gradient [V, C]', spec.vocabSize * C]);
    if (largestOther) sizes.push(['weight-gradient scratch', largestOther]);
  }
  let worst: [string, number] | null = null;
  for (const [what, n] of sizes) if (n * 4 > limit && (!worst || n > worst[1])) worst = [what, n];
  if (!worst) return null;
  return `the GPU gradient for ${T} tokens needs a buffer of ${(worst[1] * 4).toLocaleString('en-US')} bytes (${worst[0]}), above the device limit of ${limit.toLocaleString('en-US')} bytes per buffer (maxStorageBufferBindingSize / maxBufferSize)`;
}

/** What gpuGradProviders returns: analyze()'s residGrad / weightGradSq (null = use the CPU) and a dispose. */
export interface GpuGradProviders {
  residGrad: (m: LoadedModel, ids: number[]) => Promise<GpuResidGrad | null>;
  weightGradSq: (m: LoadedModel, ids: number[]) => Promise<Record<string, number> | null>;
  /** Reasons logged so far (one per distinct reason). */
  readonly declined: string[];
  dispose(): void;
}

/**
 * The analysis' gradient providers on the GPU for `model`, built lazily (one GpuGrad, freed by dispose).
 * Each call first checks that the buffers fit the device limits (gpuGradFitError; `limits` overrides
 * ctx.device.limits, for tests); when they do not, or the model is not `model`, the provider returns null
 * (analyze() then computes that gradient on the CPU) and the reason is passed to `log` once.
 */
export function gpuGradProviders(ctx: GpuContext, model: LoadedModel, opts: { limits?: GradLimits; log?: (msg: string) => void } = {}): GpuGradProviders {
  let grad: GpuGrad | null = null;
  const declined: string[] = [];
  const log = opts.log ?? ((m: string) => console.warn(m));
  const fits = (ids: number[], weights: boolean): boolean => {
    const why = gpuGradFitError(model.spec, ids.length, opts.limits ?? ctx.device.limits, weights, model);
    if (!why) return true;
    const msg = `${weights ? 'fisher' : 'taylor/zo'} gradients on the CPU: ${why}`;
    if (!declined.includes(msg)) {
      declined.push(msg);
      log(msg);
    }
    return false;
  };
  return {
    declined,
    residGrad: async (m, ids) => {
      if (m !== model || !fits(ids, false)) return null;
      grad ??= new GpuGrad(ctx, model);
      return grad.residGrad(ids);
    },
    weightGradSq: async (m, ids) => {
      if (m !== model || !fits(ids, true)) return null;
      grad ??= new GpuGrad(ctx, model);
      return (await grad.weightGradSq(ids)).sumSq;
    },
    dispose: () => {
      grad?.dispose();
      grad = null;
    },
  };
}

/** The former name (it served the Llama graph only). */
export const GpuGradLlama = GpuGrad;
export type GpuGradLlama = GpuGrad;
