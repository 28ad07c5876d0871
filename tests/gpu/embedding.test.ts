// Parity of shaders/embedding.wgsl with src/core/ops/embedding.ts: token rows gathered exactly, ids out
// of range give zeros, learned positions at pos0 added, scale, and the positions-only mode. A gather is a
// copy (atol 0); adding a position row is one f32 addition, also exact against the f32 reference.
import { describe, it } from 'vitest';
import { embedding } from '../../src/core/ops/embedding.ts';
import { randn } from '../../src/core/tensor.ts';
import { encodeEmbedding } from '../../src/gpu/kernels/embedding.ts';
import { expectAllClose } from '../helpers/close.ts';
import { skipGpu } from '../helpers/gpu.ts';
import { runPass, testContext } from './harness.ts';

const exact = { atol: 0, rtol: 0 };

describe.skipIf(skipGpu)('embedding kernel', () => {
  for (const [rows, C, ids] of [
    [1, 1, [0]],
    [11, 5, [3, 0, 10, 3, 7]],
    [37, 67, [36, 1, 2, 0, 5, 9, 30]],
    [8, 300, [7, 8, 4, 1000000]], // 8 and 1000000 are out of range -> zeros
  ] as [number, number, number[]][]) {
    it(`rows=${rows} C=${C} T=${ids.length}`, async () => {
      const ctx = await testContext();
      const T = ids.length;
      const table = randn(rows * C, rows + C);
      const out = ctx.storage(T * C * 4);
      await runPass(ctx, (pass) =>
        encodeEmbedding(ctx, pass, { table: ctx.storage(table), rows, ids: ctx.storage(Uint32Array.from(ids)), out, T, C }),
      );
      expectAllClose(await ctx.readF32(out, T * C), embedding(table, rows, C, ids), exact, 'out');
    });
  }

  it('learned positions from pos0, and a scaled token row', async () => {
    const ctx = await testContext();
    const rows = 13;
    const C = 7;
    const ids = [4, 12, 0];
    const pos0 = 5;
    const table = randn(rows * C, 1);
    const pos = randn(10 * C, 2);
    const out = ctx.storage(ids.length * C * 4);
    await runPass(ctx, (pass) =>
      encodeEmbedding(ctx, pass, { table: ctx.storage(table), rows, ids: ctx.storage(Uint32Array.from(ids)), out, T: 3, C, posTable: ctx.storage(pos), pos0, scale: 2 }),
    );
    expectAllClose(await ctx.readF32(out, 3 * C), embedding(table, rows, C, ids, pos, pos0, 2), exact, 'out');
  });

  it('positions only (table null) adds to what out holds', async () => {
    const ctx = await testContext();
    const C = 9;
    const T = 4;
    const x0 = randn(T * C, 3);
    const pos = randn(8 * C, 4);
    const out = ctx.storage(x0);
    await runPass(ctx, (pass) =>
      encodeEmbedding(ctx, pass, { table: null, ids: ctx.storage(new Uint32Array(T)), out, T, C, posTable: ctx.storage(pos), pos0: 2 }),
    );
    const want = new Float32Array(T * C);
    for (let i = 0; i < T * C; i++) want[i] = x0[i] + pos[2 * C + i];
    expectAllClose(await ctx.readF32(out, T * C), want, exact, 'out');
  });
});
