// Parity of shaders/matmul.wgsl (all four entry points) with the CPU reference src/core/ops/matmul.ts
// on seeded random inputs: shapes with 1, primes and sizes that are not multiples of the 64x64 tile,
// bias, offsets/strides into fused buffers, and accumulation into y.
// Tolerance: |got - want| <= 1e-5 + 1e-5 |want| for K <= 130 (f32 sums of K products of N(0,1) values
// against a double-precision reference: rounding error ~ sqrt(K) * 6e-8 * |terms|).
import { describe, it } from 'vitest';
import { matmul } from '../../src/core/ops/matmul.ts';
import { randn } from '../../src/core/tensor.ts';
import { encodeMatmul } from '../../src/gpu/kernels/matmul.ts';
import { expectAllClose } from '../helpers/close.ts';
import { skipGpu } from '../helpers/gpu.ts';
import { runPass, testContext } from './harness.ts';

const tol = { atol: 1e-5, rtol: 1e-5 };

/** Reference with bias: matmul() then + bias[n]. */
function linear(x: Float32Array, M: number, K: number, w: Float32Array, N: number, bias?: Float32Array): Float32Array {
  const y = matmul(x, M, K, w, N);
  if (bias) for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) y[m * N + n] += bias[n];
  return y;
}

describe.skipIf(skipGpu)('matmul kernel', () => {
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [1, 7, 3],
    [3, 5, 7],
    [4, 67, 36],
    [5, 13, 29],
    [17, 1, 8],
    [65, 67, 33],
    [70, 130, 64],
    [2, 129, 128],
  ];
  for (const variant of ['tiled', 'gemv', 'auto', 'simple'] as const) {
    // gemv is meant for few rows (it loops over M in groups of 4); auto only needs to pick a path.
    const these = variant === 'tiled' ? shapes : shapes.filter(([M], i) => (variant === 'gemv' ? M <= 17 : variant === 'simple' ? i % 2 === 0 : i % 3 === 0));
    for (const [M, N, K] of these) {
      it(`${variant} M=${M} N=${N} K=${K} with bias`, async () => {
        const ctx = await testContext();
        const x = randn(M * K, 1 + M);
        const w = randn(N * K, 2 + N);
        const b = randn(N, 3 + K);
        const y = ctx.storage(M * N * 4);
        await runPass(ctx, (pass) =>
          encodeMatmul(ctx, pass, { x: ctx.storage(x), w: ctx.storage(w), bias: ctx.storage(b), y, M, N, K, variant }),
        );
        expectAllClose(await ctx.readF32(y, M * N), linear(x, M, K, w, N, b), tol, 'y');
      });
    }
  }

  for (const variant of ['tiled', 'gemv', 'simple'] as const) {
    for (const K of [12, 13]) {
      it(`${variant} slices a fused matrix, writes into a wider y, accumulates (K=${K})`, async () => {
        const ctx = await testContext();
        const M = 6;
        const N = 5;
        const rows = 3 * N; // fused W[3N, K]
        const ldy = 2 * N + 3;
        const yOffset = N + 1;
        const x = randn(M * K, 11);
        const w = randn(rows * K, 12);
        const b = randn(rows, 13);
        const y0 = randn(M * ldy, 14);
        const y = ctx.storage(y0);
        await runPass(ctx, (pass) =>
          encodeMatmul(ctx, pass, {
            x: ctx.storage(x),
            w: ctx.storage(w),
            bias: ctx.storage(b),
            y,
            M,
            N,
            K,
            wOffset: N * K, // rows N..2N-1
            biasOffset: N,
            yOffset,
            yStride: ldy,
            accumulate: true,
            variant,
          }),
        );
        const part = linear(x, M, K, w.subarray(N * K, 2 * N * K), N, b.subarray(N, 2 * N));
        const want = Float32Array.from(y0);
        for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) want[m * ldy + yOffset + n] += part[m * N + n];
        expectAllClose(await ctx.readF32(y, M * ldy), want, tol, 'y');
      });
    }

    it(`${variant} reads a column slice of x (xOffset, xStride) without bias`, async () => {
      const ctx = await testContext();
      const M = 9;
      const N = 11;
      const K = 8;
      const ldx = 20;
      const x = randn(M * ldx, 21);
      const w = randn(N * K, 22);
      const xs = new Float32Array(M * K);
      for (let m = 0; m < M; m++) for (let k = 0; k < K; k++) xs[m * K + k] = x[m * ldx + 4 + k];
      const y = ctx.storage(M * N * 4);
      await runPass(ctx, (pass) =>
        encodeMatmul(ctx, pass, { x: ctx.storage(x), w: ctx.storage(w), y, M, N, K, xOffset: 4, xStride: ldx, variant }),
      );
      expectAllClose(await ctx.readF32(y, M * N), matmul(xs, M, K, w, N), tol, 'y');
    });
  }
});
