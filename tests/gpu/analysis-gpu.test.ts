// analyze() on the WebGPU backend agrees with the CPU reference backend on stories260K (GGUF): the
// taps metrics, the logit lens, ablation (interventions on the GPU forward) and quantization sensitivity
// (fresh GPU backends made for the fake-quantized models through makeBackend, then disposed). Short text
// and one plain bit width to stay quick on a software adapter (each fresh backend compiles its pipelines;
// the GGUF-format path builds the same F32 replacement tensors and is checked on the CPU).
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/core/analysis/index.ts';
import { CpuBackend } from '../../src/core/model/cpu-backend.ts';
import { GpuBackend } from '../../src/gpu/gpu-backend.ts';
import type { LoadedModel } from '../../src/core/formats/types.ts';
import type { LayerScores } from '../../src/core/metrics/types.ts';
import type { QuantExtra } from '../../src/core/metrics/quant-sensitivity.ts';
import type { AblationSeries } from '../../src/core/metrics/ablation.ts';
import { MODELS } from '../helpers/parity.ts';
import { skipGpu, testDevice } from '../helpers/gpu.ts';
import { expectAllClose } from '../helpers/close.ts';

describe.skipIf(skipGpu)('analysis on the GPU backend (stories260K GGUF)', () => {
  it('agrees with the CPU backend: cos, contrib, lens, ablation, quant', async () => {
    const device = await testDevice();
    const limits = { maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize, maxBufferSize: device.limits.maxBufferSize };
    const acquired = { device, adapter: 'test adapter', software: true, features: [], limits };
    const model = MODELS['stories260K (GGUF)']();
    let made = 0;
    const makeGpu = (m: LoadedModel) => {
      made++;
      return GpuBackend.create(acquired, m);
    };
    const gpu = await GpuBackend.create(acquired, model);
    const opts = { texts: ['Once upon a time, a cat'], metrics: ['cos', 'contrib', 'lens', 'ablation', 'quant'], bits: [4], formats: [] };
    const g = await analyze(gpu, model, { ...opts, makeBackend: makeGpu });
    const c = await analyze(new CpuBackend(model), model, { ...opts, makeBackend: (m) => new CpuBackend(m) });
    gpu.dispose();
    expect(made).toBe(model.spec.nLayers + 1);
    expect(g.calibration.ids).toEqual(c.calibration.ids);
    const T = c.calibration.tokens;
    const by = (r: typeof g, id: string): LayerScores => r.scores.find((s) => s.metricId === id)!;
    for (const id of ['cos', 'contrib']) {
      expectAllClose(by(g, id).perBlock, by(c, id).perBlock, { atol: 1e-5, rtol: 1e-4 }, `${id} perBlock`);
      expectAllClose([...by(g, id).perSublayer!.attn, ...by(g, id).perSublayer!.mlp], [...by(c, id).perSublayer!.attn, ...by(c, id).perSublayer!.mlp], { atol: 1e-5, rtol: 1e-4 }, `${id} sublayers`);
      expectAllClose(by(g, id).perToken!.flat(), by(c, id).perToken!.flat(), { atol: 1e-5, rtol: 1e-4 }, `${id} perToken`);
    }
    expectAllClose(by(g, 'lens').perBlock, by(c, 'lens').perBlock, { atol: 1e-4, rtol: 1e-3 }, 'lens KL');
    // Ablation: KL and dNLL from GPU logits (|dz| ~ 1e-5) vs CPU logits; top-1 may flip only on a near tie.
    const ga = by(g, 'ablation').extra as unknown as Record<'block' | 'attn' | 'mlp', AblationSeries>;
    const ca = by(c, 'ablation').extra as unknown as Record<'block' | 'attn' | 'mlp', AblationSeries>;
    for (const k of ['block', 'attn', 'mlp'] as const) {
      expectAllClose(ga[k].kl, ca[k].kl, { atol: 1e-4, rtol: 1e-3 }, `ablation ${k} KL`);
      expectAllClose(ga[k].dNll, ca[k].dNll, { atol: 1e-4, rtol: 1e-3 }, `ablation ${k} dNLL`);
      expectAllClose(ga[k].top1, ca[k].top1, { atol: 1 / T + 1e-12, rtol: 0 }, `ablation ${k} top-1`);
    }
    expect(by(g, 'ablation').ranking).toEqual(by(c, 'ablation').ranking);
    const gq = by(g, 'quant').extra as unknown as QuantExtra;
    const cq = by(c, 'quant').extra as unknown as QuantExtra;
    const [gs, cs] = [gq.plain[0], cq.plain[0]];
    expectAllClose([...gs.blocks.map((b) => b.kl), gs.all.kl], [...cs.blocks.map((b) => b.kl), cs.all.kl], { atol: 2e-5, rtol: 2e-2 }, 'plain 4-bit KL');
    expectAllClose([...gs.blocks.map((b) => b.dNll), gs.all.dNll], [...cs.blocks.map((b) => b.dNll), cs.all.dNll], { atol: 1e-4, rtol: 2e-2 }, 'plain 4-bit dNLL');
    expect(by(g, 'quant').ranking).toEqual(by(c, 'quant').ranking);
  });
});
