// Plain symmetric intN quantization (src/core/quant/plain.ts) on hand-computed rows: exact halves round
// away from zero, all-zero rows stay zero, per-group scales, the ternary 2-bit case, and the error bound
// |w - w~| <= scale / 2 on random rows.
import { describe, expect, it } from 'vitest';
import { dequantizePlain, fakeQuantizePlain, plainQmax, quantizePlain, roundHalfAwayFromZero } from '../../src/core/quant/plain.ts';
import { randn } from '../../src/core/tensor.ts';

describe('plain intN quantization', () => {
  it('qmax = 2^(b-1) - 1; bits outside 2..16 are refused', () => {
    expect([8, 6, 4, 3, 2].map(plainQmax)).toEqual([127, 31, 7, 3, 1]);
    expect(() => plainQmax(1)).toThrow(/bits/);
    expect(() => plainQmax(4.5)).toThrow(/bits/);
  });

  it('rounds exact halves away from zero', () => {
    expect([2.5, -2.5, 0.5, -0.5, 3.5, -3.5, 0.49999999999999994, 1.4999999, -1.5000001].map(roundHalfAwayFromZero)).toEqual([3, -3, 1, -1, 4, -4, 0, 1, -2]);
  });

  it('4 bits, scale exactly 1: codes by hand', () => {
    // max|row| = 7 = qmax, so scale = 1 and q = round(w).
    const row = [7, 2.5, -2.5, 0.5, -0.5, 3.5, -7, 0.49];
    const p = quantizePlain(row, 1, 8, 4);
    expect(Array.from(p.scales)).toEqual([1]);
    expect(Array.from(p.q)).toEqual([7, 3, -3, 1, -1, 4, -7, 0]);
    expect(Array.from(dequantizePlain(p))).toEqual([7, 3, -3, 1, -1, 4, -7, 0]);
  });

  it('8 bits (qmax 127) and 2 bits (ternary) by hand', () => {
    expect(Array.from(quantizePlain([127, 63.5, -63.5, 0.5], 1, 4, 8).q)).toEqual([127, 64, -64, 1]);
    // 2 bits: qmax 1, scale = max|w| = 1; 0.25 -> 0, -0.5 -> -1 (half away from zero), 0.75 -> 1.
    expect(Array.from(fakeQuantizePlain([0.25, -0.5, 1, 0.75], 1, 4, 2))).toEqual([0, -1, 1, 1]);
    // Scale 2 (max 2): w / 2 = [0.5, -0.25, 1] -> [1, 0, 1] -> [2, 0, 2].
    expect(Array.from(fakeQuantizePlain([1, -0.5, 2], 1, 3, 2))).toEqual([2, 0, 2]);
  });

  it('one scale per row; an all-zero row gives scale 0 and zeros (no NaN)', () => {
    const w = [0, 0, 0, 0, /* row 1 */ 1, -2, 0.5, 4];
    const p = quantizePlain(w, 2, 4, 3); // qmax 3
    expect(p.scales[0]).toBe(0);
    expect(p.scales[1]).toBe(Math.fround(4 / 3));
    // row 1: the float32 scale 1.3333333730697632 is a hair above 4/3, so w / scale =
    // [0.74999998, -1.49999996, 0.37499999, 2.99999991] -> [1, -1, 0, 3] (not an exact half).
    expect(Array.from(p.q)).toEqual([0, 0, 0, 0, 1, -1, 0, 3]);
    const d = dequantizePlain(p);
    expect(Array.from(d.subarray(0, 4))).toEqual([0, 0, 0, 0]);
    const s = Math.fround(4 / 3);
    expect(Array.from(d.subarray(4))).toEqual([1, -1, 0, 3].map((q) => Math.fround(q * s)));
  });

  it('per-group scales', () => {
    // groups of 2, 4 bits: [7, 3.5] scale 1 -> [7, 4]; [14, -1] scale 2 -> [7, -0.5 -> -1].
    const p = quantizePlain([7, 3.5, 14, -1], 1, 4, 4, 2);
    expect(Array.from(p.scales)).toEqual([1, 2]);
    expect(Array.from(p.q)).toEqual([7, 4, 7, -1]);
    expect(Array.from(dequantizePlain(p))).toEqual([7, 4, 14, -2]);
  });

  it('error bound |w - w~| <= scale / 2 and codes within [-qmax, qmax] on random rows', () => {
    const rows = 7;
    const cols = 33;
    const w = randn(rows * cols, 5, 0.1);
    for (const bits of [8, 6, 4, 3, 2]) {
      const p = quantizePlain(w, rows, cols, bits);
      const d = dequantizePlain(p);
      const qmax = 2 ** (bits - 1) - 1;
      for (let r = 0; r < rows; r++) {
        let amax = 0;
        for (let c = 0; c < cols; c++) amax = Math.max(amax, Math.abs(w[r * cols + c]));
        expect(p.scales[r]).toBeCloseTo(amax / qmax, 6);
        for (let c = 0; c < cols; c++) {
          const i = r * cols + c;
          expect(Math.abs(p.q[i])).toBeLessThanOrEqual(qmax);
          expect(Math.abs(w[i] - d[i])).toBeLessThanOrEqual(p.scales[r] / 2 + 1e-7);
        }
      }
    }
  });
});
