// analyze() with fisher's per-tensor squared weight gradients injected from the GPU backward
// (src/gpu/grad-backend.ts GpuGrad.weightGradSq, f32, reduced on the GPU) against the same analysis with
// the float64 CPU GradModel (src/core/grad/backward.ts) — an independent implementation.
//   - stories260K (GGUF) on the WebGPU backend: two texts of different lengths and a one-token text
//     (no target: not a sample); perTensor, perBlock, perSublayer and the Fisher trace per tensor.
//   - tiny hand-built models (tests/unit/grad-fixtures.ts: Llama with q/k/v biases and tied output; GPT-2
//     with fused QKV, LayerNorm biases and learned positions) on the CPU backend with the GPU provider.
//   - the Engine (src/worker/engine.ts) on the GPU with kjv-gpt2-8L: taylor and fisher report
//     gradientBackend 'gpu' and match the Engine on the CPU backend (zo's exact terms are taylor's; zo's
//     6 L forwards per text are too slow for SwiftShader here, its GPU wiring is covered on stories260K in
//     tests/gpu/analysis-grad-gpu.test.ts).
// Tolerance: |got - want| <= 1e-4 max|want| + 1e-3 |want| per array (max over the array compared; f32
// forward and backward against float64, squared; measured worst relative error ~1e-5).
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/core/analysis/index.ts';
import type { AnalysisResult, AnalyzeOptions } from '../../src/core/analysis/types.ts';
import { CpuBackend } from '../../src/core/model/cpu-backend.ts';
import type { LoadedModel } from '../../src/core/formats/types.ts';
import type { LayerScores } from '../../src/core/metrics/types.ts';
import { GpuBackend } from '../../src/gpu/gpu-backend.ts';
import { GpuGrad } from '../../src/gpu/grad-backend.ts';
import { Engine } from '../../src/worker/engine.ts';
import { MODELS } from '../helpers/parity.ts';
import { readModelBytes } from '../helpers/models.ts';
import { nodeGpu, skipGpu, testDevice } from '../helpers/gpu.ts';
import { expectAllClose } from '../helpers/close.ts';
import { tinyGpt2, tinyLlama } from '../unit/grad-fixtures.ts';
import { testContext } from './harness.ts';

const close = (got: number[], want: number[], what: string) => {
  const max = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  expect(max).toBeGreaterThan(0);
  expectAllClose(got, want, { atol: 1e-4 * max, rtol: 1e-3 }, what);
};

const by = (r: AnalysisResult, id: string): LayerScores => r.scores.find((s) => s.metricId === id)!;

function compareFisher(g: LayerScores, c: LayerScores): void {
  expect(g.extra!.gradientBackend).toBe('gpu');
  expect(c.extra!.gradientBackend).toBe('cpu');
  expect(g.extra!.samples).toBe(c.extra!.samples);
  expect(Object.keys(g.perTensor!)).toEqual(Object.keys(c.perTensor!));
  const names = Object.keys(c.perTensor!);
  close(names.map((n) => g.perTensor![n]), names.map((n) => c.perTensor![n]), 'fisher perTensor');
  const gs = g.extra!.perTensorSum as Record<string, number>;
  const cs = c.extra!.perTensorSum as Record<string, number>;
  close(names.map((n) => gs[n]), names.map((n) => cs[n]), 'fisher perTensorSum');
  close(g.perBlock, c.perBlock, 'fisher perBlock');
  close(g.perSublayer!.attn, c.perSublayer!.attn, 'fisher attn');
  close(g.perSublayer!.mlp, c.perSublayer!.mlp, 'fisher mlp');
}

describe.skipIf(skipGpu)('fisher with GPU weight gradients', () => {
  it('stories260K (GGUF) on the GPU backend: equals the CPU-gradient fisher; null from the provider -> CPU', async () => {
    const device = await testDevice();
    const limits = { maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize, maxBufferSize: device.limits.maxBufferSize };
    const model = MODELS['stories260K (GGUF)']();
    const gpu = await GpuBackend.create({ device, adapter: 'test adapter', software: true, features: [], limits }, model);
    const grad = new GpuGrad(gpu.ctx, model);
    const ids = [[1, 403, 407, 261, 378, 285, 309, 1, 267, 344, 400, 46, 13], [1, 267, 344, 400, 46], [1]];
    let calls = 0;
    const weightGradSq: AnalyzeOptions['weightGradSq'] = async (_m, x) => {
      calls++;
      return (await grad.weightGradSq(x)).sumSq;
    };
    try {
      const g = await analyze(gpu, model, { ids, metrics: ['fisher'], weightGradSq });
      expect(calls).toBe(2);
      const c = await analyze(new CpuBackend(model), model, { ids, metrics: ['fisher'] });
      compareFisher(by(g, 'fisher'), by(c, 'fisher'));
      const refused = await analyze(gpu, model, { ids: [ids[1]], metrics: ['fisher'], weightGradSq: async () => null });
      expect(by(refused, 'fisher').extra!.gradientBackend).toBe('cpu');
    } finally {
      grad.dispose();
      gpu.dispose();
    }
  }, 60_000);

  const tiny: [string, () => LoadedModel, number[][]][] = [
    ['tiny llama (RoPE half, q/k/v bias, tied)', () => tinyLlama('half', { qkvBias: true, tied: true }), [[2, 5, 9, 3, 7, 7, 4, 1], [1, 10, 0]]],
    ['tiny gpt2 (fused QKV, LayerNorm bias, positions, tied)', tinyGpt2, [[3, 1, 4, 1, 5, 9, 2, 6, 5], [7, 7, 2]]],
  ];
  for (const [name, make, ids] of tiny) {
    it(`${name}: equals the CPU-gradient fisher`, async () => {
      const model = make();
      const grad = new GpuGrad(await testContext(), model);
      try {
        const cpu = new CpuBackend(model);
        const g = await analyze(cpu, model, { ids, metrics: ['fisher'], weightGradSq: async (_m, x) => (await grad.weightGradSq(x)).sumSq });
        const c = await analyze(cpu, model, { ids, metrics: ['fisher'] });
        compareFisher(by(g, 'fisher'), by(c, 'fisher'));
      } finally {
        grad.dispose();
      }
    });
  }

  it('Engine, kjv-gpt2-8L on the GPU: taylor and fisher use GPU gradients and match the CPU engine', async () => {
    const files = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'].map((f) => ({ name: f, bytes: readModelBytes(`kjv-gpt2-8L/${f}`) }));
    const req = { texts: ['In the beginning God'], metrics: ['taylor', 'fisher'] };
    const eg = new Engine(async () => nodeGpu());
    await eg.load({ kind: 'files', files }, { backend: 'gpu' });
    const g = await eg.analyze(req);
    await eg.unload();
    const ec = new Engine(async () => nodeGpu());
    await ec.load({ kind: 'files', files }, { backend: 'cpu' });
    const c = await ec.analyze(req);
    await ec.unload();
    for (const id of ['taylor', 'fisher']) {
      expect(by(g, id).extra!.gradientBackend, id).toBe('gpu');
      expect(by(c, id).extra!.gradientBackend, id).toBe('cpu');
    }
    compareFisher(by(g, 'fisher'), by(c, 'fisher'));
    close(by(g, 'taylor').perBlock, by(c, 'taylor').perBlock, 'taylor perBlock');
    close(by(g, 'taylor').perSublayer!.attn, by(c, 'taylor').perSublayer!.attn, 'taylor attn');
    close(by(g, 'taylor').perSublayer!.mlp, by(c, 'taylor').perSublayer!.mlp, 'taylor mlp');
    console.log(`kjv-gpt2-8L timings (ms): GPU ${JSON.stringify(g.timings)}; CPU ${JSON.stringify(c.timings)}`);
  }, 120_000);
});
