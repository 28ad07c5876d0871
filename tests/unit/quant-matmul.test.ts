// matmulQ (dequantize W, then f32 matmul) against naive dot products on hand-built blocks whose values
// are decoded here by hand from the format definition, and against matmul() of the dequantized matrix.
import { describe, expect, it } from 'vitest';
import { expectAllClose } from '../helpers/close.ts';
import { matmulQ } from '../../src/core/ops/matmul-q.ts';
import { matmul } from '../../src/core/ops/matmul.ts';
import { GGMLType, dequantizeRows, quantize, rowBytes } from '../../src/core/quant/index.ts';
import { randn } from '../../src/core/tensor.ts';

function naive(x: number[][], w: number[][]): number[] {
  const y: number[] = [];
  for (const xr of x) for (const wr of w) y.push(xr.reduce((s, v, k) => s + v * wr[k], 0));
  return y;
}

describe('matmulQ: hand-built blocks', () => {
  it('Q8_0, 2 output rows of 32, d = 0.5 and -0.25', () => {
    // block: f16 d (0x3800 = 0.5, 0xb400 = -0.25) then 32 int8 q; value = d * q
    const data = new Uint8Array(68);
    data[0] = 0x00; data[1] = 0x38;
    data[34] = 0x00; data[35] = 0xb4;
    const w: number[][] = [[], []];
    for (let j = 0; j < 32; j++) {
      const q0 = j - 16; // -16..15
      const q1 = (j * 7) % 19 - 9; // -9..9
      data[2 + j] = q0 & 255;
      data[36 + j] = q1 & 255;
      w[0].push(0.5 * q0);
      w[1].push(-0.25 * q1);
    }
    const x = [Array.from({ length: 32 }, (_, k) => (k % 5) - 2), Array.from({ length: 32 }, (_, k) => 0.125 * k)];
    const got = matmulQ(Float32Array.from(x.flat()), 2, 32, { type: GGMLType.Q8_0, data, rows: 2, cols: 32 });
    expect(Array.from(got)).toEqual(naive(x, w)); // all products and sums exact in f32
  });

  it('Q4_0, 1 row of 64 (two blocks), d = 1 and 2', () => {
    // block: f16 d, 16 bytes; byte j = q[j] | q[j+16] << 4; value = d * (q - 8)
    const data = new Uint8Array(36);
    const w: number[] = [];
    const ds = [1, 2];
    for (let b = 0; b < 2; b++) {
      const p = 18 * b;
      data[p] = 0x00;
      data[p + 1] = b === 0 ? 0x3c : 0x40; // 1.0, 2.0
      const q = Array.from({ length: 32 }, (_, i) => (i * 5 + b) % 16);
      for (let j = 0; j < 16; j++) data[p + 2 + j] = q[j] | (q[j + 16] << 4);
      for (let i = 0; i < 32; i++) w.push(ds[b] * (q[i] - 8));
    }
    const x = [Array.from({ length: 64 }, (_, k) => ((k * 3) % 7) - 3)];
    const got = matmulQ(Float32Array.from(x.flat()), 1, 64, { type: GGMLType.Q4_0, data, rows: 1, cols: 64 });
    expect(Array.from(got)).toEqual(naive(x, [w]));
  });

  it('F16 weights (block size 1), 3x4 @ (2x4)^T', () => {
    const wv = [[1, -2, 0.5, 3], [0.25, 0, -1, 2]];
    const bits = [[0x3c00, 0xc000, 0x3800, 0x4200], [0x3400, 0x0000, 0xbc00, 0x4000]];
    const data = new Uint8Array(16);
    bits.flat().forEach((h, i) => { data[2 * i] = h & 255; data[2 * i + 1] = h >> 8; });
    const x = [[1, 2, 3, 4], [-1, 0, 1, 0], [0.5, 0.5, 0.5, 0.5]];
    const got = matmulQ(Float32Array.from(x.flat()), 3, 4, { type: GGMLType.F16, data, rows: 2, cols: 4 });
    expect(Array.from(got)).toEqual(naive(x, wv));
  });

  it('rejects a K mismatch and short data', () => {
    const data = new Uint8Array(34);
    expect(() => matmulQ(new Float32Array(64), 1, 64, { type: GGMLType.Q8_0, data, rows: 1, cols: 32 })).toThrow(/K = 64/);
    expect(() => matmulQ(new Float32Array(32), 1, 32, { type: GGMLType.Q8_0, data, rows: 2, cols: 32 })).toThrow(/68 bytes/);
  });
});

describe('matmulQ equals matmul(x, dequantizeRows(W))', () => {
  const cases: [GGMLType, number, number, number][] = [
    [GGMLType.Q8_0, 1, 7, 96], [GGMLType.Q4_1, 3, 5, 64], [GGMLType.Q5_0, 2, 3, 32], [GGMLType.Q5_1, 1, 1, 128],
    [GGMLType.Q2_K, 3, 5, 256], [GGMLType.Q3_K, 1, 7, 512], [GGMLType.Q4_K, 2, 3, 256], [GGMLType.Q5_K, 5, 2, 256],
    [GGMLType.Q6_K, 1, 11, 256], [GGMLType.BF16, 4, 3, 13],
  ];
  for (const [type, M, N, K] of cases) {
    it(`${GGMLType[type]} M=${M} N=${N} K=${K}`, () => {
      const wf = randn(N * K, 1000 + type, 0.05);
      const data = quantize(type, wf);
      expect(data.length).toBe(N * rowBytes(type, K));
      const x = randn(M * K, 7 + M);
      const got = matmulQ(x, M, K, { type, data, rows: N, cols: K });
      const want = matmul(x, M, K, dequantizeRows(type, data, N, K), N);
      expectAllClose(got, want, { atol: 0, rtol: 0 });
    });
  }
});
