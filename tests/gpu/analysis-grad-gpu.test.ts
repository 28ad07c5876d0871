// analyze() with taylor (and zo's exact terms) on the WebGPU backend with residual gradients injected
// from the GPU backward (src/gpu/grad-backend.ts GpuGradLlama, f32) against the same analysis on the CPU
// reference backend, whose gradients come from the float64 GradModel (src/core/grad/backward.ts) — an
// independent implementation. stories260K (GGUF), two texts of different lengths so the rescaling of each
// text's own mean-loss gradient to the mean over all scored tokens is exercised.
// Tolerance: |got - want| <= 1e-4 max|want| + 1e-3 |want| (f32 forward taps and f32 backward vs float64).
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/core/analysis/index.ts';
import type { AnalyzeOptions } from '../../src/core/analysis/types.ts';
import { CpuBackend } from '../../src/core/model/cpu-backend.ts';
import type { LayerScores } from '../../src/core/metrics/types.ts';
import { GpuBackend } from '../../src/gpu/gpu-backend.ts';
import { GpuGradLlama, gpuGradSupported } from '../../src/gpu/grad-backend.ts';
import { MODELS } from '../helpers/parity.ts';
import { skipGpu, testDevice } from '../helpers/gpu.ts';
import { expectAllClose } from '../helpers/close.ts';

const ids = [
  [1, 403, 407, 261, 378, 285, 309, 1, 267, 344, 400, 46, 13],
  [1, 267, 344, 400, 46],
];

const close = (got: number[], want: number[], what: string) => {
  const max = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  expect(max).toBeGreaterThan(0);
  expectAllClose(got, want, { atol: 1e-4 * max, rtol: 1e-3 }, what);
};

describe.skipIf(skipGpu)('taylor / zo with GPU residual gradients (stories260K GGUF)', () => {
  it('match the CPU-gradient analysis; gradientBackend gpu with the provider, cpu without or on null', async () => {
    const device = await testDevice();
    const limits = { maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize, maxBufferSize: device.limits.maxBufferSize };
    const acquired = { device, adapter: 'test adapter', software: true, features: [], limits };
    const model = MODELS['stories260K (GGUF)']();
    expect(gpuGradSupported(model.spec)).toBe(true);
    const gpu = await GpuBackend.create(acquired, model);
    const grad = new GpuGradLlama(gpu.ctx, model);
    let calls = 0;
    const residGrad: AnalyzeOptions['residGrad'] = async (_m, x) => {
      calls++;
      return grad.residGrad(x);
    };
    try {
      const g = await analyze(gpu, model, { ids, metrics: ['taylor', 'zo'], residGrad });
      expect(calls).toBe(ids.length);
      const c = await analyze(new CpuBackend(model), model, { ids, metrics: ['taylor'] });
      const plain = await analyze(gpu, model, { ids: [ids[1]], metrics: ['taylor'] });
      const refused = await analyze(gpu, model, { ids: [ids[1]], metrics: ['taylor'], residGrad: async () => null });

      const by = (r: typeof g, id: string): LayerScores => r.scores.find((s) => s.metricId === id)!;
      const gt = by(g, 'taylor');
      const ct = by(c, 'taylor');
      expect(gt.extra!.gradientBackend).toBe('gpu');
      expect(ct.extra!.gradientBackend).toBe('cpu');
      expect(by(plain, 'taylor').extra!.gradientBackend).toBe('cpu');
      expect(by(refused, 'taylor').extra!.gradientBackend).toBe('cpu');
      close(gt.perBlock, ct.perBlock, 'taylor perBlock');
      close(gt.perSublayer!.attn, ct.perSublayer!.attn, 'taylor attn');
      close(gt.perSublayer!.mlp, ct.perSublayer!.mlp, 'taylor mlp');
      close(gt.perToken!.flat(), ct.perToken!.flat(), 'taylor perToken');
      expect(Math.abs((gt.extra!.loss as number) - (ct.extra!.loss as number))).toBeLessThanOrEqual(1e-5 * (ct.extra!.loss as number));
      // zo's exact terms reuse the GPU Taylor terms.
      const zx = by(g, 'zo').extra!;
      expect(zx.gradientBackend).toBe('gpu');
      const signed = ct.extra!.signed as { attn: number[]; mlp: number[] };
      const exact = zx.exact as { attn: number[]; mlp: number[] };
      close(exact.attn, signed.attn, 'zo exact attn');
      close(exact.mlp, signed.mlp, 'zo exact mlp');
    } finally {
      grad.dispose();
      gpu.dispose();
    }
  }, 120_000);
});
