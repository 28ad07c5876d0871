// Parity of shaders/attention.wgsl (causal GQA attention over a KV cache, online softmax in 64-key
// chunks) with src/core/ops/attention.ts (float64 softmax) on seeded random q and caches: T, H, D of
// 1 and primes, GQA groups, contexts across chunk boundaries (65, 131, 1000 keys), D > 64 and = 256,
// peaked scores, q/o strides. Cache rows past pos0 + T - 1 hold NaN, so reading beyond the causal
// limit fails the test. Tolerance atol 2e-6, rtol 2e-5: f32 dot products of D terms, exp, and sums
// over up to 1000 keys against float64.
import { describe, it } from 'vitest';
import { attention } from '../../src/core/ops/attention.ts';
import { randn } from '../../src/core/tensor.ts';
import { encodeAttention } from '../../src/gpu/kernels/attention.ts';
import { expectAllClose } from '../helpers/close.ts';
import { skipGpu } from '../helpers/gpu.ts';
import { runPass, testContext } from './harness.ts';

const tol = { atol: 2e-6, rtol: 2e-5 };

/** A cache [maxCtx, Hkv, D] with positions 0..filled-1 random and the rest NaN. */
function cache(maxCtx: number, filled: number, Hkv: number, D: number, seed: number): Float32Array {
  const c = new Float32Array(maxCtx * Hkv * D).fill(NaN);
  c.set(randn(filled * Hkv * D, seed));
  return c;
}

describe.skipIf(skipGpu)('attention kernel', () => {
  const cases: { T: number; H: number; Hkv: number; D: number; pos0: number; qScale?: number }[] = [
    { T: 1, H: 1, Hkv: 1, D: 1, pos0: 0 },
    { T: 1, H: 2, Hkv: 1, D: 8, pos0: 0 },
    { T: 3, H: 4, Hkv: 2, D: 8, pos0: 0 },
    { T: 5, H: 6, Hkv: 2, D: 16, pos0: 3 },
    { T: 2, H: 3, Hkv: 3, D: 5, pos0: 63 }, // keys 64 and 65: one and two chunks
    { T: 7, H: 2, Hkv: 1, D: 13, pos0: 124 }, // rows cross the 128-key boundary
    { T: 1, H: 4, Hkv: 1, D: 32, pos0: 999 }, // decode over 1000 keys
    { T: 3, H: 2, Hkv: 2, D: 130, pos0: 10 }, // D > 64, not a multiple of 64
    { T: 2, H: 1, Hkv: 1, D: 256, pos0: 5 },
    { T: 4, H: 4, Hkv: 4, D: 16, pos0: 70, qScale: 8 }, // peaked softmax (scores ~ +-30)
  ];
  for (const c of cases) for (const variant of ['single', 'split', 'simple'] as const) {
    const { T, H, Hkv, D, pos0 } = c;
    // split: 64-key ranges, so every multi-chunk case also runs through the split/combine merge
    it(`${variant} T=${T} H=${H} Hkv=${Hkv} D=${D} pos0=${pos0}${c.qScale ? ` q*${c.qScale}` : ''}`, async () => {
      const ctx = await testContext();
      const n = pos0 + T;
      const maxCtx = n + 3;
      const q = randn(T * H * D, 3 * T + D, c.qScale ?? 1);
      const kc = cache(maxCtx, n, Hkv, D, 100 + n);
      const vc = cache(maxCtx, n, Hkv, D, 200 + n);
      const o = ctx.storage(T * H * D * 4);
      const scale = 1 / Math.sqrt(D);
      await runPass(ctx, (pass) =>
        encodeAttention(ctx, pass, { q: ctx.storage(q), kCache: ctx.storage(kc), vCache: ctx.storage(vc), o, T, H, Hkv, D, pos0, scale, variant, splitLen: 64 }),
      );
      expectAllClose(await ctx.readF32(o, T * H * D), attention(q, kc, vc, T, H, Hkv, D, pos0, scale), tol, 'o');
    });
  }

  it('auto picks the split schedule for a decode step over 700 keys; two calls share one pass', async () => {
    const ctx = await testContext();
    const H = 3;
    const Hkv = 1;
    const D = 16;
    const pos0 = 699;
    const kc = cache(pos0 + 1, pos0 + 1, Hkv, D, 71);
    const vc = cache(pos0 + 1, pos0 + 1, Hkv, D, 72);
    const q1 = randn(H * D, 73);
    const q2 = randn(H * D, 74);
    const o1 = ctx.storage(H * D * 4);
    const o2 = ctx.storage(H * D * 4);
    const kb = ctx.storage(kc);
    const vb = ctx.storage(vc);
    await runPass(ctx, (pass) => {
      encodeAttention(ctx, pass, { q: ctx.storage(q1), kCache: kb, vCache: vb, o: o1, T: 1, H, Hkv, D, pos0, scale: 0.25 });
      encodeAttention(ctx, pass, { q: ctx.storage(q2), kCache: kb, vCache: vb, o: o2, T: 1, H, Hkv, D, pos0: pos0 - 300, scale: 0.25 });
    });
    expectAllClose(await ctx.readF32(o1, H * D), attention(q1, kc, vc, 1, H, Hkv, D, pos0, 0.25), tol, 'o1');
    expectAllClose(await ctx.readF32(o2, H * D), attention(q2, kc, vc, 1, H, Hkv, D, pos0 - 300, 0.25), tol, 'o2');
  });

  it('reads q from a fused QKV row and writes o into a wider buffer', async () => {
    const ctx = await testContext();
    const T = 3;
    const H = 4;
    const Hkv = 2;
    const D = 6;
    const pos0 = 2;
    const ldq = (H + 2 * Hkv) * D;
    const qkv = randn(T * ldq, 51);
    const q = new Float32Array(T * H * D);
    for (let t = 0; t < T; t++) q.set(qkv.subarray(t * ldq, t * ldq + H * D), t * H * D);
    const kc = cache(8, pos0 + T, Hkv, D, 52);
    const vc = cache(8, pos0 + T, Hkv, D, 53);
    const ldo = H * D + 5;
    const o0 = randn(T * ldo + 1, 54);
    const o = ctx.storage(o0);
    const scale = 0.3;
    await runPass(ctx, (pass) =>
      encodeAttention(ctx, pass, {
        q: ctx.storage(qkv), kCache: ctx.storage(kc), vCache: ctx.storage(vc), o, T, H, Hkv, D, pos0, scale,
        qStride: ldq, oOffset: 1, oStride: ldo,
      }),
    );
    const r = attention(q, kc, vc, T, H, Hkv, D, pos0, scale);
    const want = Float32Array.from(o0);
    for (let t = 0; t < T; t++) want.set(r.subarray(t * H * D, (t + 1) * H * D), 1 + t * ldo);
    expectAllClose(await ctx.readF32(o, T * ldo + 1), want, tol, 'o');
  });
});
