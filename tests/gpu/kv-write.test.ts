// shaders/kv-write.wgsl: the cache rows pos0 .. pos0+T-1 become k and v exactly, every other row is
// unchanged; also k/v read as column slices of a fused QKV buffer. Expected values are plain copies
// built here, compared exactly (atol 0, rtol 0). Quantized path (K/V cache bits < 16): the cache rows equal
// core/ops/kv-quant.ts kvQuantizeInPlace of k and v (head dims 8, 40 (groups 32 + 8), 5; K and V bits apart).
import { describe, it } from 'vitest';
import { randn } from '../../src/core/tensor.ts';
import { encodeKvWrite } from '../../src/gpu/kernels/kv-write.ts';
import { kvQuantizeInPlace } from '../../src/core/ops/kv-quant.ts';
import { expectAllClose } from '../helpers/close.ts';
import { skipGpu } from '../helpers/gpu.ts';
import { runPass, testContext } from './harness.ts';

const exact = { atol: 0, rtol: 0 };

describe.skipIf(skipGpu)('kv-write kernel', () => {
  for (const [T, Hkv, D, pos0] of [
    [1, 1, 1, 0],
    [3, 2, 5, 4],
    [7, 1, 64, 0],
    [2, 3, 13, 17],
  ]) {
    it(`T=${T} Hkv=${Hkv} D=${D} pos0=${pos0}`, async () => {
      const ctx = await testContext();
      const row = Hkv * D;
      const maxCtx = pos0 + T + 2;
      const k = randn(T * row, 1 + T);
      const v = randn(T * row, 2 + T);
      const kc0 = randn(maxCtx * row, 3);
      const vc0 = randn(maxCtx * row, 4);
      const kc = ctx.storage(kc0);
      const vc = ctx.storage(vc0);
      await runPass(ctx, (pass) => encodeKvWrite(ctx, pass, { k: ctx.storage(k), v: ctx.storage(v), kCache: kc, vCache: vc, T, Hkv, D, pos0 }));
      const wk = Float32Array.from(kc0);
      wk.set(k, pos0 * row);
      const wv = Float32Array.from(vc0);
      wv.set(v, pos0 * row);
      expectAllClose(await ctx.readF32(kc, maxCtx * row), wk, exact, 'kCache');
      expectAllClose(await ctx.readF32(vc, maxCtx * row), wv, exact, 'vCache');
    });
  }

  it('k and v as column slices of one fused QKV buffer', async () => {
    const ctx = await testContext();
    const T = 3;
    const H = 4;
    const Hkv = 2;
    const D = 3;
    const ld = (H + 2 * Hkv) * D;
    const qkv = randn(T * ld, 9);
    const b = ctx.storage(qkv);
    const row = Hkv * D;
    const kc = ctx.storage(new Float32Array(6 * row));
    const vc = ctx.storage(new Float32Array(6 * row));
    await runPass(ctx, (pass) =>
      encodeKvWrite(ctx, pass, { k: b, v: b, kCache: kc, vCache: vc, T, Hkv, D, pos0: 2, kOffset: H * D, kStride: ld, vOffset: (H + Hkv) * D, vStride: ld }),
    );
    const wk = new Float32Array(6 * row);
    const wv = new Float32Array(6 * row);
    for (let t = 0; t < T; t++) {
      wk.set(qkv.subarray(t * ld + H * D, t * ld + (H + Hkv) * D), (2 + t) * row);
      wv.set(qkv.subarray(t * ld + (H + Hkv) * D, (t + 1) * ld), (2 + t) * row);
    }
    expectAllClose(await ctx.readF32(kc, 6 * row), wk, exact, 'kCache');
    expectAllClose(await ctx.readF32(vc, 6 * row), wv, exact, 'vCache');
  });

  for (const [T, Hkv, D, kBits, vBits] of [[3, 2, 8, 4, 2], [2, 1, 40, 8, 16], [5, 3, 5, 2, 3]]) {
    it(`kv-write quantized T=${T} Hkv=${Hkv} D=${D} K${kBits} V${vBits} = kvQuantizeInPlace`, async () => {
      const ctx = await testContext();
      const row = Hkv * D;
      const pos0 = 1;
      const k = randn(T * row, 11 + T);
      const v = randn(T * row, 12 + T);
      const kc = ctx.storage(new Float32Array((pos0 + T) * row));
      const vc = ctx.storage(new Float32Array((pos0 + T) * row));
      await runPass(ctx, (pass) => encodeKvWrite(ctx, pass, { k: ctx.storage(k), v: ctx.storage(v), kCache: kc, vCache: vc, T, Hkv, D, pos0, kBits, vBits }));
      const wk = new Float32Array((pos0 + T) * row);
      wk.set(kvQuantizeInPlace(k.slice(), T, Hkv, D, kBits), pos0 * row);
      const wv = new Float32Array((pos0 + T) * row);
      wv.set(kvQuantizeInPlace(v.slice(), T, Hkv, D, vBits), pos0 * row);
      // Same f32 operations in the same order; 1e-6 allows a last-ulp difference in the division.
      expectAllClose(await ctx.readF32(kc, (pos0 + T) * row), wk, { atol: 1e-6, rtol: 1e-6 }, 'kCache');
      expectAllClose(await ctx.readF32(vc, (pos0 + T) * row), wv, { atol: 1e-6, rtol: 1e-6 }, 'vCache');
    });
  }
});
