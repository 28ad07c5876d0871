// encodeMatmulQ (shaders/matmul-q.wgsl) against "dequantize, then multiply in float64":
// the weights are dequantized on the CPU by src/core/quant/dequant.ts (bit-identical to ggml, tested in
// tests/unit against ggml's vectors) or taken from ggml's own vectors (refs/gguf-quant-vectors), and the
// reference product is summed in float64. Both entry points are checked: the tiled `matmul` and the
// barrier-free `simple` (software adapters), each against the same reference and tolerances.
//
// Tolerance: |got - want| <= atol + rtol |want| with rtol = 1e-5 and atol = 1e-5 * max over outputs of
// sum_k |x_mk w_nk| (an f32 sum of K terms in any order is within ~K * 6e-8 of that magnitude; a
// single mis-decoded quant moves an output by about 1/(K * mean|q|) of it, far above the bound).
import { beforeAll, describe, expect, it } from 'vitest';
import { ENGINE_TYPES, GGMLType, TYPE_INFO, rowBytes, typeName } from '../../src/core/quant/types.ts';
import { dequantizeRows } from '../../src/core/quant/dequant.ts';
import { canQuantize, quantize } from '../../src/core/quant/quantize.ts';
import type { GpuContext } from '../../src/gpu/context.ts';
import { type GpuWeight, uploadWeight } from '../../src/gpu/weights.ts';
import { encodeMatmulQ, type MatmulQArgs } from '../../src/gpu/kernels/matmul-q.ts';
import { expectAllClose } from '../helpers/close.ts';
import {
  ggmlVectors, ggufTensors, maxOf, plainBytes, randn, randomBlockBytes, refMatmul, runPass, tensorFromVectors, testContext,
} from './matmul-q-fixtures.ts';

const MS = [1, 3, 17];
/** Rows of x for the barrier-free `simple` entry (decode and a short prefill). */
const SIMPLE_MS = [1, 5];
const RTOL = 1e-5;
const ATOL_REL = 1e-5;

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await testContext();
});

/** Run encodeMatmulQ for each M on x = randn(M, K) and compare with the float64 reference over wDeq. */
async function checkMatmul(
  w: GpuWeight, wDeq: Float32Array, what: string, seed: number, Ms = MS,
  extra: Partial<MatmulQArgs> & { biasVals?: Float32Array; y0?: (M: number) => Float32Array; xScale?: number } = {},
): Promise<void> {
  const K = w.cols;
  const rowOffset = extra.rowOffset ?? 0;
  const N = extra.nRows ?? w.rows - rowOffset;
  const wSel = wDeq.subarray(rowOffset * K, (rowOffset + N) * K);
  const runs = Ms.map((M, i) => {
    const x = randn(M * K, seed + 17 * i, extra.xScale ?? 1);
    const y0 = extra.y0?.(M);
    return { M, x, y0, xBuf: ctx.storage(x), yBuf: y0 ? ctx.storage(y0) : ctx.storage(M * N * 4) };
  });
  const biasBuf = extra.biasVals ? ctx.storage(extra.biasVals) : undefined;
  const { rowOffset: ro, nRows, accumulate, biasOffset, xOffset, xStride, yOffset, yStride, simple } = extra;
  const args = { rowOffset: ro, nRows, accumulate, biasOffset, xOffset, xStride, yOffset, yStride, simple };
  await runPass(ctx, (pass) => {
    for (const r of runs) {
      encodeMatmulQ(ctx, pass, { ...args, x: r.xBuf, w, y: r.yBuf, M: r.M, bias: biasBuf });
    }
  });
  for (const r of runs) {
    const got = await ctx.readF32(r.yBuf, r.M * N);
    const bias = extra.biasVals?.subarray(extra.biasOffset ?? rowOffset);
    const { y, mag } = refMatmul(r.x, r.M, K, wSel, N, { bias, y0: r.y0 });
    expectAllClose(got, y, { atol: ATOL_REL * maxOf(mag), rtol: RTOL }, `${what}${simple ? ' (simple)' : ''} M=${r.M} N=${N} K=${K}`);
    r.xBuf.destroy();
    r.yBuf.destroy();
  }
  biasBuf?.destroy();
}

/** K for a type: two blocks of 256, three of 32, or an odd count for plain types. */
function testK(type: GGMLType): number {
  const bs = TYPE_INFO[type]!.blockSize;
  return bs === 256 ? 512 : bs === 32 ? 96 : 45;
}

describe('matmul-q: every engine type', () => {
  for (const type of ENGINE_TYPES) {
    const name = typeName(type);

    it(`${name}: random valid block bytes, M = 1, 3, 17, N = 13`, async () => {
      const N = 13;
      const K = testK(type);
      const bytes = randomBlockBytes(type, N, K, 1000 + type);
      const w = uploadWeight(ctx, { name: `rand.${name}`, type, shape: [N, K], data: bytes });
      expect(w.bytes).toBe(N * rowBytes(type, K));
      await checkMatmul(w, dequantizeRows(type, bytes, N, K), `random ${name}`, 1);
      w.buffer.destroy();
    });

    it(`${name}: normal weights quantized by quantize(), M = 1, 3, 17, N = 7`, async () => {
      const N = 7;
      const K = testK(type);
      const vals = randn(N * K, 2000 + type, 0.05);
      const bytes = canQuantize(type) ? quantize(type, vals) : plainBytes(type, vals);
      const w = uploadWeight(ctx, { name: `quant.${name}`, type, shape: [N, K], data: bytes });
      await checkMatmul(w, dequantizeRows(type, bytes, N, K), `quantized ${name}`, 2);
      w.buffer.destroy();
    });

    it(`${name}: barrier-free entry \`simple\`, M = 1, 5: random block bytes N = 13 and quantize() weights N = 7`, async () => {
      const K = testK(type);
      const bytesR = randomBlockBytes(type, 13, K, 1500 + type);
      const wR = uploadWeight(ctx, { name: `simple.rand.${name}`, type, shape: [13, K], data: bytesR });
      await checkMatmul(wR, dequantizeRows(type, bytesR, 13, K), `random ${name}`, 6, SIMPLE_MS, { simple: true });
      wR.buffer.destroy();
      const vals = randn(7 * K, 2500 + type, 0.05);
      const bytesQ = canQuantize(type) ? quantize(type, vals) : plainBytes(type, vals);
      const wQ = uploadWeight(ctx, { name: `simple.quant.${name}`, type, shape: [7, K], data: bytesQ });
      await checkMatmul(wQ, dequantizeRows(type, bytesQ, 7, K), `quantized ${name}`, 7, SIMPLE_MS, { simple: true });
      wQ.buffer.destroy();
    });

    if (type !== GGMLType.F32) {
      it(`${name}: ggml's dequantization vectors (values from the vector file), M = 1, 3`, async () => {
        const v = ggmlVectors(type);
        const N = 5;
        const blocksPerRow = v.blockSize === 1 ? 36 : 3;
        const t = tensorFromVectors(v, N, blocksPerRow);
        const w = uploadWeight(ctx, { name: `ggml.${name}`, type, shape: [N, t.cols], data: t.bytes });
        // BF16's vectors include +-3.4e38: x is scaled by 2^-100 so that no f32 product overflows.
        await checkMatmul(w, t.values, `ggml vectors ${name}`, 3, [1, 3], { xScale: type === GGMLType.BF16 ? 2 ** -100 : 1 });
        w.buffer.destroy();
      });
    }
  }
});

describe('matmul-q: row range, bias, accumulate, strides', () => {
  for (const type of [GGMLType.Q4_K, GGMLType.Q5_0, GGMLType.F16, GGMLType.Q6_K]) {
    for (const simple of [false, true]) {
      const Ms = simple ? SIMPLE_MS : MS;
      it(`${typeName(type)}${simple ? ' (simple)' : ''}: rows 5..16 of 21 with a fused bias, accumulate, M = ${Ms.join(', ')}`, async () => {
        const rows = 21;
        const K = type === GGMLType.F16 ? 172 : testK(type);
        const bytes = randomBlockBytes(type, rows, K, 3000 + type);
        const w = uploadWeight(ctx, { name: `slice.${typeName(type)}`, type, shape: [rows, K], data: bytes });
        const biasVals = randn(rows, 77);
        await checkMatmul(w, dequantizeRows(type, bytes, rows, K), `slice ${typeName(type)}`, 4, Ms, {
          rowOffset: 5, nRows: 11, accumulate: true, biasVals, y0: (M) => randn(M * 11, 99 + M), simple,
        });
        // explicit biasOffset 0 (a bias of its own length nRows)
        await checkMatmul(w, dequantizeRows(type, bytes, rows, K), `slice ${typeName(type)} biasOffset 0`, 5, [3], {
          rowOffset: 9, nRows: 12, biasOffset: 0, biasVals: randn(12, 78), simple,
        });
        w.buffer.destroy();
      });
    }
  }

  for (const simple of [false, true]) it(`Q8_0${simple ? ' (simple)' : ''}: x and y offsets/strides write the three parts of a fused QKV into one [M, 3C] buffer`, async () => {
    const C = 64;
    const M = 3;
    const type = GGMLType.Q8_0;
    const bytes = quantize(type, randn(3 * C * C, 4242, 0.1));
    const w = uploadWeight(ctx, { name: 'qkv', type, shape: [3 * C, C], data: bytes });
    const wDeq = dequantizeRows(type, bytes, 3 * C, C);
    // x lives at columns 8.. of a [M, C + 8] buffer
    const xs = randn(M * (C + 8), 5);
    const x = new Float32Array(M * C);
    for (let m = 0; m < M; m++) x.set(xs.subarray(m * (C + 8) + 8, m * (C + 8) + 8 + C), m * C);
    const xBuf = ctx.storage(xs);
    const yBuf = ctx.storage(M * 3 * C * 4);
    await runPass(ctx, (pass) => {
      for (let p = 0; p < 3; p++) {
        encodeMatmulQ(ctx, pass, {
          x: xBuf, w, y: yBuf, M, rowOffset: p * C, nRows: C, xOffset: 8, xStride: C + 8, yOffset: p * C, yStride: 3 * C, simple,
        });
      }
    });
    const got = await ctx.readF32(yBuf, M * 3 * C);
    const { y, mag } = refMatmul(x, M, C, wDeq, 3 * C);
    expectAllClose(got, y, { atol: ATOL_REL * maxOf(mag), rtol: RTOL }, `fused qkv${simple ? ' (simple)' : ''}`);
    w.buffer.destroy();
  });

  it('rejects a row range outside the weight', () => {
    const w = uploadWeight(ctx, { name: 'small', type: GGMLType.Q4_0, shape: [4, 32], data: randomBlockBytes(GGMLType.Q4_0, 4, 32, 1) });
    const enc = ctx.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    expect(() => encodeMatmulQ(ctx, pass, { x: ctx.placeholder(), w, y: ctx.placeholder(), M: 1, rowOffset: 2, nRows: 3 })).toThrow(/outside small/);
    pass.end();
    w.buffer.destroy();
  });
});

describe('matmul-q: real tensors of the quantized stories260K files', () => {
  const files: [string, GGMLType][] = [
    ['stories260K-Q8_0.gguf', GGMLType.Q8_0],
    ['stories260K-Q4_0.gguf', GGMLType.Q4_0],
    ['stories260K-Q4_1.gguf', GGMLType.Q4_1],
    ['stories260K-Q5_0.gguf', GGMLType.Q5_0],
    ['stories260K-Q5_1.gguf', GGMLType.Q5_1],
  ];
  for (const [file, type] of files) {
    it(`${file}: blk.2.attn_q, blk.2.ffn_up, blk.2.ffn_down (F16, K = 172), output (Q8_0), M = 1, 3, 17`, async () => {
      const tensors = ggufTensors(`stories260K-gguf/quantized/${file}`);
      const names = ['blk.2.attn_q.weight', 'blk.2.ffn_up.weight', 'blk.2.ffn_down.weight', 'output.weight'];
      const want = [type, type, GGMLType.F16, GGMLType.Q8_0];
      for (let i = 0; i < names.length; i++) {
        const t = tensors.get(names[i]);
        expect(t, names[i]).toBeDefined();
        expect(typeName(t!.type)).toBe(typeName(want[i]));
        const w = uploadWeight(ctx, t!);
        const deq = dequantizeRows(t!.type, t!.data, w.rows, w.cols);
        await checkMatmul(w, deq, `${file} ${names[i]}`, 10 + i);
        w.buffer.destroy();
      }
    });
  }

  it('stories260K.gguf (F32): blk.0.attn_q and blk.0.ffn_down, M = 1, 3, 17', async () => {
    const tensors = ggufTensors('stories260K-gguf/stories260K.gguf');
    for (const name of ['blk.0.attn_q.weight', 'blk.0.ffn_down.weight']) {
      const t = tensors.get(name)!;
      expect(t.type).toBe(GGMLType.F32);
      const w = uploadWeight(ctx, t);
      await checkMatmul(w, dequantizeRows(t.type, t.data, w.rows, w.cols), `F32 ${name}`, 20);
      w.buffer.destroy();
    }
  });
});

describe('uploadWeight', () => {
  it('keeps the packed bytes (no f32 expansion), padded to 4 bytes', async () => {
    const type = GGMLType.Q4_0;
    const bytes = randomBlockBytes(type, 3, 32, 5); // 54 bytes
    const w = uploadWeight(ctx, { name: 'odd', type, shape: [3, 32], data: bytes });
    expect(w.bytes).toBe(54);
    expect(w.buffer.size).toBe(56);
    const back = new Uint8Array(await ctx.read(w.buffer, 56));
    expect(Array.from(back.subarray(0, 54))).toEqual(Array.from(bytes));
    expect(Array.from(back.subarray(54))).toEqual([0, 0]);
    w.buffer.destroy();
  });

  it('throws a clear error past the device binding limit, naming the tensor and the sizes', () => {
    const fake = { device: { limits: { maxStorageBufferBindingSize: 1024, maxBufferSize: 1 << 30 } } } as unknown as GpuContext;
    const type = GGMLType.Q8_0;
    const data = new Uint8Array(rowBytes(type, 256) * 8); // 2176 bytes
    expect(() => uploadWeight(fake, { name: 'token_embd', type, shape: [8, 256], data })).toThrow(
      /token_embd \(Q8_0 \[8, 256\]\) is 2176 bytes.*maxStorageBufferBindingSize 1024/,
    );
  });

  it('rejects types the GPU cannot decode and short data', () => {
    expect(() => uploadWeight(ctx, { name: 'iq', type: GGMLType.IQ4_NL, shape: [1, 32], data: new Uint8Array(18) })).toThrow(/IQ4_NL is not supported/);
    expect(() => uploadWeight(ctx, { name: 'short', type: GGMLType.Q4_0, shape: [2, 32], data: new Uint8Array(18) })).toThrow(/needs 36 bytes/);
  });
});
