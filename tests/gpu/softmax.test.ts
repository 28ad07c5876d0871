// Parity of shaders/softmax.wgsl with src/core/ops/softmax.ts: rows of 1, primes and beyond one
// 256-thread workgroup (a 512-wide vocabulary, 1031), large logits (+-80, where exp without the max
// subtraction overflows), temperature scale, log-softmax, strided rows and in place.
// Tolerances: probabilities atol 1e-7, rtol 1e-5 (f32 exp and sums against float64);
// log-probabilities atol 2e-6, rtol 1e-6.
import { describe, it } from 'vitest';
import { softmax } from '../../src/core/ops/softmax.ts';
import { randn } from '../../src/core/tensor.ts';
import { encodeSoftmax } from '../../src/gpu/kernels/softmax.ts';
import { expectAllClose } from '../helpers/close.ts';
import { skipGpu } from '../helpers/gpu.ts';
import { runPass, testContext } from './harness.ts';

const pTol = { atol: 1e-7, rtol: 1e-5 };
const logTol = { atol: 2e-6, rtol: 1e-6 };

describe.skipIf(skipGpu)('softmax kernel', () => {
  for (const [R, N, amp] of [
    [1, 1, 1],
    [1, 7, 1],
    [3, 512, 4],
    [5, 1031, 2],
    [2, 97, 80],
  ]) {
    it(`R=${R} N=${N} |x|~${amp}: softmax and log-softmax`, async () => {
      const ctx = await testContext();
      const x = randn(R * N, R + N, amp);
      const xb = ctx.storage(x);
      const y = ctx.storage(R * N * 4);
      const ly = ctx.storage(R * N * 4);
      await runPass(ctx, (pass) => {
        encodeSoftmax(ctx, pass, { x: xb, y, R, N });
        encodeSoftmax(ctx, pass, { x: xb, y: ly, R, N, log: true });
      });
      expectAllClose(await ctx.readF32(y, R * N), softmax(x, R, N), pTol, 'p');
      expectAllClose(await ctx.readF32(ly, R * N), softmax(x, R, N, { log: true }), logTol, 'log p');
    });
  }

  it('temperature scale, strided rows at an offset, and in place', async () => {
    const ctx = await testContext();
    const R = 3;
    const N = 300;
    const ld = 310;
    const x = randn(2 + R * ld, 9, 3);
    const xs = new Float32Array(R * N);
    for (let r = 0; r < R; r++) xs.set(x.subarray(2 + r * ld, 2 + r * ld + N), r * N);
    const want = softmax(xs, R, N, { scale: 0.7 });
    const y = ctx.storage(R * N * 4);
    const xb = ctx.storage(x);
    await runPass(ctx, (pass) => encodeSoftmax(ctx, pass, { x: xb, y, R, N, scale: 0.7, xOffset: 2, xStride: ld }));
    expectAllClose(await ctx.readF32(y, R * N), want, pTol, 'y');
    await runPass(ctx, (pass) => encodeSoftmax(ctx, pass, { x: xb, R, N, scale: 0.7, xOffset: 2, xStride: ld }));
    const wantIn = Float32Array.from(x);
    for (let r = 0; r < R; r++) wantIn.set(want.subarray(r * N, (r + 1) * N), 2 + r * ld);
    expectAllClose(await ctx.readF32(xb, 2 + R * ld), wantIn, pTol, 'x in place');
  });
});
