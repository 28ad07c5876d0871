// Input activations of every linear weight, for the Wanda score |W_ij| * ||X_j||_2 that OWL uses
// (Yin et al. 2023, arXiv 2310.05175; Wanda: Sun et al. 2023, arXiv 2306.11695): ||X_j|| is the L2
// norm of input feature j over all calibration tokens, sqrt(sum_t x_tj^2), pooled over the texts.
//
// What each linear tensor of block l reads (shapes [T, width]):
//   attn_q / attn_k / attn_v / attn_qkv   attn_norm(blk.l.in)                 [T, C]
//   attn_output                            attention context o (before Wo)     [T, H*D]
//   ffn_gate / ffn_up                      ffn_norm(blk.l.mid)                 [T, C]
//   ffn_down                               silu(gate) * up, or gelu(up + b)    [T, dFF]
// The normed inputs are computed here on the CPU from the block taps (one norm per row: cheap). The
// attention context and the MLP activation are internal to the forward: the CPU and GPU backends (and the
// ONNX session) return them as the taps blk.l.attn_ctx / blk.l.ffn_act (core/model/taps.ts; CTX_TAP /
// ACT_TAP here), which are used when present; otherwise (a backend without them) they are recomputed here
// on the CPU from blk.l.in / blk.l.mid with the reference ops
// (the same arithmetic as src/core/model/forward.ts: q/k/v projections with biases, RoPE, causal GQA
// attention; gate/up projections and the activation). That costs the block's attention and MLP input
// projections on the CPU, so it is done only when OWL is asked for. Inputs must be per text (attention
// is causal within a text), positions 0..T-1.

import type { LoadedModel } from '../formats/types.ts';
import type { ModelSpec } from '../model/spec.ts';
import { tensorToF32 } from '../model/weights.ts';
import { tapName } from '../model/taps.ts';
import { matmul } from '../ops/matmul.ts';
import { rmsNorm } from '../ops/rms-norm.ts';
import { layerNorm } from '../ops/layer-norm.ts';
import { rope } from '../ops/rope.ts';
import { attention } from '../ops/attention.ts';
import { siluGate } from '../ops/silu-gate.ts';
import { gelu } from '../ops/gelu.ts';

/** Tap: the attention context of block l (input of attn_output), [T, H*D] (= taps.ts ctxTapName). */
export const CTX_TAP = (l: number): string => `blk.${l}.attn_ctx`;
/** Tap: the MLP activation of block l (input of ffn_down), [T, dFF] (= taps.ts actTapName). */
export const ACT_TAP = (l: number): string => `blk.${l}.ffn_act`;

/** f32 weights by canonical name, or undefined when the model has no such tensor. */
export type F32Lookup = (name: string) => Float32Array | undefined;

export function f32Lookup(model: LoadedModel): F32Lookup {
  return (name) => {
    const t = model.tensors.get(name);
    return t ? tensorToF32(t) : undefined;
  };
}

function req(w: F32Lookup, name: string): Float32Array {
  const v = w(name);
  if (!v) throw new Error(`model has no tensor ${name}`);
  return v;
}

/** The model's own pre-sublayer norm (RMSNorm or LayerNorm with bias) of rows x [T, C]. */
export function applyNorm(spec: ModelSpec, w: F32Lookup, name: string, x: Float32Array, T: number): Float32Array {
  return spec.norm.kind === 'rms'
    ? rmsNorm(x, T, spec.dModel, req(w, name), spec.norm.eps)
    : layerNorm(x, T, spec.dModel, req(w, name), w(`${name}.bias`), spec.norm.eps);
}

function linear(w: F32Lookup, name: string, x: Float32Array, T: number, K: number, N: number): Float32Array {
  const y = matmul(x, T, K, req(w, name), N);
  const b = w(`${name}.bias`);
  if (b) for (let t = 0; t < T; t++) for (let n = 0; n < N; n++) y[t * N + n] += b[n];
  return y;
}

/** Attention context o [T, H*D] of block l from its input residual x = blk.l.in [T, C] (positions 0..T-1). */
export function attentionContext(spec: ModelSpec, w: F32Lookup, l: number, x: Float32Array, T: number): Float32Array {
  const C = spec.dModel;
  const H = spec.nHeads;
  const Hkv = spec.nKvHeads;
  const D = spec.headDim;
  const kvW = Hkv * D;
  const h = applyNorm(spec, w, `blk.${l}.attn_norm`, x, T);
  let q: Float32Array;
  let k: Float32Array;
  let v: Float32Array;
  if (spec.fusedQkv) {
    const stride = H * D + 2 * kvW;
    const qkv = linear(w, `blk.${l}.attn_qkv`, h, T, C, stride);
    q = new Float32Array(T * H * D);
    k = new Float32Array(T * kvW);
    v = new Float32Array(T * kvW);
    for (let t = 0; t < T; t++) {
      q.set(qkv.subarray(t * stride, t * stride + H * D), t * H * D);
      k.set(qkv.subarray(t * stride + H * D, t * stride + H * D + kvW), t * kvW);
      v.set(qkv.subarray(t * stride + H * D + kvW, (t + 1) * stride), t * kvW);
    }
  } else {
    q = linear(w, `blk.${l}.attn_q`, h, T, C, H * D);
    k = linear(w, `blk.${l}.attn_k`, h, T, C, kvW);
    v = linear(w, `blk.${l}.attn_v`, h, T, C, kvW);
  }
  if (spec.rope.kind !== 'none') {
    rope(q, T, H, D, 0, spec.rope.theta, spec.rope.dim, spec.rope.kind);
    rope(k, T, Hkv, D, 0, spec.rope.theta, spec.rope.dim, spec.rope.kind);
  }
  return attention(q, k, v, T, H, Hkv, D, 0, 1 / Math.sqrt(D));
}

/** MLP activation a [T, dFF] of block l (the input of ffn_down) from mid = blk.l.mid [T, C]. */
export function mlpActivation(spec: ModelSpec, w: F32Lookup, l: number, mid: Float32Array, T: number): Float32Array {
  const C = spec.dModel;
  const h = applyNorm(spec, w, `blk.${l}.ffn_norm`, mid, T);
  if (spec.mlp === 'silu-gate') return siluGate(linear(w, `blk.${l}.ffn_gate`, h, T, C, spec.dFF), linear(w, `blk.${l}.ffn_up`, h, T, C, spec.dFF));
  return gelu(linear(w, `blk.${l}.ffn_up`, h, T, C, spec.dFF));
}

/** Accumulates sum_t x_tj^2 per input column of every linear tensor, text by text. */
export class InputNormAccumulator {
  private sums = new Map<string, Float64Array>();
  /** Which inputs came from backend taps and which were recomputed on the CPU. */
  readonly source = { fromTaps: 0, recomputed: 0 };

  constructor(private model: LoadedModel, private w: F32Lookup = f32Lookup(model)) {}

  private add(name: string, x: Float32Array, T: number, width: number): void {
    if (!this.model.tensors.has(name)) return;
    let s = this.sums.get(name);
    if (!s) {
      s = new Float64Array(width);
      this.sums.set(name, s);
    }
    if (x.length !== T * width) throw new Error(`input of ${name}: ${x.length} values, expected ${T}x${width}`);
    for (let t = 0; t < T; t++) for (let j = 0; j < width; j++) s[j] += x[t * width + j] * x[t * width + j];
  }

  /** Add one text's block taps (blk.l.in and blk.l.mid for every block; attn_ctx / ffn_act when present). */
  addText(taps: Record<string, Float32Array>, T: number): void {
    const s = this.model.spec;
    const C = s.dModel;
    for (let l = 0; l < s.nLayers; l++) {
      const hin = taps[tapName(l, 'in')];
      const mid = taps[tapName(l, 'mid')];
      if (!hin || !mid) throw new Error(`activation norms need taps blk.${l}.in and blk.${l}.mid`);
      const ha = applyNorm(s, this.w, `blk.${l}.attn_norm`, hin, T);
      for (const n of ['attn_q', 'attn_k', 'attn_v', 'attn_qkv']) this.add(`blk.${l}.${n}`, ha, T, C);
      let ctx = taps[CTX_TAP(l)];
      if (ctx) this.source.fromTaps++;
      else {
        ctx = attentionContext(s, this.w, l, hin, T);
        this.source.recomputed++;
      }
      this.add(`blk.${l}.attn_output`, ctx, T, s.nHeads * s.headDim);
      const hm = applyNorm(s, this.w, `blk.${l}.ffn_norm`, mid, T);
      for (const n of ['ffn_gate', 'ffn_up']) this.add(`blk.${l}.${n}`, hm, T, C);
      let act = taps[ACT_TAP(l)];
      if (act) this.source.fromTaps++;
      else {
        act = mlpActivation(s, this.w, l, mid, T);
        this.source.recomputed++;
      }
      this.add(`blk.${l}.ffn_down`, act, T, s.dFF);
    }
  }

  /** ||X_j||_2 per input column of `name` (undefined when nothing was accumulated for it). */
  norms(name: string): Float32Array | undefined {
    const s = this.sums.get(name);
    return s ? Float32Array.from(s, Math.sqrt) : undefined;
  }
}
