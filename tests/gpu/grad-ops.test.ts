// Parity of the backward kernels of src/gpu/kernels/grad-ops.ts (shaders/grad-*.wgsl) with the float64
// CPU references in src/core/grad/ops (themselves checked against finite differences in
// tests/unit/grad-ops.test.ts), on seeded random f32 inputs: shapes include 1, primes and GQA ratios
// 1, 2, 3 and H = Hkv. Tolerances: atol/rtol 1e-5 for short f32 sums; the attention chain (scores ->
// softmax -> dS -> dq/dk) 2e-5; RoPE 2e-5 (the kernel uses f32 angles from the llama2.c table, the
// reference float64 angles, up to pos 18).
import { describe, it } from 'vitest';
import { randn } from '../../src/core/tensor.ts';
import { layerNormBackward } from '../../src/core/grad/ops/layer-norm.ts';
import { ropeBackward } from '../../src/core/grad/ops/rope.ts';
import { softmaxBackward, softmaxF64 } from '../../src/core/grad/ops/softmax.ts';
import { attentionBackward, attentionF64 } from '../../src/core/grad/ops/attention.ts';
import { geluBackward, siluGateBackward } from '../../src/core/grad/ops/activations.ts';
import { embeddingBackward } from '../../src/core/grad/ops/embedding.ts';
import { nextTokenCrossEntropy } from '../../src/core/grad/ops/cross-entropy.ts';
import {
  encodeAttentionApply, encodeAttentionBackward, encodeAttentionProbs, encodeCrossEntropyBackward, encodeEmbeddingBackward, encodeGeluBackward,
  encodeLayerNormBackward, encodeRopeBackward, encodeSiluGateBackward, encodeSoftmaxBackward,
} from '../../src/gpu/kernels/grad-ops.ts';
import { expectAllClose } from '../helpers/close.ts';
import { skipGpu } from '../helpers/gpu.ts';
import { runPass, testContext } from './harness.ts';

const tol = { atol: 1e-5, rtol: 1e-5 };

/** Seeded integers in [0, n). */
function ints(count: number, n: number, seed: number): Uint32Array {
  const r = randn(count, seed);
  return Uint32Array.from(r, (v, i) => Math.floor(Math.abs(v * 7919 + i * 31)) % n);
}

describe.skipIf(skipGpu)('backward kernels (grad-ops)', () => {
  for (const [T, C] of [[1, 1], [3, 5], [9, 64], [17, 71]]) {
    it(`LayerNorm T=${T} C=${C}: dx, dw, db`, async () => {
      const ctx = await testContext();
      const x = randn(T * C, 40 + C, 2);
      for (let i = 0; i < x.length; i++) x[i] += 0.5; // non-zero mean
      const w = randn(C, 50 + C);
      const dy = randn(T * C, 60 + T);
      const want = layerNormBackward(dy, x, T, C, w, 1e-5);
      const [dx, dw, db] = [ctx.storage(T * C * 4), ctx.storage(C * 4), ctx.storage(C * 4)];
      const [dyb, xb, wb] = [ctx.storage(dy), ctx.storage(x), ctx.storage(w)];
      await runPass(ctx, (pass) => {
        for (const [which, out] of [['dx', dx], ['dw', dw], ['db', db]] as const) {
          encodeLayerNormBackward(ctx, pass, { dy: dyb, x: xb, w: wb, out, T, C, eps: 1e-5, which });
        }
      });
      // C = 1: x - mu = 0 exactly, so dx = r (g - g) = 0 in both.
      expectAllClose(await ctx.readF32(dx, T * C), want.dx, tol, 'dx');
      expectAllClose(await ctx.readF32(dw, C), want.dw, tol, 'dw');
      expectAllClose(await ctx.readF32(db, C), want.db, tol, 'db');
    });
  }

  for (const [T, H, D, dim, kind, pos0] of [
    [1, 1, 2, 2, 'adjacent', 0], [5, 3, 8, 8, 'adjacent', 3], [7, 2, 10, 6, 'adjacent', 11],
    [1, 1, 2, 2, 'half', 5], [5, 3, 8, 8, 'half', 0], [7, 2, 10, 6, 'half', 11],
  ] as const) {
    it(`RoPE ${kind} T=${T} H=${H} D=${D} dim=${dim} pos0=${pos0}: dx = R^T dy`, async () => {
      const ctx = await testContext();
      const dy = randn(T * H * D, 70 + T + D);
      const want = ropeBackward(dy, T, H, D, pos0, 10000, dim, kind);
      const buf = ctx.storage(dy);
      await runPass(ctx, (pass) => encodeRopeBackward(ctx, pass, { x: buf, T, H, D, pos0, theta: 10000, dim, kind }));
      expectAllClose(await ctx.readF32(buf, T * H * D), want, { atol: 2e-5, rtol: 2e-5 }, 'dx');
    });
  }

  for (const [R, N] of [[1, 1], [3, 7], [13, 64]]) {
    it(`softmax R=${R} N=${N}`, async () => {
      const ctx = await testContext();
      const y = Float32Array.from(softmaxF64(randn(R * N, 80 + N, 2), R, N));
      const dy = randn(R * N, 90 + R);
      const want = softmaxBackward(dy, y, R, N);
      const out = ctx.storage(R * N * 4);
      await runPass(ctx, (pass) => encodeSoftmaxBackward(ctx, pass, { dy: ctx.storage(dy), y: ctx.storage(y), out, R, N }));
      expectAllClose(await ctx.readF32(out, R * N), want, tol, 'dx');
    });
  }

  for (const [T, H, Hkv, D] of [[1, 1, 1, 1], [5, 2, 2, 3], [7, 4, 2, 8], [11, 6, 2, 5], [13, 3, 1, 16]]) {
    it(`attention T=${T} H=${H} Hkv=${Hkv} D=${D}: probabilities, P V, dq, dk, dv`, async () => {
      const ctx = await testContext();
      const scale = 1 / Math.sqrt(D);
      const q = randn(T * H * D, 100 + T);
      const k = randn(T * Hkv * D, 110 + T);
      const v = randn(T * Hkv * D, 120 + T);
      const dO = randn(T * H * D, 130 + T);
      const ref = attentionF64(q, k, v, T, H, Hkv, D, scale);
      const want = attentionBackward(dO, q, k, v, ref.p, T, H, Hkv, D, scale);
      const p = ctx.storage(H * T * T * 4);
      const ds = ctx.storage(H * T * T * 4);
      const [dq, dk, dv] = [ctx.storage(T * H * D * 4), ctx.storage(T * Hkv * D * 4), ctx.storage(T * Hkv * D * 4)];
      const [qb, kb, vb, dOb] = [ctx.storage(q), ctx.storage(k), ctx.storage(v), ctx.storage(dO)];
      const shape = { T, H, Hkv, D, scale };
      const o = ctx.storage(T * H * D * 4);
      await runPass(ctx, (pass) => {
        encodeAttentionProbs(ctx, pass, { ...shape, q: qb, k: kb, p });
        encodeAttentionApply(ctx, pass, { ...shape, p, v: vb, out: o });
        encodeAttentionBackward(ctx, pass, { ...shape, dO: dOb, q: qb, k: kb, v: vb, p, ds, dq, dk, dv });
      });
      const t2 = { atol: 2e-5, rtol: 2e-5 };
      expectAllClose(await ctx.readF32(p, H * T * T), ref.p, tol, 'p');
      expectAllClose(await ctx.readF32(o, T * H * D), ref.o, t2, 'o = P V');
      expectAllClose(await ctx.readF32(dq, T * H * D), want.dq, t2, 'dq');
      expectAllClose(await ctx.readF32(dk, T * Hkv * D), want.dk, t2, 'dk');
      expectAllClose(await ctx.readF32(dv, T * Hkv * D), want.dv, t2, 'dv');
    });
  }

  for (const n of [1, 7, 131]) {
    it(`SwiGLU gate and GELU n=${n}`, async () => {
      const ctx = await testContext();
      const g = randn(n, 140 + n, 3);
      const u = randn(n, 150 + n);
      const dy = randn(n, 160 + n);
      if (n > 2) [g[0], g[1]] = [-30, 30]; // saturated sigmoid / tanh
      const want = siluGateBackward(dy, g, u);
      const wantGelu = geluBackward(dy, g);
      const [dg, du, dx] = [ctx.storage(n * 4), ctx.storage(n * 4), ctx.storage(n * 4)];
      const [dyb, gb] = [ctx.storage(dy), ctx.storage(g)];
      await runPass(ctx, (pass) => {
        encodeSiluGateBackward(ctx, pass, { dy: dyb, g: gb, u: ctx.storage(u), dg, du, n });
        encodeGeluBackward(ctx, pass, { dy: dyb, x: gb, out: dx, n });
      });
      expectAllClose(await ctx.readF32(dg, n), want.dg, tol, 'dg');
      expectAllClose(await ctx.readF32(du, n), want.du, tol, 'du');
      expectAllClose(await ctx.readF32(dx, n), wantGelu, tol, 'gelu dx');
    });
  }

  for (const [T, C, rows] of [[1, 1, 1], [7, 5, 3], [29, 16, 11]]) {
    it(`embedding T=${T} C=${C} rows=${rows}: scatter-add with repeated ids, accumulating`, async () => {
      const ctx = await testContext();
      const ids = ints(T, rows, 170 + T);
      const dy = randn(T * C, 180 + T);
      const init = randn(rows * C, 190 + rows);
      const want = Float64Array.from(init);
      embeddingBackward(dy, ids, C, want);
      const dTable = ctx.storage(init);
      await runPass(ctx, (pass) => encodeEmbeddingBackward(ctx, pass, { dy: ctx.storage(dy), ids: ctx.storage(ids), dTable, T, C, rows }));
      expectAllClose(await ctx.readF32(dTable, rows * C), want, tol, 'dTable');
    });
  }

  for (const [T, V, denom] of [[1, 3, undefined], [2, 1, undefined], [5, 7, undefined], [13, 67, 40]] as const) {
    it(`cross-entropy T=${T} V=${V} denom=${denom ?? 'T-1'}`, async () => {
      const ctx = await testContext();
      const logits = randn(T * V, 200 + V, 3);
      const ids = ints(T, V, 210 + T);
      const want = nextTokenCrossEntropy(logits, T, V, ids, denom);
      const [dl, loss] = [ctx.storage(T * V * 4), ctx.storage(T * 4)];
      await runPass(ctx, (pass) => encodeCrossEntropyBackward(ctx, pass, { logits: ctx.storage(logits), ids: ctx.storage(ids), dlogits: dl, loss, T, V, denom }));
      expectAllClose(await ctx.readF32(dl, T * V), want.dlogits, tol, 'dlogits');
      const rows = await ctx.readF32(loss, T);
      expectAllClose([rows.reduce((s, x) => s + x, 0)], [want.loss], tol, 'loss');
    });
  }
});
