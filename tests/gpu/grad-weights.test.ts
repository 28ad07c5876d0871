// The GPU gradient (src/gpu/grad-backend.ts GpuGrad, f32) against GradModel.lossAndGrad
// (src/core/grad/backward.ts, float64, checked against finite differences in tests/unit/grad-model.test.ts):
//   - weightGradSq: per tensor sum_i (dL/dw_i)^2 (linear weights and biases, norm weights and biases,
//     token / position embeddings; tied token_embd = unembedding + embedding parts) on stories260K (GGUF),
//     the tiny Llama fixtures and the tiny GPT-2 fixture (fused QKV, LayerNorm biases, learned positions,
//     tied output), and stories260K quantized to Q4_0 (both sides differentiate w.r.t. the dequantized
//     weights). Every tensor the CPU gives a gradient appears, and nothing else.
//     Tolerance: |got - want| <= 1e-4 max_tensors(want) + 1e-3 |want| (f32 forward + backward against
//     float64; a squared gradient doubles the relative error of the gradient, measured ~1e-5).
//   - residGrad on the GPT-2 graph: dL/dh at every block's in / mid / out within 2e-5 max|want| + 2e-4 |want|
//     per point (the tolerance of the Llama test, tests/gpu/grad-backend.test.ts), on the tiny GPT-2
//     fixture, a variant with an untied output matrix and an output bias, and kjv-gpt2-8L (safetensors).
import { describe, expect, it } from 'vitest';
import { loadModelFromFiles } from '../../src/core/formats/load.ts';
import { GradModel } from '../../src/core/grad/backward.ts';
import { GGMLType } from '../../src/core/quant/types.ts';
import { sumSq } from '../../src/core/grad/ops/sum-sq.ts';
import type { LoadedModel } from '../../src/core/formats/types.ts';
import { randn } from '../../src/core/tensor.ts';
import { GpuGrad, gpuGradSupported } from '../../src/gpu/grad-backend.ts';
import { expectAllClose } from '../helpers/close.ts';
import { skipGpu } from '../helpers/gpu.ts';
import { MODELS } from '../helpers/parity.ts';
import { readModelBytes } from '../helpers/models.ts';
import { f32Tensor } from '../unit/analysis-fixtures.ts';
import { tinyGpt2, tinyLlama } from '../unit/grad-fixtures.ts';
import { testContext } from './harness.ts';

/** tinyGpt2 with a separate output matrix and an output bias. */
function tinyGpt2Untied(): LoadedModel {
  const m = tinyGpt2();
  const { vocabSize: V, dModel: C } = m.spec;
  m.spec = { ...m.spec, tiedEmbeddings: false };
  m.tensors.set('output', f32Tensor('output', [V, C], randn(V * C, 90, 1)));
  m.tensors.set('output.bias', f32Tensor('output.bias', [V], randn(V, 91, 0.3)));
  return m;
}

/** stories260K quantized to Q4_0 by llama.cpp (packed blocks; gradients w.r.t. the dequantized values). */
function storiesQ4(): LoadedModel {
  const m = loadModelFromFiles([{ name: 'stories260K-Q4_0.gguf', bytes: readModelBytes('stories260K-gguf/quantized/stories260K-Q4_0.gguf') }], { contextLength: 512 });
  expect(m.tensors.get('blk.0.attn_q')!.type).toBe(GGMLType.Q4_0);
  return m;
}

const weightCases: [string, () => LoadedModel, number[]][] = [
  ['stories260K (GGUF)', MODELS['stories260K (GGUF)'], [1, 403, 407, 261, 378, 285, 309, 1, 267, 344, 400, 46, 13]],
  ['stories260K Q4_0 (dequantized weights)', storiesQ4, [1, 403, 407, 261, 378, 285, 309, 1, 267, 344, 400, 46, 13]],
  ['tiny llama, RoPE adjacent, GQA 4/2', () => tinyLlama('adjacent'), [1, 5, 9, 3, 7, 7, 4]],
  ['tiny llama, RoPE half, q/k/v bias, tied', () => tinyLlama('half', { qkvBias: true, tied: true }), [2, 5, 9, 3, 7, 7, 4, 1, 1, 0, 10]],
  ['tiny gpt2 (tied)', tinyGpt2, [3, 1, 4, 1, 5, 9, 2, 6, 5]],
  ['tiny gpt2 (untied, output bias)', tinyGpt2Untied, [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5]],
];

describe.skipIf(skipGpu)('GPU weight gradients: per-tensor sum of squares', () => {
  for (const [name, make, ids] of weightCases) {
    it(`${name}: sum_i (dL/dw_i)^2 per tensor and the loss match GradModel`, async () => {
      const model = make();
      expect(gpuGradSupported(model.spec)).toBe(true);
      const want = new GradModel(model).lossAndGrad(ids);
      const ctx = await testContext();
      const g = new GpuGrad(ctx, model);
      const got = await g.weightGradSq(ids);
      g.dispose();
      expect(Math.abs(got.loss - want.loss)).toBeLessThanOrEqual(1e-5 * want.loss);
      const names = [...want.weights.keys()].sort();
      expect(Object.keys(got.sumSq).sort()).toEqual(names);
      const w = names.map((n) => sumSq(want.weights.get(n)!));
      const max = Math.max(...w);
      expect(max).toBeGreaterThan(0);
      const gv = names.map((n) => got.sumSq[n]);
      expectAllClose(gv, w, { atol: 1e-4 * max, rtol: 1e-3 }, name);
      const worst = Math.max(...w.map((v, i) => Math.abs(gv[i] - v) / Math.max(v, 1e-30)));
      console.log(`${name}: ${names.length} tensors, worst relative error ${worst.toExponential(2)}`);
    });
  }
});

const residCases: [string, () => LoadedModel, number[]][] = [
  ['tiny gpt2 (tied)', tinyGpt2, [3, 1, 4, 1, 5, 9, 2, 6, 5]],
  ['tiny gpt2 (untied, output bias)', tinyGpt2Untied, [0, 10, 4, 4, 2]],
];

describe.skipIf(skipGpu)('GPU residual-stream gradient (GPT-2 graph)', () => {
  const check = async (model: LoadedModel, ids: number[], label: string) => {
    expect(gpuGradSupported(model.spec)).toBe(true);
    const want = new GradModel(model).lossAndGrad(ids, { weightGrads: false });
    const ctx = await testContext();
    const g = new GpuGrad(ctx, model);
    const got = await g.residGrad(ids);
    g.dispose();
    expect(Object.keys(got.resid).sort()).toEqual(Object.keys(want.resid).sort());
    expect(Math.abs(got.loss - want.loss)).toBeLessThanOrEqual(1e-5 * want.loss);
    let worst = 0;
    for (const [k, w] of Object.entries(want.resid)) {
      const max = w.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      expect(max).toBeGreaterThan(0);
      const r = got.resid[k];
      for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(r[i] - w[i]) / max);
      expectAllClose(r, w, { atol: 2e-5 * max, rtol: 2e-4 }, `${label} ${k}`);
    }
    console.log(`${label}: worst |diff| / max|want| = ${worst.toExponential(2)}`);
  };
  for (const [name, make, ids] of residCases) {
    it(`${name}: dL/dh at every block's in / mid / out and the loss match GradModel`, () => check(make(), ids, name));
  }
  it('kjv-gpt2-8L (safetensors), "In the beginning God created": dL/dh matches GradModel', async () => {
    const model = MODELS['kjv-gpt2-8L (safetensors)']();
    await check(model, model.tokenizer.encode('In the beginning God created'), 'kjv-gpt2-8L');
  }, 60_000);
});
