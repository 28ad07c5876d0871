// Parity of shaders/silu-gate.wgsl with src/core/ops/silu-gate.ts: sizes 1, primes and beyond one
// 256-thread workgroup, in place, into y, and as halves of one fused gate_up buffer; extreme gate
// values (+-100, where exp overflows without the clamp). Tolerance atol 1e-6, rtol 2e-6 (f32 exp and
// one division against float64).
import { describe, it } from 'vitest';
import { siluGate } from '../../src/core/ops/silu-gate.ts';
import { randn } from '../../src/core/tensor.ts';
import { encodeSiluGate } from '../../src/gpu/kernels/silu-gate.ts';
import { expectAllClose } from '../helpers/close.ts';
import { skipGpu } from '../helpers/gpu.ts';
import { runPass, testContext } from './harness.ts';

const tol = { atol: 1e-6, rtol: 2e-6 };

describe.skipIf(skipGpu)('silu-gate kernel', () => {
  for (const n of [1, 7, 257, 1000]) {
    it(`n=${n}, into y and in place`, async () => {
      const ctx = await testContext();
      const g = randn(n, n, 3);
      const u = randn(n, n + 1);
      const want = siluGate(g, u);
      const y = ctx.storage(n * 4);
      const gb = ctx.storage(g);
      const ub = ctx.storage(u);
      await runPass(ctx, (pass) => {
        encodeSiluGate(ctx, pass, { g: gb, u: ub, y, n });
      });
      expectAllClose(await ctx.readF32(y, n), want, tol, 'y');
      await runPass(ctx, (pass) => encodeSiluGate(ctx, pass, { g: gb, u: ub, n }));
      expectAllClose(await ctx.readF32(gb, n), want, tol, 'g (in place)');
    });
  }

  it('extreme gates: silu(-100) ~ 0, silu(100) = 100, no NaN', async () => {
    const ctx = await testContext();
    const g = new Float32Array([-100, -88.5, -30, 0, 30, 100, -1e30, 1e30]);
    const u = new Float32Array([1, 1, 1, 1, 1, 1, 1, 1e-30]);
    const y = ctx.storage(8 * 4);
    await runPass(ctx, (pass) => encodeSiluGate(ctx, pass, { g: ctx.storage(g), u: ctx.storage(u), y, n: 8 }));
    // references: x / (1 + e^-x) in float64; -1e30 -> -0, 1e30 * 1e-30 = 1.
    expectAllClose(await ctx.readF32(y, 8), [...siluGate(g.subarray(0, 6), u.subarray(0, 6)), 0, 1], { atol: 1e-6, rtol: 1e-6 }, 'y');
  });

  for (const inPlace of [false, true]) {
    it(`halves of one fused gate_up buffer [T, 2F] (${inPlace ? 'in place' : 'into y'})`, async () => {
      const ctx = await testContext();
      const T = 5;
      const F = 37;
      const gu = randn(T * 2 * F, 61, 2);
      const g = new Float32Array(T * F);
      const u = new Float32Array(T * F);
      for (let t = 0; t < T; t++) {
        g.set(gu.subarray(t * 2 * F, t * 2 * F + F), t * F);
        u.set(gu.subarray(t * 2 * F + F, (t + 1) * 2 * F), t * F);
      }
      const r = siluGate(g, u);
      const b = ctx.storage(gu);
      const common = { g: b, u: b, T, C: F, uOffset: F, gStride: 2 * F, uStride: 2 * F };
      if (inPlace) {
        await runPass(ctx, (pass) => encodeSiluGate(ctx, pass, common));
        const want = Float32Array.from(gu);
        for (let t = 0; t < T; t++) want.set(r.subarray(t * F, (t + 1) * F), t * 2 * F);
        expectAllClose(await ctx.readF32(b, T * 2 * F), want, tol, 'gu');
      } else {
        const y = ctx.storage(T * F * 4);
        await runPass(ctx, (pass) => encodeSiluGate(ctx, pass, { ...common, y }));
        expectAllClose(await ctx.readF32(y, T * F), r, tol, 'y');
      }
    });
  }
});
