// Parity of the sum-of-squares reduction (shaders/grad-sumsq.wgsl) with the float64 reference
// src/core/grad/ops/sum-sq.ts on seeded random f32 vectors: lengths 1, primes, a multiple of the
// workgroup (256) and more than its square; an offset; two dispatches into one slot add up; other slots
// stay untouched. Also checked against a hand-computed case (1^2 + 2^2 + ... + 10^2 = 385).
// Tolerance rtol 2e-6: f32 partial sums of up to ~300 terms each, then an 8-level tree.
import { describe, expect, it } from 'vitest';
import { randn } from '../../src/core/tensor.ts';
import { sumSq } from '../../src/core/grad/ops/sum-sq.ts';
import { encodeSumSq } from '../../src/gpu/kernels/grad-sumsq.ts';
import { expectAllClose } from '../helpers/close.ts';
import { skipGpu } from '../helpers/gpu.ts';
import { runPass, testContext } from './harness.ts';

describe.skipIf(skipGpu)('sum of squares into slots', () => {
  it('hand-computed: 1..10 -> 385 in slot 2, other slots 0', async () => {
    const ctx = await testContext();
    const x = ctx.storage(Float32Array.from({ length: 10 }, (_, i) => i + 1));
    const out = ctx.storage(new Float32Array(4));
    await runPass(ctx, (pass) => encodeSumSq(ctx, pass, { x, n: 10, out, slot: 2 }));
    expect(Array.from(await ctx.readF32(out, 4))).toEqual([0, 0, 385, 0]);
    expect(sumSq(Float64Array.from({ length: 10 }, (_, i) => i + 1))).toBe(385);
  });

  it('random lengths 1, 7, 97, 256, 1031, 70001 (one slot each) match the float64 reference', async () => {
    const ctx = await testContext();
    const ns = [1, 7, 97, 256, 1031, 70001];
    const xs = ns.map((n, i) => randn(n, 100 + i, 0.3));
    const bufs = xs.map((x) => ctx.storage(x));
    const out = ctx.storage(new Float32Array(ns.length));
    await runPass(ctx, (pass) => ns.forEach((n, i) => encodeSumSq(ctx, pass, { x: bufs[i], n, out, slot: i })));
    expectAllClose(await ctx.readF32(out, ns.length), xs.map((x) => sumSq(x)), { atol: 0, rtol: 2e-6 }, 'sumsq');
  });

  it('an offset part plus another part into the same slot add up', async () => {
    const ctx = await testContext();
    const x = randn(1000, 7, 1);
    const xb = ctx.storage(x);
    const out = ctx.storage(new Float32Array(2));
    await runPass(ctx, (pass) => {
      encodeSumSq(ctx, pass, { x: xb, offset: 300, n: 511, out, slot: 1 });
      encodeSumSq(ctx, pass, { x: xb, n: 300, out, slot: 1 });
    });
    const got = await ctx.readF32(out, 2);
    expect(got[0]).toBe(0);
    expectAllClose([got[1]], [sumSq(x, 0, 811)], { atol: 0, rtol: 2e-6 }, 'two parts');
  });
});
