// Parity of shaders/layer-norm.wgsl with src/core/ops/layer-norm.ts (float64 statistics): rows 1 and
// primes, widths 1, primes and above the 256-thread workgroup, rows with a large common offset (+1000,
// where one-pass E[x^2] - E[x]^2 in f32 would lose every digit and even an f32 mean near 1000 carries
// 3e-5 of rounding: the kernel works with x - x[0]), without bias, strided, in place.
// Tolerance atol 2e-6, rtol 1e-5 throughout (f32 tree sums against float64 statistics).
import { describe, it } from 'vitest';
import { layerNorm } from '../../src/core/ops/layer-norm.ts';
import { randn } from '../../src/core/tensor.ts';
import { encodeLayerNorm } from '../../src/gpu/kernels/layer-norm.ts';
import { expectAllClose } from '../helpers/close.ts';
import { skipGpu } from '../helpers/gpu.ts';
import { runPass, testContext } from './harness.ts';

const tol = { atol: 2e-6, rtol: 1e-5 };

describe.skipIf(skipGpu)('layer-norm kernel', () => {
  for (const [T, C] of [
    [1, 1],
    [1, 128],
    [3, 7],
    [7, 257],
    [2, 1031],
  ]) for (const simple of [false, true]) {
    it(`T=${T} C=${C} with bias${simple ? ' (simple, barrier-free variant)' : ''}`, async () => {
      const ctx = await testContext();
      const x = randn(T * C, T + C, 2);
      const w = randn(C, 2 * C);
      const b = randn(C, 3 * C);
      const y = ctx.storage(T * C * 4);
      await runPass(ctx, (pass) => encodeLayerNorm(ctx, pass, { x: ctx.storage(x), w: ctx.storage(w), b: ctx.storage(b), y, T, C, eps: 1e-5, simple }));
      expectAllClose(await ctx.readF32(y, T * C), layerNorm(x, T, C, w, b, 1e-5), tol, 'y');
    });
  }

  it('rows offset by +1000 (two-pass variance), no bias', async () => {
    const ctx = await testContext();
    const T = 3;
    const C = 200;
    const x = randn(T * C, 77);
    for (let i = 0; i < x.length; i++) x[i] += 1000;
    const w = randn(C, 78);
    const y = ctx.storage(T * C * 4);
    await runPass(ctx, (pass) => encodeLayerNorm(ctx, pass, { x: ctx.storage(x), w: ctx.storage(w), y, T, C, eps: 1e-5 }));
    expectAllClose(await ctx.readF32(y, T * C), layerNorm(x, T, C, w, undefined, 1e-5), tol, 'y');
  });

  it('strided rows into a wider y, then in place', async () => {
    const ctx = await testContext();
    const T = 4;
    const C = 33;
    const ld = 40;
    const x = randn(1 + T * ld, 81, 3);
    const w = randn(C, 82);
    const b = randn(C, 83);
    const xs = new Float32Array(T * C);
    for (let t = 0; t < T; t++) xs.set(x.subarray(1 + t * ld, 1 + t * ld + C), t * C);
    const r = layerNorm(xs, T, C, w, b, 1e-5);
    const y = ctx.storage(T * ld * 4);
    const xb = ctx.storage(x);
    const wb = ctx.storage(w);
    const bb = ctx.storage(b);
    await runPass(ctx, (pass) => encodeLayerNorm(ctx, pass, { x: xb, w: wb, b: bb, y, T, C, eps: 1e-5, xOffset: 1, xStride: ld, yStride: ld }));
    const got = await ctx.readF32(y, T * ld);
    const gotRows = new Float32Array(T * C);
    for (let t = 0; t < T; t++) gotRows.set(got.subarray(t * ld, t * ld + C), t * C);
    expectAllClose(gotRows, r, tol, 'y');
    await runPass(ctx, (pass) => encodeLayerNorm(ctx, pass, { x: xb, w: wb, b: bb, T, C, eps: 1e-5, xOffset: 1, xStride: ld }));
    const want = Float32Array.from(x);
    for (let t = 0; t < T; t++) want.set(r.subarray(t * C, (t + 1) * C), 1 + t * ld);
    expectAllClose(await ctx.readF32(xb, 1 + T * ld), want, tol, 'x in place');
  });
});
