// Parity of the backward kernels (shaders/grad-matmul.wgsl, shaders/grad-rms-norm.wgsl) with the float64
// CPU references src/core/grad/ops/linear.ts and rms-norm.ts (themselves checked against finite
// differences in tests/unit/grad-ops.test.ts), on seeded random f32 inputs of small odd shapes.
// Tolerance atol 1e-5, rtol 1e-5: f32 sums of up to ~70 terms against float64.
import { describe, it } from 'vitest';
import { randn } from '../../src/core/tensor.ts';
import { linearBackward } from '../../src/core/grad/ops/linear.ts';
import { rmsNormBackward } from '../../src/core/grad/ops/rms-norm.ts';
import { encodeMatmulBackward, encodeRmsNormBackward } from '../../src/gpu/kernels/grad-backward.ts';
import { expectAllClose } from '../helpers/close.ts';
import { skipGpu } from '../helpers/gpu.ts';
import { runPass, testContext } from './harness.ts';

const tol = { atol: 1e-5, rtol: 1e-5 };

describe.skipIf(skipGpu)('backward kernels', () => {
  for (const [M, K, N] of [[1, 1, 1], [3, 5, 7], [13, 33, 17], [7, 64, 70]]) {
    it(`linear M=${M} K=${K} N=${N}: dX = dY W, dW = dY^T X`, async () => {
      const ctx = await testContext();
      const x = randn(M * K, 1 + K);
      const w = randn(N * K, 2 + N);
      const dy = randn(M * N, 3 + M);
      const want = linearBackward(dy, x, M, K, w, N);
      const dx = ctx.storage(M * K * 4);
      const dw = ctx.storage(N * K * 4);
      const dyb = ctx.storage(dy);
      await runPass(ctx, (pass) => {
        encodeMatmulBackward(ctx, pass, { dy: dyb, src: ctx.storage(w), out: dx, M, K, N, which: 'dx' });
        encodeMatmulBackward(ctx, pass, { dy: dyb, src: ctx.storage(x), out: dw, M, K, N, which: 'dw' });
      });
      expectAllClose(await ctx.readF32(dx, M * K), want.dx, tol, 'dx');
      expectAllClose(await ctx.readF32(dw, N * K), want.dw, tol, 'dw');
    });
  }

  for (const [T, C] of [[1, 1], [3, 5], [9, 64], [17, 70]]) {
    it(`RMSNorm T=${T} C=${C}: dx, dw`, async () => {
      const ctx = await testContext();
      const x = randn(T * C, 10 + C, 2);
      const w = randn(C, 20 + C);
      const dy = randn(T * C, 30 + T);
      const want = rmsNormBackward(dy, x, T, C, w, 1e-5);
      const dx = ctx.storage(T * C * 4);
      const dw = ctx.storage(C * 4);
      const [dyb, xb, wb] = [ctx.storage(dy), ctx.storage(x), ctx.storage(w)];
      await runPass(ctx, (pass) => {
        encodeRmsNormBackward(ctx, pass, { dy: dyb, x: xb, w: wb, out: dx, T, C, eps: 1e-5, which: 'dx' });
        encodeRmsNormBackward(ctx, pass, { dy: dyb, x: xb, w: wb, out: dw, T, C, eps: 1e-5, which: 'dw' });
      });
      expectAllClose(await ctx.readF32(dx, T * C), want.dx, tol, 'dx');
      expectAllClose(await ctx.readF32(dw, C), want.dw, tol, 'dw');
    });
  }
});
