// encodeGetRowsQ (shaders/matmul-q.wgsl, entry get_rows) against the CPU dequantization of the same rows
// (src/core/quant/dequant.ts, bit-identical to ggml) and against ggml's own dequantization vectors
// (refs/gguf-quant-vectors, independent of this project's code).
//
// Tolerance: the kernel computes each value as ggml does (f32 scale times an integer, the scale itself
// a product of f16 and small integers in ggml's order), so F32/F16/BF16 and the formats without a min
// (Q4_0, Q5_0, Q8_0, Q3_K, Q6_K) must be bit-exact: atol = rtol = 0. With a min (Q4_1, Q5_1, Q2_K,
// Q4_K, Q5_K), a GPU compiler may fuse d * q - m into one fma, which changes the last bit of results
// near cancellation (|d * q| ~ |m|): rtol = 1e-6 and atol = 1e-6 * max |value| of the table.
import { beforeAll, describe, expect, it } from 'vitest';
import { ENGINE_TYPES, GGMLType, TYPE_INFO, typeName } from '../../src/core/quant/types.ts';
import { dequantizeRows } from '../../src/core/quant/dequant.ts';
import type { GpuContext } from '../../src/gpu/context.ts';
import { type GpuWeight, uploadWeight } from '../../src/gpu/weights.ts';
import { encodeGetRowsQ } from '../../src/gpu/kernels/get-rows-q.ts';
import { expectAllClose } from '../helpers/close.ts';
import { ggmlVectors, ggufTensors, maxOf, randomBlockBytes, runPass, tensorFromVectors, testContext } from './matmul-q-fixtures.ts';

const HAS_MIN = [GGMLType.Q4_1, GGMLType.Q5_1, GGMLType.Q2_K, GGMLType.Q4_K, GGMLType.Q5_K];

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
  const tol = HAS_MIN.includes(table.type) ? { atol: 1e-6 * maxOf(values), rtol: 1e-6 } : { atol: 0, rtol: 0 };
  expectAllClose(got, want, tol, `${what} (ids ${ids.join(',')})`);
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

  it('F16 and BF16 special values, hand-decoded (inf, NaN, -0, subnormals)', async () => {
    const f16 = [0x7c00, 0xfc00, 0x7e00, 0x0001, 0x8000, 0x3c00, 0x7bff, 0xc000, 0x03ff, 0x8400];
    const f16Want = [Infinity, -Infinity, NaN, 2 ** -24, -0, 1, 65504, -2, 1023 * 2 ** -24, -(2 ** -14)];
    const bf16 = [0x7f80, 0xff80, 0x7fc0, 0x0001, 0x8000, 0x3f80, 0x7f7f, 0xc000, 0x007f, 0x0080];
    const bf16Want = [Infinity, -Infinity, NaN, 2 ** -133, -0, 1, 0x1fe * 2 ** 119, -2, 127 * 2 ** -133, 2 ** -126];
    for (const [type, bits, want] of [[GGMLType.F16, f16, f16Want], [GGMLType.BF16, bf16, bf16Want]] as const) {
      const data = new Uint8Array(new Uint16Array(bits).buffer);
      const table = uploadWeight(ctx, { name: `special.${typeName(type)}`, type, shape: [2, 5], data });
      const idsBuf = ctx.storage(Uint32Array.from([1, 0]));
      const out = ctx.storage(10 * 4);
      await runPass(ctx, (pass) => encodeGetRowsQ(ctx, pass, { table, ids: idsBuf, out, T: 2 }));
      const got = Array.from(await ctx.readF32(out, 10));
      const exp = [...want.slice(5), ...want.slice(0, 5)];
      // toEqual distinguishes -0 from +0 and matches NaN with NaN
      expect(got, typeName(type)).toEqual(exp);
      table.buffer.destroy();
    }
  });

  it('an id outside the table gives zeros, the others are unaffected', async () => {
    const type = GGMLType.Q4_K;
    const bytes = randomBlockBytes(type, 3, 256, 9);
    const table = uploadWeight(ctx, { name: 'tiny', type, shape: [3, 256], data: bytes });
    await checkGather(table, dequantizeRows(type, bytes, 3, 256), [2, 3, 1000, 0], 'out of range');
    table.buffer.destroy();
  });
});
