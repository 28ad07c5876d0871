// Parity of shaders/gelu.wgsl with src/core/ops/gelu.ts (float64 tanh): sizes 1, primes, beyond one
// workgroup; extreme inputs (+-10, +-1e4, +-1e20, where an unclamped tanh argument overflows); the
// bias added before GELU, into y and in place. Tolerance atol 1e-6, rtol 1e-6 (f32 exp-based tanh:
// absolute error ~1e-7 in tanh, times 0.5 |x|).
import { describe, it } from 'vitest';
import { gelu } from '../../src/core/ops/gelu.ts';
import { randn } from '../../src/core/tensor.ts';
import { encodeGelu } from '../../src/gpu/kernels/gelu.ts';
import { expectAllClose } from '../helpers/close.ts';
import { skipGpu } from '../helpers/gpu.ts';
import { runPass, testContext } from './harness.ts';

const tol = { atol: 1e-6, rtol: 1e-6 };

describe.skipIf(skipGpu)('gelu kernel', () => {
  for (const n of [1, 31, 1000]) {
    it(`n=${n} into y, then in place`, async () => {
      const ctx = await testContext();
      const x = randn(n, n, 3);
      const xb = ctx.storage(x);
      const y = ctx.storage(n * 4);
      await runPass(ctx, (pass) => encodeGelu(ctx, pass, { x: xb, y, n }));
      expectAllClose(await ctx.readF32(y, n), gelu(x), tol, 'y');
      await runPass(ctx, (pass) => encodeGelu(ctx, pass, { x: xb, n }));
      expectAllClose(await ctx.readF32(xb, n), gelu(x), tol, 'x in place');
    });
  }

  it('extreme inputs stay finite: gelu(x) = x for large x, 0 for large -x', async () => {
    const ctx = await testContext();
    const x = new Float32Array([-1e20, -1e4, -10, -3, 0, 3, 10, 1e4, 1e20]);
    const y = ctx.storage(x.length * 4);
    await runPass(ctx, (pass) => encodeGelu(ctx, pass, { x: ctx.storage(x), y, n: x.length }));
    expectAllClose(await ctx.readF32(y, x.length), gelu(x), tol, 'y');
  });

  it('bias[C] added per column before GELU (T=3, C=37), into y and in place', async () => {
    const ctx = await testContext();
    const T = 3;
    const C = 37;
    const x = randn(T * C, 5, 2);
    const b = randn(C + 2, 6);
    const xb0 = new Float32Array(T * C);
    for (let i = 0; i < T * C; i++) xb0[i] = x[i] + b[2 + (i % C)];
    const want = gelu(xb0);
    const xb = ctx.storage(x);
    const bb = ctx.storage(b);
    const y = ctx.storage(T * C * 4);
    await runPass(ctx, (pass) => encodeGelu(ctx, pass, { x: xb, y, n: T * C, bias: bb, C, biasOffset: 2 }));
    expectAllClose(await ctx.readF32(y, T * C), want, tol, 'y');
    await runPass(ctx, (pass) => encodeGelu(ctx, pass, { x: xb, n: T * C, bias: bb, C, biasOffset: 2 }));
    expectAllClose(await ctx.readF32(xb, T * C), want, tol, 'x in place');
  });
});
