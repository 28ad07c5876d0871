// A synthetic Llama-shaped model with seeded random weights, built in memory for benchmarks at sizes the
// bundled models do not reach (no weights are downloaded or stored). Linear weights can be F32 or any
// quantizable GGUF type; norms are ones; the tokenizer maps ids to themselves (benchmarks feed ids).
import type { LoadedModel, WeightTensor } from '../src/core/formats/types.ts';
import type { Tokenizer } from '../src/core/formats/tokenizer.ts';
import type { ModelSpec } from '../src/core/model/spec.ts';
import { expectedTensors } from '../src/core/formats/common.ts';
import { quantize } from '../src/core/quant/quantize.ts';
import { GGMLType } from '../src/core/quant/types.ts';
import { randn } from '../src/core/tensor.ts';

export interface SyntheticShape {
  nLayers: number;
  dModel: number;
  nHeads: number;
  nKvHeads: number;
  dFF: number;
  vocabSize: number;
  contextLength: number;
}

export const SYNTHETIC_SIZES: Record<string, SyntheticShape> = {
  // about 0.2 B parameters, Llama-2-like proportions
  small: { nLayers: 12, dModel: 1024, nHeads: 16, nKvHeads: 4, dFF: 2816, vocabSize: 32000, contextLength: 2048 },
  // about 1.1 B parameters (TinyLlama's shape)
  '1b': { nLayers: 22, dModel: 2048, nHeads: 32, nKvHeads: 4, dFF: 5632, vocabSize: 32000, contextLength: 2048 },
};

export function syntheticModel(shape: SyntheticShape, type: GGMLType = GGMLType.F32, seed = 1): LoadedModel {
  const headDim = shape.dModel / shape.nHeads;
  const spec: ModelSpec = {
    arch: 'llama', name: `synthetic-${shape.nLayers}L-${shape.dModel}d-${GGMLType[type]}`,
    nLayers: shape.nLayers, dModel: shape.dModel, nHeads: shape.nHeads, nKvHeads: shape.nKvHeads, headDim,
    dFF: shape.dFF, vocabSize: shape.vocabSize, contextLength: shape.contextLength,
    norm: { kind: 'rms', eps: 1e-5 }, rope: { kind: 'adjacent', theta: 10000, dim: headDim },
    learnedPositions: false, mlp: 'silu-gate', tiedEmbeddings: false, qkvBias: false, linearBias: false, fusedQkv: false,
    bosId: 1, eosId: 2, addBos: true,
  };
  const tensors = new Map<string, WeightTensor>();
  let s = seed;
  for (const [name, shapeOf] of expectedTensors(spec)) {
    const n = shapeOf.reduce((a, b) => a * b, 1);
    let data: Uint8Array;
    let t = GGMLType.F32;
    if (shapeOf.length === 1) {
      data = new Uint8Array(new Float32Array(n).fill(1).buffer);
    } else {
      const quantizable = type !== GGMLType.F32 && name !== 'token_embd';
      t = quantizable ? type : GGMLType.F32;
      if (quantizable) {
        // Quantize a band of up to 64 rows and repeat it: the bytes moved per token are what a
        // benchmark measures, and quantizing a billion values in JavaScript would take minutes.
        const [rows, cols] = shapeOf;
        const band = Math.min(rows, 64);
        const q = quantize(type, randn(band * cols, s++, 1 / Math.sqrt(cols)));
        data = new Uint8Array((q.length / band) * rows);
        for (let r = 0; r < rows; r += band) data.set(q.subarray(0, (Math.min(band, rows - r) * q.length) / band), (r * q.length) / band);
      } else {
        data = new Uint8Array(randn(n, s++, 1 / Math.sqrt(shapeOf[1])).buffer);
      }
    }
    tensors.set(name, { name, type: t, shape: shapeOf, data });
  }
  const tokenizer: Tokenizer = {
    kind: 'sentencepiece-bpe', vocabSize: spec.vocabSize, bosId: 1, eosId: 2, addBosDefault: true,
    encode: () => { throw new Error('the synthetic model has no tokenizer: feed token ids'); },
    decode: (ids) => ids.join(' '),
    piece: (id) => String(id),
  };
  return { spec, tensors, tokenizer, format: 'synthetic', meta: { synthetic: true } };
}
