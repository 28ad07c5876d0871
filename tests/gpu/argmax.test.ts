// Parity of shaders/argmax.wgsl (both entries) with src/core/ops/argmax.ts, and of that reference with
// the Sampler's greedy argmax (core/eval/sampling.ts, an independent loop). Hand cases: ties (the lowest
// index wins, also when the tied values sit in different threads of the 256-thread reduction),
// all -Infinity (index 0), NaN anywhere in a row (0xffffffff), rows of 1, a prime width beyond one
// workgroup, strided rows at an offset. Exact integer results: no tolerance.
import { describe, expect, it } from 'vitest';
import { argmaxRows, ARGMAX_NAN } from '../../src/core/ops/argmax.ts';
import { argmax } from '../../src/core/eval/sampling.ts';
import { randn } from '../../src/core/tensor.ts';
import { encodeArgmax } from '../../src/gpu/kernels/argmax.ts';
import { skipGpu } from '../helpers/gpu.ts';
import { runPass, testContext } from './harness.ts';

async function gpuArgmax(x: Float32Array, R: number, N: number, simple: boolean, extra: { xOffset?: number; xStride?: number; outOffset?: number } = {}): Promise<Uint32Array> {
  const ctx = await testContext();
  const xb = ctx.storage(x);
  const out = ctx.storage((R + (extra.outOffset ?? 0)) * 4);
  await runPass(ctx, (pass) => encodeArgmax(ctx, pass, { x: xb, ids: out, R, N, simple, ...extra }));
  const r = new Uint32Array(await ctx.read(out, (R + (extra.outOffset ?? 0)) * 4)).slice(extra.outOffset ?? 0);
  xb.destroy();
  out.destroy();
  return r;
}

describe('argmax reference', () => {
  it('hand cases: ties -> lowest index, -inf row -> 0, NaN -> marker', () => {
    const x = Float32Array.from([1, 3, 3, 2, -Infinity, -Infinity, -Infinity, -Infinity, 0, NaN, 5, 1, 7, 7, 7, 7]);
    expect(Array.from(argmaxRows(x, 4, 4))).toEqual([1, 0, ARGMAX_NAN, 0]);
  });
  it('equals the Sampler greedy argmax on random rows', () => {
    const x = randn(7 * 513, 3, 2);
    const got = argmaxRows(x, 7, 513);
    for (let r = 0; r < 7; r++) expect(got[r]).toBe(argmax(x.subarray(r * 513, (r + 1) * 513)));
  });
});

describe.skipIf(skipGpu)('argmax kernel', () => {
  for (const simple of [false, true]) {
    const v = simple ? 'simple' : 'main';
    for (const [R, N] of [[1, 1], [1, 7], [3, 512], [5, 1031], [2, 256]]) {
      it(`${v}: R=${R} N=${N} random rows = reference`, async () => {
        const x = randn(R * N, R * 31 + N, 3);
        expect(Array.from(await gpuArgmax(x, R, N, simple))).toEqual(Array.from(argmaxRows(x, R, N)));
      });
    }
    it(`${v}: ties across threads go to the lowest index; -inf rows; NaN rows`, async () => {
      const N = 700;
      const R = 4;
      const x = new Float32Array(R * N).fill(-1);
      // row 0: the max 9 at 650, 3 (thread 3), 259 (thread 3, later) and 517 (thread 5): lowest is 3
      for (const i of [650, 3, 259, 517]) x[i] = 9;
      // row 1: all -inf -> 0
      x.fill(-Infinity, N, 2 * N);
      // row 2: NaN at the end, after the max -> marker
      x[2 * N + 5] = 4;
      x[2 * N + 699] = NaN;
      // row 3: max at the last index
      x[3 * N + 699] = 2;
      const want = [3, 0, ARGMAX_NAN, 699];
      expect(Array.from(argmaxRows(x, R, N))).toEqual(want);
      expect(Array.from(await gpuArgmax(x, R, N, simple))).toEqual(want);
    });
    it(`${v}: strided rows at an offset, written at an output offset`, async () => {
      const R = 3;
      const N = 37;
      const ld = 50;
      const off = 11;
      const x = randn(off + R * ld, 9, 1);
      const rows = new Float32Array(R * N);
      for (let r = 0; r < R; r++) rows.set(x.subarray(off + r * ld, off + r * ld + N), r * N);
      const got = await gpuArgmax(x, R, N, simple, { xOffset: off, xStride: ld, outOffset: 2 });
      expect(Array.from(got)).toEqual(Array.from(argmaxRows(rows, R, N)));
    });
  }
});
