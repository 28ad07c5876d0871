// Parity of shaders/rms-norm.wgsl with src/core/ops/rms-norm.ts on seeded random rows: row counts 1
// and primes, widths 1, primes and above the 256-thread workgroup, a row offset/stride, and in place.
// Tolerance atol 1e-6, rtol 4e-6: f32 sum of squares (tree order) and one f32 1/sqrt against float64.
import { describe, it } from 'vitest';
import { rmsNorm } from '../../src/core/ops/rms-norm.ts';
import { randn } from '../../src/core/tensor.ts';
import { encodeRmsNorm } from '../../src/gpu/kernels/rms-norm.ts';
import { expectAllClose } from '../helpers/close.ts';
import { skipGpu } from '../helpers/gpu.ts';
import { runPass, testContext } from './harness.ts';

const tol = { atol: 1e-6, rtol: 4e-6 };

describe.skipIf(skipGpu)('rms-norm kernel', () => {
  const shapes: [number, number][] = [
    [1, 1],
    [1, 64],
    [3, 5],
    [7, 257],
    [2, 1031],
    [13, 96],
  ];
  for (const [T, C] of shapes) for (const simple of [false, true]) {
    it(`T=${T} C=${C}${simple ? ' (simple, barrier-free variant)' : ''}`, async () => {
      const ctx = await testContext();
      const x = randn(T * C, 100 + C, 3);
      const w = randn(C, 200 + C);
      const y = ctx.storage(T * C * 4);
      await runPass(ctx, (pass) => encodeRmsNorm(ctx, pass, { x: ctx.storage(x), w: ctx.storage(w), y, T, C, eps: 1e-5, simple }));
      expectAllClose(await ctx.readF32(y, T * C), rmsNorm(x, T, C, w, 1e-5), tol, 'y');
    });
  }

  it('large eps dominates a tiny row (eps enters inside the sqrt)', async () => {
    const ctx = await testContext();
    const C = 10;
    const x = randn(C, 5, 1e-3);
    const w = new Float32Array(C).fill(1);
    const y = ctx.storage(C * 4);
    await runPass(ctx, (pass) => encodeRmsNorm(ctx, pass, { x: ctx.storage(x), w: ctx.storage(w), y, T: 1, C, eps: 0.01 }));
    expectAllClose(await ctx.readF32(y, C), rmsNorm(x, 1, C, w, 0.01), tol, 'y');
  });

  it('reads strided rows at an offset and writes into a wider output', async () => {
    const ctx = await testContext();
    const T = 4;
    const C = 9;
    const ldx = 13;
    const ldy = 11;
    const x = randn(3 + T * ldx, 7, 2);
    const w = randn(C, 8);
    const xs = new Float32Array(T * C);
    for (let t = 0; t < T; t++) for (let c = 0; c < C; c++) xs[t * C + c] = x[3 + t * ldx + c];
    const y0 = randn(T * ldy + 2, 9);
    const y = ctx.storage(y0);
    await runPass(ctx, (pass) =>
      encodeRmsNorm(ctx, pass, { x: ctx.storage(x), w: ctx.storage(w), y, T, C, eps: 1e-6, xOffset: 3, xStride: ldx, yOffset: 2, yStride: ldy }),
    );
    const want = Float32Array.from(y0);
    const r = rmsNorm(xs, T, C, w, 1e-6);
    for (let t = 0; t < T; t++) for (let c = 0; c < C; c++) want[2 + t * ldy + c] = r[t * C + c];
    expectAllClose(await ctx.readF32(y, T * ldy + 2), want, tol, 'y');
  });

  it('in place (no y), 300 channels', async () => {
    const ctx = await testContext();
    const T = 5;
    const C = 300;
    const x = randn(T * C, 31, 0.5);
    const w = randn(C, 32);
    const xb = ctx.storage(x);
    await runPass(ctx, (pass) => encodeRmsNorm(ctx, pass, { x: xb, w: ctx.storage(w), T, C, eps: 1e-5 }));
    expectAllClose(await ctx.readF32(xb, T * C), rmsNorm(x, T, C, w, 1e-5), tol, 'x');
  });
});
