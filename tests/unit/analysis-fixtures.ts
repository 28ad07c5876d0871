// Hand-built tiny models for the analysis tests: a Llama-style LoadedModel written out tensor by tensor
// (4 blocks, d = 8, 2 query heads / 1 KV head of width 4, SwiGLU width 12, vocabulary 16), with one block
// whose linear weights are all zero (it cannot change the residual stream) and one block whose output
// projections are scaled up (it dominates the residual stream), plus helpers that edit a model the plain
// way (remove a block, zero a tensor, replace tensors) for independent comparisons.
import type { LoadedModel, WeightTensor } from '../../src/core/formats/types.ts';
import type { Tokenizer } from '../../src/core/formats/tokenizer.ts';
import type { ModelSpec } from '../../src/core/model/spec.ts';
import { GGMLType } from '../../src/core/quant/types.ts';
import { tensorToF32 } from '../../src/core/model/weights.ts';
import { randn } from '../../src/core/tensor.ts';

export function f32Tensor(name: string, shape: number[], values: Float32Array): WeightTensor {
  return { name, type: GGMLType.F32, shape, data: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) };
}

export const stubTokenizer = (V: number): Tokenizer => ({
  kind: 'sentencepiece-bpe',
  vocabSize: V,
  bosId: 1,
  eosId: 2,
  addBosDefault: true,
  encode: (text, opts) => [...(opts?.addBos ?? true ? [1] : []), ...[...text].map((ch) => 3 + (ch.charCodeAt(0) % (V - 3)))],
  decode: (ids) => ids.map((i) => `<${i}>`).join(''),
  piece: (id) => `<${id}>`,
});

export interface TinyOptions {
  /** Block whose linear weights are all zero. */
  zeroBlock?: number;
  /** Block whose attn_output and ffn_down are multiplied by bigScale. */
  bigBlock?: number;
  bigScale?: number;
  seed?: number;
}

export function tinyModel(o: TinyOptions = {}): LoadedModel {
  const L = 4;
  const C = 8;
  const H = 2;
  const Hkv = 1;
  const D = 4;
  const F = 12;
  const V = 16;
  const spec: ModelSpec = {
    arch: 'llama', name: 'tiny', nLayers: L, dModel: C, nHeads: H, nKvHeads: Hkv, headDim: D, dFF: F, vocabSize: V,
    contextLength: 64, norm: { kind: 'rms', eps: 1e-5 }, rope: { kind: 'adjacent', theta: 10000, dim: D },
    learnedPositions: false, mlp: 'silu-gate', tiedEmbeddings: false, qkvBias: false, linearBias: false, fusedQkv: false,
    bosId: 1, eosId: 2, addBos: true,
  };
  const seed = o.seed ?? 1;
  const tensors = new Map<string, WeightTensor>();
  const put = (name: string, shape: number[], values: Float32Array) => tensors.set(name, f32Tensor(name, shape, values));
  const ones = (n: number) => new Float32Array(n).fill(1);
  put('token_embd', [V, C], randn(V * C, seed));
  put('output_norm', [C], ones(C));
  put('output', [V, C], randn(V * C, seed + 1, 1.5));
  const mats: [string, number, number][] = [
    ['attn_q', H * D, C], ['attn_k', Hkv * D, C], ['attn_v', Hkv * D, C], ['attn_output', C, H * D],
    ['ffn_gate', F, C], ['ffn_up', F, C], ['ffn_down', C, F],
  ];
  for (let l = 0; l < L; l++) {
    put(`blk.${l}.attn_norm`, [C], ones(C));
    put(`blk.${l}.ffn_norm`, [C], ones(C));
    mats.forEach(([s, r, c], k) => {
      let w = randn(r * c, seed + 100 * (l + 1) + k, 0.35);
      if (l === o.zeroBlock) w = new Float32Array(r * c);
      if (l === o.bigBlock && (s === 'attn_output' || s === 'ffn_down')) w = w.map((x) => x * (o.bigScale ?? 12));
      put(`blk.${l}.${s}`, [r, c], w);
    });
  }
  return { spec, tensors, tokenizer: stubTokenizer(V), format: 'test', meta: {} };
}

/** The same model without block `drop` (later blocks renumbered): a plain "skip-block". */
export function withoutBlock(m: LoadedModel, drop: number): LoadedModel {
  const tensors = new Map<string, WeightTensor>();
  for (const [name, t] of m.tensors) {
    const k = /^blk\.(\d+)\.(.*)$/.exec(name);
    if (!k) {
      tensors.set(name, t);
      continue;
    }
    const l = Number(k[1]);
    if (l === drop) continue;
    const nn = `blk.${l > drop ? l - 1 : l}.${k[2]}`;
    tensors.set(nn, { ...t, name: nn });
  }
  return { ...m, spec: { ...m.spec, nLayers: m.spec.nLayers - 1 }, tensors };
}

/** The same model with the named tensors replaced by f32 values. */
export function withTensors(m: LoadedModel, repl: Record<string, Float32Array>): LoadedModel {
  const tensors = new Map(m.tensors);
  for (const [name, v] of Object.entries(repl)) tensors.set(name, f32Tensor(name, m.tensors.get(name)!.shape, v));
  return { ...m, tensors };
}

/** The same model with the named tensors set to zero. */
export function withZeroed(m: LoadedModel, names: string[]): LoadedModel {
  return withTensors(m, Object.fromEntries(names.map((n) => [n, new Float32Array(tensorToF32(m.tensors.get(n)!).length)])));
}

/** log-softmax of row r of z [*, V], float64 (the test's own). */
export function logSoftmax(z: ArrayLike<number>, r: number, V: number): number[] {
  let m = -Infinity;
  for (let v = 0; v < V; v++) m = Math.max(m, z[r * V + v]);
  let s = 0;
  for (let v = 0; v < V; v++) s += Math.exp(z[r * V + v] - m);
  const lse = m + Math.log(s);
  return Array.from({ length: V }, (_, v) => z[r * V + v] - lse);
}

/**
 * The test's own comparison of two models' logits over several texts: pooled mean KL(base || mod) over all
 * rows, dNLL over the rows with a target, top-1 agreement over all rows.
 */
export function pooledDivergence(texts: number[][], base: Float32Array[], mod: Float32Array[], V: number): { kl: number; dNll: number; top1: number } {
  let kl = 0;
  let rows = 0;
  let d = 0;
  let scored = 0;
  let agree = 0;
  texts.forEach((ids, i) => {
    for (let t = 0; t < ids.length; t++) {
      const p = logSoftmax(base[i], t, V);
      const q = logSoftmax(mod[i], t, V);
      for (let v = 0; v < V; v++) kl += Math.exp(p[v]) * (p[v] - q[v]);
      const am = (a: number[]) => a.indexOf(Math.max(...a));
      if (am(p) === am(q)) agree++;
      rows++;
      if (t + 1 < ids.length) {
        d += -q[ids[t + 1]] - -p[ids[t + 1]];
        scored++;
      }
    }
  });
  return { kl: kl / rows, dNll: d / scored, top1: agree / rows };
}
