// shaders/copy.wgsl: strided 2-D copies are exact and touch nothing outside the destination block.
// Expected values are plain copies built here (atol 0).
import { describe, it } from 'vitest';
import { randn } from '../../src/core/tensor.ts';
import { encodeCopy } from '../../src/gpu/kernels/copy.ts';
import { expectAllClose } from '../helpers/close.ts';
import { skipGpu } from '../helpers/gpu.ts';
import { runPass, testContext } from './harness.ts';

describe.skipIf(skipGpu)('copy kernel', () => {
  for (const [R, C, sOff, lds, dOff, ldd] of [
    [1, 1, 0, 1, 0, 1],
    [1, 300, 5, 300, 2, 300],
    [5, 7, 3, 24, 1, 9], // v slice of a fused row into a wider destination
    [13, 32, 32, 96, 0, 32], // k slice of fused QKV rows [13, 96] -> contiguous [13, 32]
  ]) {
    it(`R=${R} C=${C} src ${sOff}+r*${lds} -> dst ${dOff}+r*${ldd}`, async () => {
      const ctx = await testContext();
      const src = randn(sOff + R * lds + C, R + C);
      const n = dOff + R * ldd + C;
      const d0 = randn(n, 2);
      const dst = ctx.storage(d0);
      await runPass(ctx, (pass) => encodeCopy(ctx, pass, { src: ctx.storage(src), dst, R, C, srcOffset: sOff, srcStride: lds, dstOffset: dOff, dstStride: ldd }));
      const want = Float32Array.from(d0);
      for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) want[dOff + r * ldd + c] = src[sOff + r * lds + c];
      expectAllClose(await ctx.readF32(dst, n), want, { atol: 0, rtol: 0 }, 'dst');
    });
  }
});
