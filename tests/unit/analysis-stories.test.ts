// analyze() pieces on real models (CPU backend):
// - the CPU recomputation of the attention context and the MLP activation (OWL's inputs of attn_output
//   and ffn_down) reproduces the forward: o Wo^T (+b) equals the blk.l.attn_out tap and a Wd^T (+b) the
//   blk.l.mlp_out tap, on stories260K (Llama: RMSNorm, GQA, RoPE, SwiGLU) and kjv-gpt2-8L (GPT-2: fused
//   QKV, biases, LayerNorm, GELU); input norms pool over texts as sqrt of summed squares;
// - GGUF Q4_0 sensitivity of stories260K equals forwards of the model whose block tensors are taken from
//   llama.cpp's own Q4_0 file (an independent quantizer; ffn_down, whose rows do not fit, stays F32 there
//   too in our measurement and is reported skipped), with KL computed in the test;
// - logit-lens detail: top-k by hand on a small matrix; the last block's readout is the final prediction.
import { describe, expect, it } from 'vitest';
import { analyze, attentionContext, InputNormAccumulator, mlpActivation, rowTopK } from '../../src/core/analysis/index.ts';
import { f32Lookup } from '../../src/core/analysis/activations.ts';
import { CpuBackend } from '../../src/core/model/cpu-backend.ts';
import { allBlockTaps } from '../../src/core/model/taps.ts';
import { tensorToF32 } from '../../src/core/model/weights.ts';
import { matmul } from '../../src/core/ops/matmul.ts';
import { loadModelFromFiles } from '../../src/core/formats/load.ts';
import type { LoadedModel } from '../../src/core/formats/types.ts';
import type { QuantExtra } from '../../src/core/metrics/quant-sensitivity.ts';
import { MODELS } from '../helpers/parity.ts';
import { readModelBytes } from '../helpers/models.ts';
import { expectAllClose } from '../helpers/close.ts';
import { pooledDivergence, withTensors } from './analysis-fixtures.ts';

const PROMPTS: Record<string, string[]> = {
  'stories260K (llama2.c)': ['Once upon a time, there was a little girl named Lily.', 'The dog ran to the park.'],
  'kjv-gpt2-8L (safetensors)': ['In the beginning God created the heaven and the earth.', 'And God said'],
};

describe.each(Object.keys(PROMPTS))('activation inputs of attn_output / ffn_down: %s', (name) => {
  const model = MODELS[name]();
  const s = model.spec;
  const w = f32Lookup(model);
  const backend = new CpuBackend(model);

  it('recomputed context and activation reproduce the attn_out and mlp_out taps', async () => {
    const ids = model.tokenizer.encode(PROMPTS[name][0]);
    const T = ids.length;
    const r = await backend.forward(ids, { taps: allBlockTaps(s.nLayers) });
    for (let l = 0; l < s.nLayers; l++) {
      const o = attentionContext(s, w, l, r.taps[`blk.${l}.in`], T);
      const y = matmul(o, T, s.nHeads * s.headDim, w(`blk.${l}.attn_output`)!, s.dModel);
      const bo = w(`blk.${l}.attn_output.bias`);
      if (bo) for (let t = 0; t < T; t++) for (let c = 0; c < s.dModel; c++) y[t * s.dModel + c] += bo[c];
      expectAllClose(y, r.taps[`blk.${l}.attn_out`], { atol: 1e-5, rtol: 1e-5 }, `block ${l} attention`);
      const a = mlpActivation(s, w, l, r.taps[`blk.${l}.mid`], T);
      const z = matmul(a, T, s.dFF, w(`blk.${l}.ffn_down`)!, s.dModel);
      const bd = w(`blk.${l}.ffn_down.bias`);
      if (bd) for (let t = 0; t < T; t++) for (let c = 0; c < s.dModel; c++) z[t * s.dModel + c] += bd[c];
      expectAllClose(z, r.taps[`blk.${l}.mlp_out`], { atol: 1e-5, rtol: 1e-5 }, `block ${l} MLP`);
    }
  });

  it('input norms pool over texts (sqrt of the summed squares) and have the input widths', async () => {
    const taps = allBlockTaps(s.nLayers);
    const accs = [new InputNormAccumulator(model), new InputNormAccumulator(model), new InputNormAccumulator(model)];
    for (const [i, text] of PROMPTS[name].entries()) {
      const ids = model.tokenizer.encode(text);
      const r = await backend.forward(ids, { taps });
      accs[i].addText(r.taps, ids.length);
      accs[2].addText(r.taps, ids.length);
    }
    expect(accs[2].source).toEqual({ fromTaps: 0, recomputed: 4 * s.nLayers });
    for (const t of model.tensors.values()) {
      if (!/^blk\.\d+\.(attn_(q|k|v|qkv|output)|ffn_(gate|up|down))$/.test(t.name)) continue;
      const n = accs[2].norms(t.name)!;
      expect(n.length, t.name).toBe(t.shape[1]);
      const a = accs[0].norms(t.name)!;
      const b = accs[1].norms(t.name)!;
      expectAllClose(n, Array.from(a, (x, j) => Math.sqrt(x * x + b[j] * b[j])), { atol: 1e-6, rtol: 1e-5 }, t.name);
    }
  });
});

describe('GGUF-format sensitivity on stories260K against llama.cpp\'s own Q4_0 file', () => {
  const f32 = loadModelFromFiles([{ name: 'stories260K.gguf', bytes: readModelBytes('stories260K-gguf/stories260K.gguf') }], { contextLength: 512 });
  const q4 = loadModelFromFiles([{ name: 'stories260K-Q4_0.gguf', bytes: readModelBytes('stories260K-gguf/quantized/stories260K-Q4_0.gguf') }], { contextLength: 512 });
  const texts = ['Once upon a time, there was a big cat.', 'Tom and Sue played.'].map((t) => f32.tokenizer.encode(t));
  const V = f32.spec.vocabSize;
  const logitsOf = async (m: LoadedModel) => {
    const b = new CpuBackend(m);
    return Promise.all(texts.map(async (ids) => (await b.forward(ids)).logits));
  };
  const fromQ4 = (blocks: number[]) => {
    const repl: Record<string, Float32Array> = {};
    for (const l of blocks) for (const s of ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up']) repl[`blk.${l}.${s}`] = tensorToF32(q4.tensors.get(`blk.${l}.${s}`)!).slice();
    return withTensors(f32, repl);
  };

  it('per block and all blocks: KL, dNLL and top-1 equal the hybrid model\'s; ffn_down reported skipped', async () => {
    const r = await analyze(new CpuBackend(f32), f32, { ids: texts, metrics: ['quant'], bits: [], formats: ['Q4_0'], makeBackend: (m) => new CpuBackend(m) });
    const q = r.scores[0].extra as unknown as QuantExtra;
    expect(q.valueFrom).toBe('Q4_0');
    expect(q.refBits).toBeNull();
    const base = await logitsOf(f32);
    const L = f32.spec.nLayers;
    for (let l = 0; l < L; l++) {
      const want = pooledDivergence(texts, base, await logitsOf(fromQ4([l])), V);
      const got = q.formats[0].blocks[l];
      expect(got.kl).toBeGreaterThan(0);
      expect(Math.abs(got.kl - want.kl), `block ${l} KL ${got.kl} vs ${want.kl}`).toBeLessThanOrEqual(1e-9 + 1e-9 * want.kl);
      expect(Math.abs(got.dNll - want.dNll)).toBeLessThanOrEqual(1e-9 + 1e-9 * Math.abs(want.dNll));
      expect(got.top1).toBe(want.top1);
      expect([got.tensors, got.skippedTensors]).toEqual([6, 1]);
    }
    const all = pooledDivergence(texts, base, await logitsOf(fromQ4([0, 1, 2, 3, 4])), V);
    expect(Math.abs(q.formats[0].all.kl - all.kl)).toBeLessThanOrEqual(1e-9 + 1e-9 * all.kl);
    expect(q.skipped.map((s) => s.tensor)).toEqual([0, 1, 2, 3, 4].map((l) => `blk.${l}.ffn_down`));
    expect(q.skipped[0].reason).toBe('row length 172 is not a multiple of the Q4_0 block size 32');
    expect(r.scores[0].perBlock).toEqual(q.formats[0].blocks.map((b) => b.kl));
  });
});

describe('logit lens detail', () => {
  it('rowTopK by hand: ids by descending logit (ties to the lower id), softmax probabilities, p(target)', () => {
    // Row 0: logits [0, ln 2, ln 2, ln 4] -> p = [1, 2, 2, 4] / 9.
    const z = new Float32Array([0, Math.LN2, Math.LN2, 2 * Math.LN2, /* row 1 */ 3, 1, 2, 0]);
    const r = rowTopK(z, 2, 4, 3, [0, 2]);
    expect(r.ids).toEqual([[3, 1, 2], [0, 2, 1]]);
    expectAllClose(r.probs[0], [4 / 9, 2 / 9, 2 / 9], { atol: 1e-7, rtol: 0 });
    const e = [Math.exp(3), Math.exp(1), Math.exp(2), 1];
    const se = e.reduce((a, b) => a + b);
    expectAllClose(r.probs[1], [e[0] / se, e[2] / se, e[1] / se], { atol: 1e-7, rtol: 0 });
    expectAllClose(r.pTarget, [1 / 9, e[2] / se], { atol: 1e-7, rtol: 0 });
  });

  it('on stories260K the last block reads out the final prediction; top-k sorted; pieces given', async () => {
    const model = MODELS['stories260K (llama2.c)']();
    const r = await analyze(new CpuBackend(model), model, { texts: ['Once upon a time, there was a little girl.'], metrics: ['lens'], lensTopK: 4 });
    const d = r.lens!;
    const L = model.spec.nLayers;
    const T = r.calibration.tokens;
    expect(d.topIds).toHaveLength(L);
    for (let t = 0; t < T; t++) {
      expect(d.topIds[L - 1][t][0]).toBe(d.finalTop1[t]);
      expect(d.pFinal[L - 1][t]).toBeCloseTo(d.finalTop1Prob[t], 6);
      for (let l = 0; l < L; l++) {
        const p = d.topProbs[l][t];
        expect(p).toHaveLength(4);
        for (let i = 1; i < 4; i++) expect(p[i]).toBeLessThanOrEqual(p[i - 1]);
        expect(d.pFinal[l][t]).toBeLessThanOrEqual(p[0] + 1e-12);
      }
    }
    expect(r.scores[0].perBlock[L - 1]).toBeLessThan(1e-6);
    expect(d.pieces![String(d.finalTop1[0])]).toBe(model.tokenizer.piece(d.finalTop1[0]));
  });
});
