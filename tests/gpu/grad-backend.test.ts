// The GPU residual-stream gradient (src/gpu/grad-backend.ts, f32) against GradModel.lossAndGrad
// (src/core/grad/backward.ts, float64, itself checked against finite differences in
// tests/unit/grad-model.test.ts) on stories260K (GGUF: 5 layers, C 64, 8 heads / 4 KV heads, RoPE) and on
// the tiny random Llama fixtures (RoPE adjacent GQA 4/2; RoPE half with q/k/v biases and tied embeddings).
// Tolerance for the whole f32 chain (forward through every block, then backward): per point
// |got - want| <= 2e-5 max|want| + 2e-4 |want| (measured worst: 4e-6 max|want|), and the loss to 1e-5 relative.
import { describe, expect, it } from 'vitest';
import { GradModel } from '../../src/core/grad/backward.ts';
import type { LoadedModel } from '../../src/core/formats/types.ts';
import { GpuGradLlama } from '../../src/gpu/grad-backend.ts';
import { expectAllClose } from '../helpers/close.ts';
import { skipGpu } from '../helpers/gpu.ts';
import { MODELS } from '../helpers/parity.ts';
import { tinyLlama } from '../unit/grad-fixtures.ts';
import { testContext } from './harness.ts';

const cases: [string, () => LoadedModel, number[]][] = [
  ['stories260K (GGUF)', MODELS['stories260K (GGUF)'], [1, 403, 407, 261, 378, 285, 309, 1, 267, 344, 400, 46, 13]],
  ['tiny llama, RoPE adjacent, GQA 4/2', () => tinyLlama('adjacent'), [1, 5, 9, 3, 7, 7, 4]],
  ['tiny llama, RoPE half, q/k/v bias, tied', () => tinyLlama('half', { qkvBias: true, tied: true }), [2, 5, 9, 3, 7, 7, 4, 1, 1, 0, 10]],
];

describe.skipIf(skipGpu)('GPU residual-stream gradient (Llama graph)', () => {
  for (const [name, make, ids] of cases) {
    it(`${name}: dL/dh at every block's in / mid / out and the loss match GradModel`, async () => {
      const model = make();
      const want = new GradModel(model).lossAndGrad(ids, { weightGrads: false });
      const ctx = await testContext();
      const g = new GpuGradLlama(ctx, model);
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
        expectAllClose(r, w, { atol: 2e-5 * max, rtol: 2e-4 }, k);
      }
      console.log(`${name}: worst |diff| / max|want| = ${worst.toExponential(2)}`);
    });
  }
});
