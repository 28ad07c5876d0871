// Parity of shaders/rope.wgsl with the RoPE references, both forms, on seeded random q/k: head counts
// 1 and primes, odd token counts, partial rotary dim, strided rows (fused QKV), q and k in one dispatch.
// Two checks per case:
//  - against a rotation by the f32 table (src/core/ops/rope-table.ts, applied here with its own loop):
//    atol 1e-6, rtol 1e-6 (one f32 a*c - b*s);
//  - against the float64-angle reference src/core/ops/rope.ts: the f32 angle pos * freq differs from
//    the exact one by up to ~pos * 2^-23 rad, so atol = 4 * pos_max * 2^-23 * max|x| (plus 1e-6).
import { describe, it } from 'vitest';
import { rope } from '../../src/core/ops/rope.ts';
import { ropeTable } from '../../src/core/ops/rope-table.ts';
import { randn } from '../../src/core/tensor.ts';
import { encodeRope } from '../../src/gpu/kernels/rope.ts';
import { expectAllClose } from '../helpers/close.ts';
import { skipGpu } from '../helpers/gpu.ts';
import { runPass, testContext } from './harness.ts';

type Kind = 'adjacent' | 'half';

/** Rotation of x [T, H, D] (row stride ld, offset off) by the f32 cos/sin table. */
function ropeByTable(x: Float32Array, T: number, H: number, D: number, pos0: number, theta: number, dim: number, kind: Kind, off = 0, ld = H * D): Float32Array {
  const y = Float32Array.from(x);
  const half = dim / 2;
  const tab = ropeTable(theta, dim, pos0, T);
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < H; h++) {
      const base = off + t * ld + h * D;
      for (let i = 0; i < half; i++) {
        const c = tab[(t * half + i) * 2];
        const s = tab[(t * half + i) * 2 + 1];
        const ia = base + (kind === 'adjacent' ? 2 * i : i);
        const ib = base + (kind === 'adjacent' ? 2 * i + 1 : i + half);
        const a = x[ia];
        const b = x[ib];
        y[ia] = a * c - b * s;
        y[ib] = a * s + b * c;
      }
    }
  }
  return y;
}

function f64Tol(posMax: number, x: Float32Array) {
  let m = 0;
  for (const v of x) m = Math.max(m, Math.abs(v));
  return { atol: 1e-6 + 4 * Math.max(posMax, 1) * 2 ** -23 * m, rtol: 1e-6 };
}

const tableTol = { atol: 1e-6, rtol: 1e-6 };

describe.skipIf(skipGpu)('rope kernel', () => {
  const cases: { T: number; H: number; D: number; dim: number; pos0: number; theta: number }[] = [
    { T: 1, H: 1, D: 2, dim: 2, pos0: 0, theta: 10000 },
    { T: 1, H: 1, D: 8, dim: 8, pos0: 1, theta: 10000 },
    { T: 5, H: 3, D: 16, dim: 16, pos0: 0, theta: 10000 },
    { T: 7, H: 2, D: 12, dim: 8, pos0: 13, theta: 500000 },
    { T: 3, H: 5, D: 64, dim: 64, pos0: 29, theta: 10000 },
    { T: 2, H: 1, D: 6, dim: 4, pos0: 4093, theta: 10000 }, // beyond the first table: it grows
  ];
  for (const kind of ['adjacent', 'half'] as const) {
    for (const c of cases) {
      it(`${kind} T=${c.T} H=${c.H} D=${c.D} dim=${c.dim} pos0=${c.pos0}`, async () => {
        const ctx = await testContext();
        const { T, H, D, dim, pos0, theta } = c;
        const x = randn(T * H * D, 7 + T * H + D);
        const xb = ctx.storage(x);
        await runPass(ctx, (pass) => encodeRope(ctx, pass, { x: xb, T, H, D, pos0, theta, dim, kind }));
        const got = await ctx.readF32(xb, T * H * D);
        expectAllClose(got, ropeByTable(x, T, H, D, pos0, theta, dim, kind), tableTol, 'x vs f32 table');
        const want = Float32Array.from(x);
        rope(want, T, H, D, pos0, theta, dim, kind);
        expectAllClose(got, want, f64Tol(pos0 + T - 1, x), 'x vs float64 reference');
      });
    }

    it(`${kind}: q and k (GQA) in one dispatch, k at an offset`, async () => {
      const ctx = await testContext();
      const T = 3;
      const H = 6;
      const Hkv = 2;
      const D = 10;
      const pos0 = 4;
      const q = randn(T * H * D, 41);
      const k = randn(5 + T * Hkv * D, 42);
      const qb = ctx.storage(q);
      const kb = ctx.storage(k);
      await runPass(ctx, (pass) => encodeRope(ctx, pass, { x: qb, T, H, D, pos0, theta: 10000, dim: D, kind, k: kb, Hkv, kOffset: 5 }));
      expectAllClose(await ctx.readF32(qb, T * H * D), ropeByTable(q, T, H, D, pos0, 10000, D, kind), tableTol, 'q');
      expectAllClose(await ctx.readF32(kb, 5 + T * Hkv * D), ropeByTable(k, T, Hkv, D, pos0, 10000, D, kind, 5), tableTol, 'k');
    });

    it(`${kind}: fused QKV rows, q and k heads through x with a row stride; v untouched`, async () => {
      const ctx = await testContext();
      const T = 4;
      const H = 3;
      const Hkv = 1;
      const D = 8;
      const ld = (H + 2 * Hkv) * D;
      const qkv = randn(T * ld, 43);
      const b = ctx.storage(qkv);
      await runPass(ctx, (pass) => encodeRope(ctx, pass, { x: b, T, H: H + Hkv, D, pos0: 2, theta: 10000, dim: D, kind, xStride: ld }));
      expectAllClose(await ctx.readF32(b, T * ld), ropeByTable(qkv, T, H + Hkv, D, 2, 10000, D, kind, 0, ld), tableTol, 'qkv');
    });
  }
});
