// Tiny random models of both graphs for the gradient tests: Llama (2 blocks, d = 8, 4 query / 2 KV heads
// of width 4, SwiGLU 12, vocabulary 11; RoPE form, q/k/v biases and tied output selectable) and GPT-2
// (2 blocks, d = 8, 2 heads, LayerNorm with biases, fused QKV with bias, GELU MLP 16, learned positions,
// tied output). Norm weights are near 1 so every path carries signal.
import type { LoadedModel, WeightTensor } from '../../src/core/formats/types.ts';
import type { ModelSpec } from '../../src/core/model/spec.ts';
import { randn } from '../../src/core/tensor.ts';
import { f32Tensor, stubTokenizer } from './analysis-fixtures.ts';

export function tinyLlama(rope: 'adjacent' | 'half', opts: { qkvBias?: boolean; tied?: boolean } = {}): LoadedModel {
  const [L, C, H, Hkv, D, F, V] = [2, 8, 4, 2, 4, 12, 11];
  const spec: ModelSpec = {
    arch: 'llama', name: 'tiny-llama', nLayers: L, dModel: C, nHeads: H, nKvHeads: Hkv, headDim: D, dFF: F, vocabSize: V,
    contextLength: 32, norm: { kind: 'rms', eps: 1e-5 }, rope: { kind: rope, theta: 10000, dim: D },
    learnedPositions: false, mlp: 'silu-gate', tiedEmbeddings: !!opts.tied, qkvBias: !!opts.qkvBias, linearBias: false, fusedQkv: false,
    bosId: 1, eosId: 2, addBos: true,
  };
  const tensors = new Map<string, WeightTensor>();
  let seed = 10;
  const put = (name: string, shape: number[], scale = 0.5, offset = 0) =>
    tensors.set(name, f32Tensor(name, shape, randn(shape.reduce((a, b) => a * b, 1), seed++, scale).map((v) => v + offset)));
  put('token_embd', [V, C], 1);
  put('output_norm', [C], 0.2, 1);
  if (!opts.tied) put('output', [V, C], 1);
  for (let l = 0; l < L; l++) {
    put(`blk.${l}.attn_norm`, [C], 0.2, 1);
    put(`blk.${l}.ffn_norm`, [C], 0.2, 1);
    put(`blk.${l}.attn_q`, [H * D, C]);
    put(`blk.${l}.attn_k`, [Hkv * D, C]);
    put(`blk.${l}.attn_v`, [Hkv * D, C]);
    if (opts.qkvBias) for (const s of ['attn_q', 'attn_k', 'attn_v']) put(`blk.${l}.${s}.bias`, [s === 'attn_q' ? H * D : Hkv * D], 0.3);
    put(`blk.${l}.attn_output`, [C, H * D]);
    put(`blk.${l}.ffn_gate`, [F, C]);
    put(`blk.${l}.ffn_up`, [F, C]);
    put(`blk.${l}.ffn_down`, [C, F]);
  }
  return { spec, tensors, tokenizer: stubTokenizer(V), format: 'test', meta: {} };
}

export function tinyGpt2(): LoadedModel {
  const [L, C, H, D, F, V, P] = [2, 8, 2, 4, 16, 11, 16];
  const spec: ModelSpec = {
    arch: 'gpt2', name: 'tiny-gpt2', nLayers: L, dModel: C, nHeads: H, nKvHeads: H, headDim: D, dFF: F, vocabSize: V,
    contextLength: P, norm: { kind: 'layer', eps: 1e-5 }, rope: { kind: 'none', theta: 10000, dim: D },
    learnedPositions: true, mlp: 'gelu', tiedEmbeddings: true, qkvBias: true, linearBias: true, fusedQkv: true,
    bosId: null, eosId: null, addBos: false,
  };
  const tensors = new Map<string, WeightTensor>();
  let seed = 50;
  const put = (name: string, shape: number[], scale = 0.5, offset = 0) =>
    tensors.set(name, f32Tensor(name, shape, randn(shape.reduce((a, b) => a * b, 1), seed++, scale).map((v) => v + offset)));
  put('token_embd', [V, C], 1);
  put('position_embd', [P, C], 0.3);
  put('output_norm', [C], 0.2, 1);
  put('output_norm.bias', [C], 0.2);
  for (let l = 0; l < L; l++) {
    for (const n of ['attn_norm', 'ffn_norm']) {
      put(`blk.${l}.${n}`, [C], 0.2, 1);
      put(`blk.${l}.${n}.bias`, [C], 0.2);
    }
    put(`blk.${l}.attn_qkv`, [3 * C, C]);
    put(`blk.${l}.attn_qkv.bias`, [3 * C], 0.3);
    put(`blk.${l}.attn_output`, [C, C]);
    put(`blk.${l}.attn_output.bias`, [C], 0.3);
    put(`blk.${l}.ffn_up`, [F, C]);
    put(`blk.${l}.ffn_up.bias`, [F], 0.3);
    put(`blk.${l}.ffn_down`, [C, F]);
    put(`blk.${l}.ffn_down.bias`, [C], 0.3);
  }
  return { spec, tensors, tokenizer: stubTokenizer(V), format: 'test', meta: {} };
}
