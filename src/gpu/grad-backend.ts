// GPU gradient of the mean next-token cross-entropy w.r.t. the residual stream for the Llama graph
// (RMSNorm, RoPE adjacent/half/none, causal GQA attention, SwiGLU MLP, optional q/k/v and output
// biases, tied or untied unembedding): issue 3, metric 8. The same computation as
// src/core/grad/backward.ts (GradModel.lossAndGrad's `resid`), in f32 on the GPU:
//   forward  one compute pass that keeps every block's tape (x, hA, q, k, v, P, o, mid, hM, g, u, act)
//            in storage buffers (kernels: matmul 'simple', rms-norm, rope, grad-attention probs / P V,
//            silu-gate, add);
//   loss     shaders/grad-cross-entropy.wgsl;
//   backward the kernels of src/gpu/kernels/grad-backward.ts and grad-ops.ts in reverse; the residual
//            add's backward is the identity, so dL/dh flows straight through and each sublayer adds its
//            input gradient to it.
// Reported: dL/dh at blk.l.in, blk.l.mid, blk.l.out ([T, C] each, the points of GradModel). Positions
// 0..T-1 of one sequence, no interventions, no weight gradients (yet). GPT-2 (LayerNorm, GELU, fused
// QKV, learned positions) is refused.
import type { LoadedModel } from '../core/formats/types.ts';
import type { ModelSpec } from '../core/model/spec.ts';
import { tensorToF32 } from '../core/model/weights.ts';
import type { GpuContext } from './context.ts';
import { encodeAdd } from './kernels/add.ts';
import { encodeEmbedding } from './kernels/embedding.ts';
import { encodeMatmul } from './kernels/matmul.ts';
import { encodeRmsNorm } from './kernels/rms-norm.ts';
import { encodeRope } from './kernels/rope.ts';
import { encodeSiluGate } from './kernels/silu-gate.ts';
import { encodeMatmulBackward, encodeRmsNormBackward } from './kernels/grad-backward.ts';
import {
  encodeAttentionApply, encodeAttentionBackward, encodeAttentionProbs, encodeCrossEntropyBackward, encodeRopeBackward,
  encodeSiluGateBackward,
} from './kernels/grad-ops.ts';

export interface GpuResidGrad {
  /** Mean next-token cross-entropy (sum of the per-row terms, read back as f32). */
  loss: number;
  T: number;
  /** dL/dh at blk.l.in / blk.l.mid / blk.l.out, each [T, C]. */
  resid: Record<string, Float32Array>;
}

/** Whether the GPU gradient supports this model's graph (the Llama family). */
export function gpuGradSupported(spec: ModelSpec): boolean {
  return spec.norm.kind === 'rms' && spec.mlp === 'silu-gate' && !spec.fusedQkv && !spec.learnedPositions && !spec.linearBias;
}

export class GpuGradLlama {
  private readonly ctx: GpuContext;
  readonly spec: ModelSpec;
  private readonly w = new Map<string, GPUBuffer>();

  constructor(ctx: GpuContext, model: LoadedModel) {
    if (!gpuGradSupported(model.spec)) throw new Error('GpuGradLlama: only the Llama graph (RMSNorm, SwiGLU, separate q/k/v, no learned positions, no linear biases) is supported');
    this.ctx = ctx;
    this.spec = model.spec;
    for (const [name, t] of model.tensors) this.w.set(name, ctx.storage(tensorToF32(t), name));
  }

  private wt(name: string): GPUBuffer {
    const b = this.w.get(name);
    if (!b) throw new Error(`model has no tensor ${name}`);
    return b;
  }

  /** Forward, loss and residual-stream backward in one submission; `denom` as GradOptions.lossDenominator. */
  async residGrad(ids: number[], denom?: number): Promise<GpuResidGrad> {
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
    if (T < 1) throw new Error('gradients: no tokens');
    if (T > s.contextLength) throw new Error(`gradients: ${T} tokens exceed the context of ${s.contextLength}`);
    for (const id of ids) if (!Number.isInteger(id) || id < 0 || id >= V) throw new Error(`token id ${id} outside the vocabulary (size ${V})`);
    const shape = { T, H, Hkv, D, scale: 1 / Math.sqrt(D) };
    const buf = (n: number) => ctx.storage(n * 4);
    const made: GPUBuffer[] = [];
    const keep = (n: number) => {
      const b = buf(n);
      made.push(b);
      return b;
    };
    const bias = (name: string) => this.w.get(name);
    const lin = (pass: GPUComputePassEncoder, x: GPUBuffer, name: string, y: GPUBuffer, K: number, N: number) =>
      encodeMatmul(ctx, pass, { x, w: this.wt(name), y, bias: bias(`${name}.bias`), M: T, K, N, variant: 'simple' });
    // dX [T, K] = dY [T, N] W [N, K] (into out, overwritten).
    const linBack = (pass: GPUComputePassEncoder, dy: GPUBuffer, name: string, out: GPUBuffer, K: number, N: number) =>
      encodeMatmulBackward(ctx, pass, { dy, src: this.wt(name), out, M: T, K, N, which: 'dx' });

    const idsBuf = keep(T);
    ctx.device.queue.writeBuffer(idsBuf, 0, Uint32Array.from(ids));
    const xs = Array.from({ length: L + 1 }, () => keep(T * C));
    const tape = Array.from({ length: L }, () => ({
      hA: keep(T * C), q: keep(T * HD), k: keep(T * kvW), v: keep(T * kvW), p: keep(H * T * T), o: keep(T * HD),
      mid: keep(T * C), hM: keep(T * C), g: keep(T * F), u: keep(T * F), act: keep(T * F),
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
    const gIn = Array.from({ length: L }, () => keep(T * C));

    const d = ctx.device;
    d.pushErrorScope('validation');
    const enc = d.createCommandEncoder();
    const pass = enc.beginComputePass();
    // Forward.
    encodeEmbedding(ctx, pass, { table: this.wt('token_embd'), rows: V, ids: idsBuf, out: xs[0], T, C });
    for (let l = 0; l < L; l++) {
      const b = `blk.${l}`;
      const t = tape[l];
      encodeRmsNorm(ctx, pass, { x: xs[l], w: this.wt(`${b}.attn_norm`), y: t.hA, T, C, eps, simple: true });
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
      encodeRmsNorm(ctx, pass, { x: t.mid, w: this.wt(`${b}.ffn_norm`), y: t.hM, T, C, eps, simple: true });
      lin(pass, t.hM, `${b}.ffn_gate`, t.g, C, F);
      lin(pass, t.hM, `${b}.ffn_up`, t.u, C, F);
      encodeSiluGate(ctx, pass, { g: t.g, u: t.u, y: t.act, n: T * F });
      lin(pass, t.act, `${b}.ffn_down`, tmpC, F, C);
      encodeAdd(ctx, pass, { a: t.mid, b: tmpC, y: xs[l + 1], n: T * C });
    }
    encodeRmsNorm(ctx, pass, { x: xs[L], w: this.wt('output_norm'), y: hf, T, C, eps, simple: true });
    const outName = s.tiedEmbeddings ? 'token_embd' : 'output';
    lin(pass, hf, outName, logits, C, V);
    encodeCrossEntropyBackward(ctx, pass, { logits, ids: idsBuf, dlogits, loss: lossRows, T, V, denom });

    // Backward.
    linBack(pass, dlogits, outName, tmpC, C, V);
    encodeRmsNormBackward(ctx, pass, { dy: tmpC, x: xs[L], w: this.wt('output_norm'), out: gOut[L - 1], T, C, eps, which: 'dx' });
    for (let l = L - 1; l >= 0; l--) {
      const b = `blk.${l}`;
      const t = tape[l];
      // MLP: dL/dmid = dL/dout + d(mlp)/dmid^T dL/dout.
      linBack(pass, gOut[l], `${b}.ffn_down`, dAct, F, C);
      encodeSiluGateBackward(ctx, pass, { dy: dAct, g: t.g, u: t.u, dg, du, n: T * F });
      linBack(pass, dg, `${b}.ffn_gate`, dhM, C, F);
      linBack(pass, du, `${b}.ffn_up`, tmpC, C, F);
      encodeAdd(ctx, pass, { a: dhM, b: tmpC, n: T * C });
      encodeRmsNormBackward(ctx, pass, { dy: dhM, x: t.mid, w: this.wt(`${b}.ffn_norm`), out: tmpC2, T, C, eps, which: 'dx' });
      encodeAdd(ctx, pass, { a: gOut[l], b: tmpC2, y: gMid[l], n: T * C });
      // Attention.
      linBack(pass, gMid[l], `${b}.attn_output`, dO, HD, C);
      encodeAttentionBackward(ctx, pass, { ...shape, dO, q: t.q, k: t.k, v: t.v, p: t.p, ds, dq, dk, dv });
      if (s.rope.kind !== 'none') {
        encodeRopeBackward(ctx, pass, { x: dq, T, H, D, pos0: 0, theta: s.rope.theta, dim: s.rope.dim, kind: s.rope.kind });
        encodeRopeBackward(ctx, pass, { x: dk, T, H: Hkv, D, pos0: 0, theta: s.rope.theta, dim: s.rope.dim, kind: s.rope.kind });
      }
      linBack(pass, dq, `${b}.attn_q`, dhM, C, HD);
      linBack(pass, dk, `${b}.attn_k`, tmpC, C, kvW);
      encodeAdd(ctx, pass, { a: dhM, b: tmpC, n: T * C });
      linBack(pass, dv, `${b}.attn_v`, tmpC, C, kvW);
      encodeAdd(ctx, pass, { a: dhM, b: tmpC, n: T * C });
      encodeRmsNormBackward(ctx, pass, { dy: dhM, x: xs[l], w: this.wt(`${b}.attn_norm`), out: tmpC2, T, C, eps, which: 'dx' });
      encodeAdd(ctx, pass, { a: gMid[l], b: tmpC2, y: l > 0 ? gOut[l - 1] : gIn[0], n: T * C });
    }
    pass.end();
    await ctx.submit([enc.finish()]);
    const err = await d.popErrorScope();
    if (err) throw new Error(`GpuGradLlama: WebGPU validation error: ${err.message}`);

    const resid: Record<string, Float32Array> = {};
    for (let l = 0; l < L; l++) {
      resid[`blk.${l}.out`] = await ctx.readF32(gOut[l], T * C);
      resid[`blk.${l}.mid`] = await ctx.readF32(gMid[l], T * C);
      resid[`blk.${l}.in`] = l > 0 ? resid[`blk.${l - 1}.out`] : await ctx.readF32(gIn[0], T * C);
    }
    const rows = await ctx.readF32(lossRows, T);
    for (const b of made) b.destroy();
    return { loss: rows.reduce((a, v) => a + v, 0), T, resid };
  }

  /** Frees the weight buffers. */
  dispose(): void {
    for (const b of this.w.values()) b.destroy();
    this.w.clear();
  }
}
