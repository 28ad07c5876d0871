// analyze() with the GPU scanners (src/gpu/analysis-scans.ts, as the engine injects them) equals analyze()
// with the CPU metric modules on stories260K (GGUF): cos, lim, contrib, cka, zd and the weight statistics
// (w-fro, w-kurtosis, w-outliers, owl, erank), every report field. Both runs use the same GPU backend, so
// the taps are identical and only the scans differ (f32 GPU sums vs float64 CPU loops). Two texts (the
// per-text "without position 0" rule, T = 17 <= C = 64: Gram-form CKA) and one long text (T > C:
// feature-form CKA). Tolerances: cosines atol 2e-6 (f32 sums over C = 64 channels of nearly parallel
// rows), norm ratios rtol 1e-5, CKA atol 1e-5, Frobenius / kurtosis rtol 1e-5, counted shares (outliers,
// OWL, ZD) atol 0.5 / N: every count equal (N the matrix's or the block's weight count; a weight within f32
// rounding of its threshold could flip on another adapter, then this test names it).
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/core/analysis/index.ts';
import { GpuBackend } from '../../src/gpu/gpu-backend.ts';
import { GpuAnalysisScanner } from '../../src/gpu/analysis-scans.ts';
import type { LayerScores } from '../../src/core/metrics/types.ts';
import { Engine } from '../../src/worker/engine.ts';
import { MODELS } from '../helpers/parity.ts';
import { readModelBytes } from '../helpers/models.ts';
import { nodeGpu, skipGpu, testDevice } from '../helpers/gpu.ts';
import { expectScoresClose } from '../helpers/scores-close.ts';

describe.skipIf(skipGpu)('analysis scans on the GPU (stories260K GGUF)', () => {
  it('equal the CPU scans: cos, lim, contrib, cka, zd, weights (Gram-form CKA), then feature-form CKA', async () => {
    const device = await testDevice();
    const limits = { maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize, maxBufferSize: device.limits.maxBufferSize };
    const acquired = { device, adapter: 'test adapter', software: true, features: [], limits };
    const model = MODELS['stories260K (GGUF)']();
    const gpu = await GpuBackend.create(acquired, model);
    const scanner = new GpuAnalysisScanner(gpu.ctx, { simple: gpu.simple });
    const opts = { texts: ['Once upon a time, a cat', 'The dog ran to the park.'], metrics: ['cos', 'lim', 'contrib', 'cka', 'zd', 'weights'], outlierK: 4 };
    const g = await analyze(gpu, model, { ...opts, activationScanner: scanner, weightScanner: scanner });
    const c = await analyze(gpu, model, opts);
    expect(g.calibration.tokens).toBeLessThanOrEqual(model.spec.dModel);
    expect(g.calibration.texts).toBe(2);
    expect(g.scanBackends).toEqual({ cos: 'gpu', lim: 'gpu', contrib: 'gpu', cka: 'gpu', zd: 'gpu', 'w-fro': 'gpu', 'w-kurtosis': 'gpu', 'w-outliers': 'gpu', owl: 'gpu', erank: 'cpu' });
    expect(Object.values(c.scanBackends!).every((b) => b === 'cpu')).toBe(true);
    const by = (r: typeof g, id: string): LayerScores => r.scores.find((s) => s.metricId === id)!;
    expect(g.scores.map((s) => s.metricId)).toEqual(c.scores.map((s) => s.metricId));
    // Smallest weight counts: one 64 x 64 matrix (per tensor); shares of counts are k / N.
    const nMin = Math.min(...[...model.tensors].filter(([n, t]) => /^blk\.\d+\./.test(n) && t.shape.length === 2).map(([, t]) => t.shape[0] * t.shape[1]));
    const share = { atol: 0.5 / nMin, rtol: 0 };
    const tol: Record<string, { atol: number; rtol: number }> = {
      cos: { atol: 2e-6, rtol: 0 },
      lim: { atol: 2e-6, rtol: 0 },
      contrib: { atol: 1e-7, rtol: 1e-5 },
      cka: { atol: 1e-5, rtol: 0 },
      'w-fro': { atol: 0, rtol: 1e-5 },
      'w-kurtosis': { atol: 0, rtol: 1e-5 },
      'w-outliers': share,
      owl: share,
      zd: share,
      erank: { atol: 0, rtol: 1e-12 },
    };
    for (const s of c.scores) {
      // extra of the weight metrics holds every per-layer statistic: compare each with its own tolerance.
      const { extra: ge, ...gs } = by(g, s.metricId);
      const { extra: ce, ...cs } = s;
      expectScoresClose(gs as LayerScores, cs as LayerScores, tol[s.metricId], s.metricId);
      expect(by(g, s.metricId).ranking).toEqual(s.ranking);
      for (const [k, v] of Object.entries(ce ?? {})) {
        const t = s.metricId.startsWith('w-') || s.metricId === 'owl' || s.metricId === 'erank' ? tol[{ fro: 'w-fro', kurtosis: 'w-kurtosis', outliers: 'w-outliers', owl: 'owl', erank: 'erank', erankNormalized: 'erank' }[k]!] : tol[s.metricId];
        expectScoresClose({ ...cs, perBlock: (ge as Record<string, number[]>)[k] } as LayerScores, { ...cs, perBlock: v as number[] } as LayerScores, t, `${s.metricId} extra.${k}`);
      }
      expect(Object.keys(ge ?? {}).sort()).toEqual(Object.keys(ce ?? {}).sort());
    }

    const long = { texts: ['Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. One day, she saw a big red ball. She ran to get it, but the ball rolled away into the woods. Lily was sad.'], metrics: ['cka'] };
    const gl = await analyze(gpu, model, { ...long, activationScanner: scanner });
    const cl = await analyze(gpu, model, long);
    expect(gl.calibration.tokens).toBeGreaterThan(model.spec.dModel);
    expect(gl.scanBackends).toEqual({ cka: 'gpu' });
    expectScoresClose(by(gl, 'cka'), by(cl, 'cka'), tol.cka, 'cka (feature form)');
    gpu.dispose();
  });

  it('the engine injects the GPU scanner on a GPU backend only (scanBackends)', async () => {
    const files = [{ name: 'stories260K.gguf', bytes: readModelBytes('stories260K-gguf/stories260K.gguf') }];
    const req = { texts: ['Once upon a time'], metrics: ['lim', 'zd'] };
    const seen: Record<string, Record<string, string> | undefined> = {};
    for (const backend of ['gpu', 'cpu'] as const) {
      const e = new Engine(async () => nodeGpu());
      await e.load({ kind: 'files', files }, { backend });
      seen[backend] = (await e.analyze(req)).scanBackends;
      await e.unload();
    }
    expect(seen).toEqual({ gpu: { lim: 'gpu', zd: 'gpu' }, cpu: { lim: 'cpu', zd: 'cpu' } });
  });
});
