// Parity of shaders/cosine.wgsl with src/core/ops/cosine.ts (float64 sums): rows 1 and primes, widths
// 1, primes and above one 256-thread workgroup, nearly parallel rows (cos ~ 1 - 1e-4: what Block
// Influence measures), opposite and zero rows, large activations (|x| ~ 1e4), strided rows and an
// output offset. Tolerance atol 3e-7, rtol 0 (cos is in [-1, 1]; f32 tree sums).
import { describe, it } from 'vitest';
import { cosineRows } from '../../src/core/ops/cosine.ts';
import { randn } from '../../src/core/tensor.ts';
import { encodeCosine } from '../../src/gpu/kernels/cosine.ts';
import { expectAllClose } from '../helpers/close.ts';
import { skipGpu } from '../helpers/gpu.ts';
import { runPass, testContext } from './harness.ts';

const tol = { atol: 3e-7, rtol: 0 };

async function run(a: Float32Array, b: Float32Array, T: number, C: number): Promise<Float32Array> {
  const ctx = await testContext();
  const out = ctx.storage(T * 4);
  await runPass(ctx, (pass) => encodeCosine(ctx, pass, { a: ctx.storage(a), b: ctx.storage(b), out, T, C }));
  return ctx.readF32(out, T);
}

describe.skipIf(skipGpu)('cosine kernel', () => {
  for (const [T, C] of [
    [1, 1],
    [3, 7],
    [5, 300],
    [2, 1031],
  ]) {
    it(`T=${T} C=${C}: random and nearly parallel rows`, async () => {
      const a = randn(T * C, T + C);
      const b = randn(T * C, T + C + 1);
      expectAllClose(await run(a, b, T, C), cosineRows(a, b, T, C), tol, 'random');
      const near = Float32Array.from(a, (v, i) => v + 0.01 * b[i]);
      expectAllClose(await run(a, near, T, C), cosineRows(a, near, T, C), tol, 'near');
    });
  }

  it('opposite rows -> -1, zero rows -> 1, scaled rows -> 1, large activations', async () => {
    const C = 64;
    const x = randn(C, 3);
    const big = randn(C, 4, 1e4);
    const a = new Float32Array([...x, ...x, ...new Float32Array(C), ...x, ...big]);
    const b = new Float32Array([...x.map((v) => -v), ...x.map((v) => 3 * v), ...x, ...new Float32Array(C), ...big.map((v, i) => v + x[i])]);
    const got = await run(a, b, 5, C);
    expectAllClose(got.subarray(0, 4), [-1, 1, 1, 1], tol, 'special rows');
    expectAllClose(got, cosineRows(a, b, 5, C), tol, 'vs reference');
  });

  it('strided rows of two layers of a [L, T, C] tap buffer into out[l * T + t]', async () => {
    const ctx = await testContext();
    const L = 3;
    const T = 4;
    const C = 9;
    const taps = randn(L * T * C, 11);
    const out = ctx.storage(L * T * 4);
    await runPass(ctx, (pass) => {
      for (let l = 0; l + 1 < L; l++) {
        encodeCosine(ctx, pass, { a: ctx.storage(taps), b: ctx.storage(taps), out, T, C, aOffset: l * T * C, bOffset: (l + 1) * T * C, outOffset: l * T });
      }
    });
    const got = await ctx.readF32(out, L * T);
    for (let l = 0; l + 1 < L; l++) {
      const want = cosineRows(taps.subarray(l * T * C), taps.subarray((l + 1) * T * C), T, C);
      expectAllClose(got.subarray(l * T, (l + 1) * T), want, tol, `layer ${l}`);
    }
  });
});
