// The CPU reference forward pass (DESIGN.md "Reference first"): plain loops in f32 storage with
// float64 accumulation, the same taps and interventions as the GPU forward, and a KV cache so that
// token-by-token decoding equals a full prefill. Doubles as the fallback backend where no WebGPU
// adapter exists (small models only).
//
// Llama family (Touvron et al. 2023; llama2.c run.c; llama.cpp LLM_ARCH_LLAMA / QWEN2):
//   x = token_embd[ids]
//   per block: h = RMSNorm(x) * attn_norm; q,k,v = h Wq^T (+bq), h Wk^T (+bk), h Wv^T (+bv);
//              RoPE(q, k) at positions; o = softmax(q k^T / sqrt(D) + causal) v (GQA); x += o Wo^T
//              h = RMSNorm(x) * ffn_norm; x += (silu(h Wg^T) * (h Wu^T)) Wd^T
//   logits = (RMSNorm(x) * output_norm) W_out^T  (W_out = token_embd when tied)
// GPT-2 (Radford et al. 2019; HF GPT2LMHeadModel): x = wte[ids] + wpe[pos]; pre-LayerNorm blocks with
//   biases, fused QKV, GELU (tanh approximation) MLP; logits = LN_f(x) wte^T.
// Allocations (core/allocation/apply-weights.ts): a block weight with low-rank factors (LowRankTensor)
//   runs as y = (x B^T) A^T; a model with K/V cache bits (ModelWithKvBits) quantizes K (after RoPE) and V
//   as they are written to the cache (ops/kv-quant.ts, per-token groups; KVTuner arXiv 2502.04420).

import type { LoadedModel, WeightTensor } from '../formats/types.ts';
import { checkIds, type ModelSpec } from './spec.ts';
import { actTapName, ctxTapName, planLayers, tapName, type ForwardOptions, type ForwardResult } from './taps.ts';
import { F32Weights, tensorToF32 } from './weights.ts';
import { kvQuantizeInPlace } from '../ops/kv-quant.ts';
import { matmul } from '../ops/matmul.ts';
import { rmsNorm } from '../ops/rms-norm.ts';
import { layerNorm } from '../ops/layer-norm.ts';
import { rope } from '../ops/rope.ts';
import { attention } from '../ops/attention.ts';
import { siluGate } from '../ops/silu-gate.ts';
import { gelu } from '../ops/gelu.ts';

/**
 * A rank-r matrix kept as its two factors, W ~ A B with A = U_r diag(s_r) [rows, r] and B = V_r^T [r, cols]
 * (core/allocation/apply-weights.ts). The tensor's own `data` stays the dense product (for exporters and
 * code that reads tensors); the forwards run y = A (B x) as two matmuls instead and the GPU keeps only the
 * factors resident.
 */
export interface LowRankFactors {
  rank: number;
  a: WeightTensor;
  b: WeightTensor;
}

export type LowRankTensor = WeightTensor & { lowRank?: LowRankFactors };

/** The factors of a tensor stored in low-rank form, if any. */
export function lowRankOf(t: WeightTensor | undefined): LowRankFactors | undefined {
  return (t as LowRankTensor | undefined)?.lowRank;
}

/** K and V cache bits of one layer (2..8; 16 = unquantized). */
export interface KvBits {
  k: number;
  v: number;
}

/**
 * A modified model may carry per-layer K/V cache bits (an allocation's kvBits, applied by
 * core/allocation/apply-weights.ts): K and V are quantized as they are written to the cache
 * (ops/kv-quant.ts) by both forwards. Layers without an entry keep an unquantized cache.
 */
export type ModelWithKvBits = LoadedModel & { kvBits?: Record<number, KvBits> };

/** Per-layer K/V bits of a model (16/16 where none are set). */
export function kvBitsOf(model: LoadedModel): KvBits[] {
  const kb = (model as ModelWithKvBits).kvBits;
  return Array.from({ length: model.spec.nLayers }, (_, l) => kb?.[l] ?? { k: 16, v: 16 });
}

/** Per-layer K/V caches, [maxT, Hkv * D] each. */
export interface KvCache {
  k: Float32Array[];
  v: Float32Array[];
  maxT: number;
  position: number;
}

export function newKvCache(spec: ModelSpec, maxT: number): KvCache {
  const w = spec.nKvHeads * spec.headDim;
  return {
    k: Array.from({ length: spec.nLayers }, () => new Float32Array(maxT * w)),
    v: Array.from({ length: spec.nLayers }, () => new Float32Array(maxT * w)),
    maxT,
    position: 0,
  };
}

/** y = x W^T (+ bias); a low-rank W runs as y = (x B^T) A^T (two matmuls, the factors never multiplied out). */
function linear(w: F32Weights, name: string, x: Float32Array, T: number, K: number, N: number, lr?: Map<string, { a: Float32Array; b: Float32Array; r: number }>): Float32Array {
  const f = lr?.get(name);
  const y = f ? matmul(matmul(x, T, K, f.b, f.r), T, f.r, f.a, N) : matmul(x, T, K, w.get(name), N);
  const b = w.opt(`${name}.bias`);
  if (b) for (let t = 0; t < T; t++) for (let n = 0; n < N; n++) y[t * N + n] += b[n];
  return y;
}

function norm(spec: ModelSpec, w: F32Weights, name: string, x: Float32Array, T: number): Float32Array {
  const C = spec.dModel;
  return spec.norm.kind === 'rms'
    ? rmsNorm(x, T, C, w.get(name), spec.norm.eps)
    : layerNorm(x, T, C, w.get(name), w.get(`${name}.bias`), spec.norm.eps);
}

export class ReferenceModel {
  readonly spec: ModelSpec;
  readonly weights: F32Weights;
  /** f32 factors of the low-rank tensors (lowRankOf). */
  private lowRank = new Map<string, { a: Float32Array; b: Float32Array; r: number }>();
  private kvBits: KvBits[];

  constructor(readonly model: LoadedModel) {
    this.spec = model.spec;
    this.weights = new F32Weights(model);
    for (const t of model.tensors.values()) {
      const f = lowRankOf(t);
      if (f && /^blk\.\d+\./.test(t.name)) this.lowRank.set(t.name, { a: tensorToF32(f.a), b: tensorToF32(f.b), r: f.rank });
    }
    this.kvBits = kvBitsOf(model);
  }

  /** Run `ids` at positions cache.position.. (a fresh cache for a prefill) and advance the cache. */
  run(ids: number[], cache: KvCache, opts: ForwardOptions = {}): ForwardResult {
    const s = this.spec;
    const w = this.weights;
    const T = ids.length;
    const C = s.dModel;
    const D = s.headDim;
    const H = s.nHeads;
    const Hkv = s.nKvHeads;
    const pos0 = cache.position;
    checkIds(s, ids, pos0, cache.maxT);
    const want = new Set(opts.taps ?? []);
    const taps: Record<string, Float32Array> = {};
    const tap = (name: string, x: Float32Array) => {
      if (want.has(name)) taps[name] = x.slice();
    };
    const plans = planLayers(s.nLayers, opts.interventions);

    // Embedding (+ learned positions).
    const emb = w.get('token_embd');
    const x = new Float32Array(T * C);
    for (let t = 0; t < T; t++) x.set(emb.subarray(ids[t] * C, ids[t] * C + C), t * C);
    if (s.learnedPositions) {
      const pe = w.get('position_embd');
      for (let t = 0; t < T; t++) for (let c = 0; c < C; c++) x[t * C + c] += pe[(pos0 + t) * C + c];
    }

    const kvW = Hkv * D;
    for (let l = 0; l < s.nLayers; l++) {
      const p = plans[l];
      const b = `blk.${l}`;
      tap(tapName(l, 'in'), x);

      // Attention sublayer.
      let attnOut: Float32Array = new Float32Array(T * C);
      if (!p.skipAttn) {
        const h = norm(s, w, `${b}.attn_norm`, x, T);
        let q: Float32Array, k: Float32Array, v: Float32Array;
        if (s.fusedQkv) {
          const qkv = linear(w, `${b}.attn_qkv`, h, T, C, H * D + 2 * kvW, this.lowRank);
          const stride = H * D + 2 * kvW;
          q = new Float32Array(T * H * D);
          k = new Float32Array(T * kvW);
          v = new Float32Array(T * kvW);
          for (let t = 0; t < T; t++) {
            q.set(qkv.subarray(t * stride, t * stride + H * D), t * H * D);
            k.set(qkv.subarray(t * stride + H * D, t * stride + H * D + kvW), t * kvW);
            v.set(qkv.subarray(t * stride + H * D + kvW, t * stride + stride), t * kvW);
          }
        } else {
          q = linear(w, `${b}.attn_q`, h, T, C, H * D, this.lowRank);
          k = linear(w, `${b}.attn_k`, h, T, C, kvW, this.lowRank);
          v = linear(w, `${b}.attn_v`, h, T, C, kvW, this.lowRank);
        }
        if (s.rope.kind !== 'none') {
          rope(q, T, H, D, pos0, s.rope.theta, s.rope.dim, s.rope.kind);
          rope(k, T, Hkv, D, pos0, s.rope.theta, s.rope.dim, s.rope.kind);
        }
        // K/V cache bits of this layer: quantized on write (ops/kv-quant.ts; 16 = unchanged).
        cache.k[l].set(kvQuantizeInPlace(k, T, Hkv, D, this.kvBits[l].k), pos0 * kvW);
        cache.v[l].set(kvQuantizeInPlace(v, T, Hkv, D, this.kvBits[l].v), pos0 * kvW);
        const o = attention(q, cache.k[l], cache.v[l], T, H, Hkv, D, pos0, 1 / Math.sqrt(D));
        tap(ctxTapName(l), o);
        attnOut = linear(w, `${b}.attn_output`, o, T, H * D, C, this.lowRank);
        for (let i = 0; i < x.length; i++) x[i] += p.attnScale * attnOut[i];
      } else if (want.has(ctxTapName(l))) taps[ctxTapName(l)] = new Float32Array(T * H * D);
      tap(tapName(l, 'attn_out'), attnOut);
      tap(tapName(l, 'mid'), x);

      // MLP sublayer.
      let mlpOut: Float32Array = new Float32Array(T * C);
      if (!p.skipMlp) {
        const h = norm(s, w, `${b}.ffn_norm`, x, T);
        let a: Float32Array;
        if (s.mlp === 'silu-gate') {
          const g = linear(w, `${b}.ffn_gate`, h, T, C, s.dFF, this.lowRank);
          const u = linear(w, `${b}.ffn_up`, h, T, C, s.dFF, this.lowRank);
          a = siluGate(g, u);
        } else {
          a = gelu(linear(w, `${b}.ffn_up`, h, T, C, s.dFF, this.lowRank));
        }
        tap(actTapName(l), a);
        mlpOut = linear(w, `${b}.ffn_down`, a, T, s.dFF, C, this.lowRank);
        for (let i = 0; i < x.length; i++) x[i] += p.mlpScale * mlpOut[i];
      } else if (want.has(actTapName(l))) taps[actTapName(l)] = new Float32Array(T * s.dFF);
      tap(tapName(l, 'mlp_out'), mlpOut);
      tap(tapName(l, 'out'), x);
    }
    cache.position = pos0 + T;

    // Final norm + unembedding.
    const rows = opts.logits === 'last' ? 1 : T;
    const xs = opts.logits === 'last' ? x.subarray((T - 1) * C) : x;
    const hf = norm(s, w, 'output_norm', xs, rows);
    if (want.has('final_norm')) taps.final_norm = hf.slice();
    const out = s.tiedEmbeddings ? w.get('token_embd') : w.get('output');
    const logits = matmul(hf, rows, C, out, s.vocabSize);
    const ob = w.opt('output.bias');
    if (ob) for (let r = 0; r < rows; r++) for (let n = 0; n < s.vocabSize; n++) logits[r * s.vocabSize + n] += ob[n];
    return { logits, taps, T };
  }

  /** Final norm + unembedding of arbitrary residual rows [T, C] (for the logit lens). */
  unembed(h: Float32Array, T: number): Float32Array {
    const s = this.spec;
    const hf = norm(s, this.weights, 'output_norm', h, T);
    const out = s.tiedEmbeddings ? this.weights.get('token_embd') : this.weights.get('output');
    return matmul(hf, T, s.dModel, out, s.vocabSize);
  }
}
