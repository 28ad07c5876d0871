// Parity of shaders/add.wgsl with src/core/ops/add.ts: sizes 1, primes, beyond one workgroup and
// beyond 65535 workgroups in x (the dispatch splits over y), into y and in place, with offsets and a
// scale. f32 a + s*b is one or two roundings: atol 1e-7, rtol 2e-7 (exact for scale 1: atol 0).
import { describe, expect, it } from 'vitest';
import { add } from '../../src/core/ops/add.ts';
import { randn } from '../../src/core/tensor.ts';
import { encodeAdd } from '../../src/gpu/kernels/add.ts';
import { expectAllClose } from '../helpers/close.ts';
import { skipGpu } from '../helpers/gpu.ts';
import { runPass, testContext } from './harness.ts';

describe.skipIf(skipGpu)('add kernel', () => {
  for (const n of [1, 13, 257]) {
    it(`n=${n}: y = a + b exactly, then a += b in place`, async () => {
      const ctx = await testContext();
      const a = randn(n, 1);
      const b = randn(n, 2);
      const want = add(a, b);
      const ab = ctx.storage(a);
      const bb = ctx.storage(b);
      const y = ctx.storage(n * 4);
      await runPass(ctx, (pass) => encodeAdd(ctx, pass, { a: ab, b: bb, y, n }));
      expectAllClose(await ctx.readF32(y, n), want, { atol: 0, rtol: 0 }, 'y');
      await runPass(ctx, (pass) => encodeAdd(ctx, pass, { a: ab, b: bb, n }));
      expectAllClose(await ctx.readF32(ab, n), want, { atol: 0, rtol: 0 }, 'a');
    });
  }

  it('more than 65535 * 256 values: the dispatch splits over y', async () => {
    const ctx = await testContext();
    const n = 65535 * 256 + 300;
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = i % 4099;
    const b = new Float32Array(n).fill(0.5);
    const ab = ctx.storage(a);
    await runPass(ctx, (pass) => encodeAdd(ctx, pass, { a: ab, b: ctx.storage(b), n }));
    const got = await ctx.readF32(ab, n);
    let bad = 0;
    for (let i = 0; i < n; i++) if (got[i] !== (i % 4099) + 0.5) bad++;
    expect(bad).toBe(0);
  });

  it('scale and offsets: y[3..] = a[1..] + 0.5 * b[2..]; in place a[1..] -= b[2..]', async () => {
    const ctx = await testContext();
    const n = 20;
    const a = randn(n + 1, 3);
    const b = randn(n + 2, 4);
    const y0 = randn(n + 3, 5);
    const y = ctx.storage(y0);
    const ab = ctx.storage(a);
    await runPass(ctx, (pass) => {
      encodeAdd(ctx, pass, { a: ab, b: ctx.storage(b), y, n, scale: 0.5, aOffset: 1, bOffset: 2, yOffset: 3 });
    });
    const wy = Float32Array.from(y0);
    wy.set(add(a.subarray(1), b.subarray(2), 0.5), 3);
    expectAllClose(await ctx.readF32(y, n + 3), wy, { atol: 1e-7, rtol: 2e-7 }, 'y');
    await runPass(ctx, (pass) => encodeAdd(ctx, pass, { a: ab, b: ctx.storage(b), n, scale: -1, aOffset: 1, bOffset: 2 }));
    const wa = Float32Array.from(a);
    wa.set(add(a.subarray(1), b.subarray(2), -1), 1);
    expectAllClose(await ctx.readF32(ab, n + 1), wa, { atol: 1e-7, rtol: 2e-7 }, 'a');
  });
});
