// Reverse-mode gradients through the CPU reference forward (src/core/model/forward.ts), for both
// graphs it implements (Llama: RMSNorm, RoPE adjacent/half, causal GQA attention, SwiGLU; GPT-2:
// learned positions, LayerNorm with biases, fused QKV, GELU-tanh MLP, biases; tied or untied output).
// The forward here is the same arithmetic as the reference forward, but in float64 and with every
// intermediate kept on a tape; the backward walks the tape in reverse with one function per op
// (./ops/*.ts, each checked against central finite differences in tests/unit/grad-*.test.ts).
//
// Loss: mean next-token cross-entropy over the sequence (./ops/cross-entropy.ts; optionally divided by a
// shared denominator so that several texts add up to one mean). Positions 0..T-1 (one sequence, no cache).
// Interventions: the same 'skip-*' / 'scale' as the forward (src/core/model/taps.ts): a skipped sublayer
// contributes nothing and gets no gradient; a scaled one adds s f to the residual, so dL/df = s dL/dh.
//
// Residual-stream gradients are reported at the three points of each block:
//   blk.l.in   dL/d(residual entering block l)
//   blk.l.mid  dL/d(residual right after the attention add)
//   blk.l.out  dL/d(residual right after the MLP add)
// Weight gradients are keyed by canonical tensor name (token_embd, blk.l.attn_q, blk.l.attn_q.bias, ...);
// with tied embeddings token_embd's gradient sums the embedding and the unembedding parts.

import type { LoadedModel } from '../formats/types.ts';
import { checkIds, type ModelSpec } from '../model/spec.ts';
import { planLayers, tapName, type Intervention } from '../model/taps.ts';
import { tensorToF32 } from '../model/weights.ts';
import { linearBackward, linearF64 } from './ops/linear.ts';
import { rmsNormBackward, rmsNormF64 } from './ops/rms-norm.ts';
import { layerNormBackward, layerNormF64 } from './ops/layer-norm.ts';
import { ropeBackward, ropeF64 } from './ops/rope.ts';
import { attentionBackward, attentionF64 } from './ops/attention.ts';
import { geluBackward, geluF64, siluGateBackward, siluGateF64 } from './ops/activations.ts';
import { embeddingBackward } from './ops/embedding.ts';
import { nextTokenCrossEntropy } from './ops/cross-entropy.ts';

export type ResidualPoint = 'in' | 'mid' | 'out';

export interface GradOptions {
  interventions?: Intervention[];
  /** Compute weight gradients (default true; residual gradients are always computed). */
  weightGrads?: boolean;
  /** Denominator of the mean loss (default T - 1: the sequence's own mean). */
  lossDenominator?: number;
  /** Called with each residual point (blk.l.in / mid / out) as the forward reaches it; may edit x in place
   *  (finite-difference probes of the residual stream). */
  perturb?: (name: string, x: Float64Array) => void;
}

export interface GradResult {
  loss: number;
  T: number;
  /** [T, V] */
  logits: Float64Array;
  /** Float64 taps of the forward: blk.l.in, attn_out, mid, mlp_out, out (attn_out / mlp_out unscaled). */
  taps: Record<string, Float64Array>;
  /** dL/dh at blk.l.in, blk.l.mid, blk.l.out, each [T, C]. */
  resid: Record<string, Float64Array>;
  /** dL/dW by tensor name (empty when weightGrads is false). */
  weights: Map<string, Float64Array>;
}

interface LayerTape {
  x: Float64Array;
  hA?: Float64Array;
  q?: Float64Array;
  k?: Float64Array;
  v?: Float64Array;
  p?: Float64Array;
  o?: Float64Array;
  mid: Float64Array;
  hM?: Float64Array;
  g?: Float64Array;
  u?: Float64Array;
  act?: Float64Array;
}

/** The model's weights as float64 arrays (mutable: finite-difference tests edit them in place). */
export class GradModel {
  readonly spec: ModelSpec;
  readonly weights = new Map<string, Float64Array>();

  constructor(model: LoadedModel) {
    this.spec = model.spec;
    for (const [name, t] of model.tensors) this.weights.set(name, Float64Array.from(tensorToF32(t)));
  }

  private w(name: string): Float64Array {
    const v = this.weights.get(name);
    if (!v) throw new Error(`model has no tensor ${name}`);
    return v;
  }

  private norm(name: string, x: Float64Array, T: number): Float64Array {
    const s = this.spec;
    return s.norm.kind === 'rms'
      ? rmsNormF64(x, T, s.dModel, this.w(name), s.norm.eps)
      : layerNormF64(x, T, s.dModel, this.w(name), this.weights.get(`${name}.bias`), s.norm.eps);
  }

  private linear(name: string, x: Float64Array, T: number, K: number, N: number): Float64Array {
    return linearF64(x, T, K, this.w(name), N, this.weights.get(`${name}.bias`));
  }

  /** Forward only: the loss (and logits) under the same options. */
  loss(ids: number[], opts: GradOptions = {}): number {
    return this.run(ids, { ...opts, weightGrads: false }, false).loss;
  }

  /** Forward + backward. */
  lossAndGrad(ids: number[], opts: GradOptions = {}): GradResult {
    return this.run(ids, opts, true);
  }

  private run(ids: number[], opts: GradOptions, backward: boolean): GradResult {
    const s = this.spec;
    const T = ids.length;
    const C = s.dModel;
    const D = s.headDim;
    const H = s.nHeads;
    const Hkv = s.nKvHeads;
    const kvW = Hkv * D;
    const V = s.vocabSize;
    const scale = 1 / Math.sqrt(D);
    checkIds(s, ids, 0, s.contextLength, 'gradients');
    const plans = planLayers(s.nLayers, opts.interventions);
    const taps: Record<string, Float64Array> = {};
    const poke = (name: string, x: Float64Array) => opts.perturb?.(name, x);

    // Forward.
    const emb = this.w('token_embd');
    const x = new Float64Array(T * C);
    for (let t = 0; t < T; t++) for (let c = 0; c < C; c++) x[t * C + c] = emb[ids[t] * C + c];
    if (s.learnedPositions) {
      const pe = this.w('position_embd');
      for (let i = 0; i < T * C; i++) x[i] += pe[i];
    }
    const tape: LayerTape[] = [];
    for (let l = 0; l < s.nLayers; l++) {
      const p = plans[l];
      const b = `blk.${l}`;
      poke(tapName(l, 'in'), x);
      taps[tapName(l, 'in')] = x.slice();
      const lt: LayerTape = { x: x.slice(), mid: x };
      let attnOut: Float64Array = new Float64Array(T * C);
      if (!p.skipAttn) {
        const hA = this.norm(`${b}.attn_norm`, x, T);
        let q: Float64Array, k: Float64Array, v: Float64Array;
        if (s.fusedQkv) {
          const stride = H * D + 2 * kvW;
          const qkv = this.linear(`${b}.attn_qkv`, hA, T, C, stride);
          q = new Float64Array(T * H * D);
          k = new Float64Array(T * kvW);
          v = new Float64Array(T * kvW);
          for (let t = 0; t < T; t++) {
            q.set(qkv.subarray(t * stride, t * stride + H * D), t * H * D);
            k.set(qkv.subarray(t * stride + H * D, t * stride + H * D + kvW), t * kvW);
            v.set(qkv.subarray(t * stride + H * D + kvW, (t + 1) * stride), t * kvW);
          }
        } else {
          q = this.linear(`${b}.attn_q`, hA, T, C, H * D);
          k = this.linear(`${b}.attn_k`, hA, T, C, kvW);
          v = this.linear(`${b}.attn_v`, hA, T, C, kvW);
        }
        if (s.rope.kind !== 'none') {
          q = ropeF64(q, T, H, D, 0, s.rope.theta, s.rope.dim, s.rope.kind);
          k = ropeF64(k, T, Hkv, D, 0, s.rope.theta, s.rope.dim, s.rope.kind);
        }
        const a = attentionF64(q, k, v, T, H, Hkv, D, scale);
        attnOut = this.linear(`${b}.attn_output`, a.o, T, H * D, C);
        for (let i = 0; i < x.length; i++) x[i] += p.attnScale * attnOut[i];
        Object.assign(lt, { hA, q, k, v, p: a.p, o: a.o });
      }
      poke(tapName(l, 'mid'), x);
      lt.mid = x.slice();
      taps[tapName(l, 'attn_out')] = attnOut;
      taps[tapName(l, 'mid')] = lt.mid;
      let mlpOut: Float64Array = new Float64Array(T * C);
      if (!p.skipMlp) {
        const hM = this.norm(`${b}.ffn_norm`, x, T);
        let act: Float64Array;
        if (s.mlp === 'silu-gate') {
          const g = this.linear(`${b}.ffn_gate`, hM, T, C, s.dFF);
          const u = this.linear(`${b}.ffn_up`, hM, T, C, s.dFF);
          act = siluGateF64(g, u);
          Object.assign(lt, { g, u });
        } else {
          const u = this.linear(`${b}.ffn_up`, hM, T, C, s.dFF);
          act = geluF64(u);
          lt.u = u;
        }
        mlpOut = this.linear(`${b}.ffn_down`, act, T, s.dFF, C);
        for (let i = 0; i < x.length; i++) x[i] += p.mlpScale * mlpOut[i];
        Object.assign(lt, { hM, act });
      }
      poke(tapName(l, 'out'), x);
      taps[tapName(l, 'mlp_out')] = mlpOut;
      taps[tapName(l, 'out')] = x.slice();
      tape.push(lt);
    }
    const xf = x.slice();
    const hf = this.norm('output_norm', xf, T);
    const outName = s.tiedEmbeddings ? 'token_embd' : 'output';
    const logits = linearF64(hf, T, C, this.w(outName), V, this.weights.get('output.bias'));
    const ce = nextTokenCrossEntropy(logits, T, V, ids, opts.lossDenominator ?? T - 1);
    const result: GradResult = { loss: ce.loss, T, logits, taps, resid: {}, weights: new Map() };
    if (!backward) return result;

    // Backward.
    const wantW = opts.weightGrads ?? true;
    const grads = result.weights;
    const acc = (name: string, g: Float64Array) => {
      if (!wantW) return;
      const cur = grads.get(name);
      if (!cur) grads.set(name, g);
      else for (let i = 0; i < g.length; i++) cur[i] += g[i];
    };
    const normBack = (name: string, dy: Float64Array, xin: Float64Array): Float64Array => {
      if (s.norm.kind === 'rms') {
        const r = rmsNormBackward(dy, xin, T, C, this.w(name), s.norm.eps);
        acc(name, r.dw);
        return r.dx;
      }
      const r = layerNormBackward(dy, xin, T, C, this.w(name), s.norm.eps);
      acc(name, r.dw);
      if (this.weights.has(`${name}.bias`)) acc(`${name}.bias`, r.db);
      return r.dx;
    };
    const linBack = (name: string, dy: Float64Array, xin: Float64Array, K: number, N: number): Float64Array => {
      const r = linearBackward(dy, xin, T, K, this.w(name), N);
      acc(name, r.dw);
      if (this.weights.has(`${name}.bias`)) acc(`${name}.bias`, r.db);
      return r.dx;
    };
    const lo = linearBackward(ce.dlogits, hf, T, C, this.w(outName), V);
    acc(outName, lo.dw);
    if (this.weights.has('output.bias')) acc('output.bias', lo.db);
    let g = normBack('output_norm', lo.dx, xf);
    for (let l = s.nLayers - 1; l >= 0; l--) {
      const p = plans[l];
      const lt = tape[l];
      const b = `blk.${l}`;
      result.resid[tapName(l, 'out')] = g.slice();
      const gMid = g.slice();
      if (!p.skipMlp) {
        const dOut = g.map((v) => v * p.mlpScale);
        const dAct = linBack(`${b}.ffn_down`, dOut, lt.act!, s.dFF, C);
        let dhM: Float64Array;
        if (s.mlp === 'silu-gate') {
          const r = siluGateBackward(dAct, lt.g!, lt.u!);
          dhM = linBack(`${b}.ffn_gate`, r.dg, lt.hM!, C, s.dFF);
          const d2 = linBack(`${b}.ffn_up`, r.du, lt.hM!, C, s.dFF);
          for (let i = 0; i < dhM.length; i++) dhM[i] += d2[i];
        } else {
          dhM = linBack(`${b}.ffn_up`, geluBackward(dAct, lt.u!), lt.hM!, C, s.dFF);
        }
        const dm = normBack(`${b}.ffn_norm`, dhM, lt.mid);
        for (let i = 0; i < gMid.length; i++) gMid[i] += dm[i];
      }
      result.resid[tapName(l, 'mid')] = gMid.slice();
      const gIn = gMid.slice();
      if (!p.skipAttn) {
        const dOut = gMid.map((v) => v * p.attnScale);
        const dO = linBack(`${b}.attn_output`, dOut, lt.o!, H * D, C);
        const r = attentionBackward(dO, lt.q!, lt.k!, lt.v!, lt.p!, T, H, Hkv, D, scale);
        let dq = r.dq;
        let dk = r.dk;
        if (s.rope.kind !== 'none') {
          dq = ropeBackward(dq, T, H, D, 0, s.rope.theta, s.rope.dim, s.rope.kind);
          dk = ropeBackward(dk, T, Hkv, D, 0, s.rope.theta, s.rope.dim, s.rope.kind);
        }
        let dhA: Float64Array;
        if (s.fusedQkv) {
          const stride = H * D + 2 * kvW;
          const dqkv = new Float64Array(T * stride);
          for (let t = 0; t < T; t++) {
            dqkv.set(dq.subarray(t * H * D, (t + 1) * H * D), t * stride);
            dqkv.set(dk.subarray(t * kvW, (t + 1) * kvW), t * stride + H * D);
            dqkv.set(r.dv.subarray(t * kvW, (t + 1) * kvW), t * stride + H * D + kvW);
          }
          dhA = linBack(`${b}.attn_qkv`, dqkv, lt.hA!, C, stride);
        } else {
          dhA = linBack(`${b}.attn_q`, dq, lt.hA!, C, H * D);
          const dk2 = linBack(`${b}.attn_k`, dk, lt.hA!, C, kvW);
          const dv2 = linBack(`${b}.attn_v`, r.dv, lt.hA!, C, kvW);
          for (let i = 0; i < dhA.length; i++) dhA[i] += dk2[i] + dv2[i];
        }
        const dx = normBack(`${b}.attn_norm`, dhA, lt.x);
        for (let i = 0; i < gIn.length; i++) gIn[i] += dx[i];
      }
      result.resid[tapName(l, 'in')] = gIn.slice();
      g = gIn;
    }
    if (wantW) {
      const dE = new Float64Array(s.vocabSize * C);
      const dP = s.learnedPositions ? new Float64Array(this.w('position_embd').length) : undefined;
      embeddingBackward(g, ids, C, dE, dP);
      acc('token_embd', dE);
      if (dP) acc('position_embd', dP);
    }
    return result;
  }
}

/** <a[t], b[t]> per row of two [T, C] arrays. */
export function rowDots(a: ArrayLike<number>, b: ArrayLike<number>, T: number, C: number): Float64Array {
  const out = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    let s = 0;
    for (let c = 0; c < C; c++) s += a[t * C + c] * b[t * C + c];
    out[t] = s;
  }
  return out;
}
