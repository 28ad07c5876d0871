// encodeGetRowsQ (shaders/matmul-q.wgsl, entry get_rows) against the CPU dequantization of the same rows
// (src/core/quant/dequant.ts, bit-identical to ggml) and against ggml's own dequantization vectors
// (refs/gguf-quant-vectors, independent of this project's code).
//
// Tolerance: rtol = 1e-6 and atol = 1e-6 * max |value| of the table. The kernel computes each value
// as ggml does (scale * integer, plus the min where the format has one), so formats without a min are
// exact; with a min, a GPU compiler may fuse d * q + m into one fma, which changes the last bit of
// results near cancellation (|d * q| ~ |m|), hence the atol relative to the table's magnitude.
import { beforeAll, describe, expect, it } from 'vitest';
import { ENGINE_TYPES, GGMLType, TYPE_INFO, typeName } from '../../src/core/quant/types.ts';
import { dequantizeRows } from '../../src/core/quant/dequant.ts';
import type { GpuContext } from '../../src/gpu/context.ts';
import { type GpuWeight, uploadWeight } from '../../src/gpu/weights.ts';
import { encodeGetRowsQ } from '../../src/gpu/kernels/get-rows-q.ts';
import { expectAllClose } from '../helpers/close.ts';
import { ggmlVectors, ggufTensors, maxOf, randomBlockBytes, runPass, tensorFromVectors, testContext } from './matmul-q-fixtures.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await testContext();
});

/** Gather `ids` from the table on the GPU and compare with rows of `values` (the dequantized table). */
async function checkGather(table: GpuWeight, values: Float32Array, ids: number[], what: string): Promise<void> {
  const cols = table.cols;
  const T = ids.length;
  const idsBuf = ctx.storage(Uint32Array.from(ids));
  const out = ctx.storage(T * cols * 4);
  await runPass(ctx, (pass) => encodeGetRowsQ(ctx, pass, { table, ids: idsBuf, out, T }));
  const got = await ctx.readF32(out, T * cols);
  const want = new Float32Array(T * cols);
  ids.forEach((id, t) => {
    if (id < table.rows) want.set(values.subarray(id * cols, (id + 1) * cols), t * cols);
  });
  expectAllClose(got, want, { atol: 1e-6 * maxOf(values), rtol: 1e-6 }, `${what} (ids ${ids.join(',')})`);
  idsBuf.destroy();
  out.destroy();
}

function testCols(type: GGMLType): number {
  const bs = TYPE_INFO[type]!.blockSize;
  return bs === 256 ? 512 : bs === 32 ? 96 : 45;
}

describe('get-rows-q: every engine type', () => {
  for (const type of ENGINE_TYPES) {
    const name = typeName(type);
    it(`${name}: random valid block bytes, T = 1 and T = 7 (repeats, first and last rows)`, async () => {
      const rows = 11;
      const cols = testCols(type);
      const bytes = randomBlockBytes(type, rows, cols, 5000 + type);
      const table = uploadWeight(ctx, { name: `emb.${name}`, type, shape: [rows, cols], data: bytes });
      const values = dequantizeRows(type, bytes, rows, cols);
      await checkGather(table, values, [4], `random ${name}`);
      await checkGather(table, values, [10, 0, 3, 3, 7, 1, 10], `random ${name}`);
      table.buffer.destroy();
    });

    if (type !== GGMLType.F32) {
      it(`${name}: ggml's dequantization vectors (values from the vector file)`, async () => {
        const v = ggmlVectors(type);
        const rows = 6;
        const t = tensorFromVectors(v, rows, v.blockSize === 1 ? 13 : 3);
        const table = uploadWeight(ctx, { name: `ggml.${name}`, type, shape: [rows, t.cols], data: t.bytes });
        // every row, reversed
        await checkGather(table, t.values, [5, 4, 3, 2, 1, 0], `ggml vectors ${name}`);
        table.buffer.destroy();
      });
    }
  }
});

describe('get-rows-q: token_embd of the quantized stories260K files', () => {
  const files: [string, GGMLType][] = [
    ['quantized/stories260K-Q8_0.gguf', GGMLType.Q8_0],
    ['quantized/stories260K-Q4_0.gguf', GGMLType.Q4_0],
    ['quantized/stories260K-Q4_1.gguf', GGMLType.Q4_1],
    ['quantized/stories260K-Q5_0.gguf', GGMLType.Q5_0],
    ['quantized/stories260K-Q5_1.gguf', GGMLType.Q5_1],
    ['stories260K.gguf', GGMLType.F32],
  ];
  for (const [file, type] of files) {
    it(`${file}: token_embd (${typeName(type)} [512, 64]) rows 0, 1, 2, 511, 300, 2, 77`, async () => {
      const t = ggufTensors(`stories260K-gguf/${file}`).get('token_embd.weight')!;
      expect(t.type).toBe(type);
      const table = uploadWeight(ctx, t);
      expect([table.rows, table.cols]).toEqual([512, 64]);
      await checkGather(table, dequantizeRows(t.type, t.data, 512, 64), [0, 1, 2, 511, 300, 2, 77], file);
      table.buffer.destroy();
    });
  }

  it('an id outside the table gives zeros, the others are unaffected', async () => {
    const type = GGMLType.Q4_K;
    const bytes = randomBlockBytes(type, 3, 256, 9);
    const table = uploadWeight(ctx, { name: 'tiny', type, shape: [3, 256], data: bytes });
    await checkGather(table, dequantizeRows(type, bytes, 3, 256), [2, 3, 1000, 0], 'out of range');
    table.buffer.destroy();
  });
});
