// quantize -> dequantize round trips on seeded random data, with bounds from each format's definition.
//
// Every format here decodes value i of a block as x^_i = a_i * k + b_i with an integer code k in a fixed
// range (Q4_K: a = d*sc, b = -dmin*m, k in 0..15; Q3_K: a = d*sc, b = 0, k in -4..3; ...). The test
// recovers a_i and b_i from the quantized bytes by setting every code field to two known codes and
// decoding (layout facts from the GGUF spec, written out below), then checks:
//   nearest level: |x - x^| <= min_k |x - (a k + b)| + slack, i.e. once the block's scales are fixed each
//     value got the nearest representable level. slack is float rounding for the K-quants (they requantize
//     with the stored f16 scales) and the f16 rounding of the scale (2^-11 relative) for the legacy
//     formats, whose codes are computed with the float32 scale before it is rounded to f16;
//   accuracy: relative RMS error on N(0, 1) and U(-1, 1) rows below ~1.2-1.4x the step/sqrt(12) noise of
//     the format (step = block range / levels: Q8_0 ~ 2.1/127 -> 0.005; Q4_0 ~ 4.2/15 -> 0.08; ...).
import { describe, expect, it } from 'vitest';
import { GGMLType, TYPE_INFO, dequantize, quantize } from '../../src/core/quant/index.ts';
import { mulberry32, randn } from '../../src/core/tensor.ts';

interface Codes {
  /** code range of k (inclusive) */
  lo: number;
  hi: number;
  /** write code k0 (then k1) into every code field of the block at p */
  fill: (b: Uint8Array, p: number, which: 0 | 1) => void;
  /** the two codes fill writes */
  k0: number;
  k1: number;
  /** legacy formats: codes computed with the f32 scale before its f16 rounding */
  f16Slack: boolean;
  /** relative RMS error allowed on N(0,1) rows */
  rms: number;
}

const set = (b: Uint8Array, p: number, from: number, to: number, v: number) => b.fill(v, p + from, p + to);

const CODES: Partial<Record<GGMLType, Codes>> = {
  // Q8_0: d | qs int8[32]; x^ = d*q
  [GGMLType.Q8_0]: { lo: -127, hi: 127, k0: 0, k1: 1, f16Slack: true, rms: 0.0065,
    fill: (b, p, w) => set(b, p, 2, 34, w) },
  // Q4_0: d | 16 nibble bytes; x^ = d*(q-8) -> k = q
  [GGMLType.Q4_0]: { lo: 0, hi: 15, k0: 0, k1: 1, f16Slack: true, rms: 0.11,
    fill: (b, p, w) => set(b, p, 2, 18, w ? 0x11 : 0) },
  // Q4_1: d | m | 16 nibble bytes; x^ = d*q + m
  [GGMLType.Q4_1]: { lo: 0, hi: 15, k0: 0, k1: 1, f16Slack: true, rms: 0.09,
    fill: (b, p, w) => set(b, p, 4, 20, w ? 0x11 : 0) },
  // Q5_0: d | qh[4] | 16 nibble bytes; x^ = d*(q-16)
  [GGMLType.Q5_0]: { lo: 0, hi: 31, k0: 0, k1: 1, f16Slack: true, rms: 0.055,
    fill: (b, p, w) => { set(b, p, 2, 6, 0); set(b, p, 6, 22, w ? 0x11 : 0); } },
  // Q5_1: d | m | qh[4] | 16 nibble bytes; x^ = d*q + m
  [GGMLType.Q5_1]: { lo: 0, hi: 31, k0: 0, k1: 1, f16Slack: true, rms: 0.045,
    fill: (b, p, w) => { set(b, p, 4, 8, 0); set(b, p, 8, 24, w ? 0x11 : 0); } },
  // Q2_K: scales[16] | qs[64] | d | dmin; 2-bit codes
  [GGMLType.Q2_K]: { lo: 0, hi: 3, k0: 0, k1: 1, f16Slack: false, rms: 0.40,
    fill: (b, p, w) => set(b, p, 16, 80, w ? 0x55 : 0) },
  // Q3_K: hmask[32] | qs[64] | scales[12] | d; k = low2 - (hbit ? 0 : 4): hbit set, low 0 / 1
  [GGMLType.Q3_K]: { lo: -4, hi: 3, k0: 0, k1: 1, f16Slack: false, rms: 0.22,
    fill: (b, p, w) => { set(b, p, 0, 32, 0xff); set(b, p, 32, 96, w ? 0x55 : 0); } },
  // Q4_K: d | dmin | scales[12] | qs[128]
  [GGMLType.Q4_K]: { lo: 0, hi: 15, k0: 0, k1: 1, f16Slack: false, rms: 0.10,
    fill: (b, p, w) => set(b, p, 16, 144, w ? 0x11 : 0) },
  // Q5_K: d | dmin | scales[12] | qh[32] | qs[128]
  [GGMLType.Q5_K]: { lo: 0, hi: 31, k0: 0, k1: 1, f16Slack: false, rms: 0.05,
    fill: (b, p, w) => { set(b, p, 16, 48, 0); set(b, p, 48, 176, w ? 0x11 : 0); } },
  // Q6_K: ql[128] | qh[64] | scales[16] | d; x^ = d*sc*(q-32)
  [GGMLType.Q6_K]: { lo: 0, hi: 63, k0: 0, k1: 1, f16Slack: false, rms: 0.025,
    fill: (b, p, w) => { set(b, p, 0, 128, w ? 0x11 : 0); set(b, p, 128, 192, 0); } },
  // TQ2_0: qs[64] | d; x^ = d*(q-1), the quantizer writes q in 0..2
  [GGMLType.TQ2_0]: { lo: 0, hi: 2, k0: 0, k1: 1, f16Slack: true, rms: 0.9,
    fill: (b, p, w) => set(b, p, 0, 64, w ? 0x55 : 0) },
  // TQ1_0: qs[48] | qh[4] | d; byte 0 = all digits 0, qs byte 128 / qh byte 127 = all digits 1
  [GGMLType.TQ1_0]: { lo: 0, hi: 2, k0: 0, k1: 1, f16Slack: true, rms: 0.9,
    fill: (b, p, w) => { set(b, p, 0, 48, w ? 128 : 0); set(b, p, 48, 52, w ? 127 : 0); } },
};

/** Half an f16 ulp at |v| (subnormal spacing 2^-24 below 2^-14): the most f16 rounding moves v. */
function halfUlpF16(v: number): number {
  const av = Math.abs(v);
  if (av < 2 ** -14) return 2 ** -25;
  return 2 ** (Math.floor(Math.log2(av)) - 11);
}

function affine(type: GGMLType, q: Uint8Array, n: number, c: Codes): { a: Float32Array; b: Float32Array } {
  const info = TYPE_INFO[type]!;
  const c0 = q.slice();
  const c1 = q.slice();
  for (let p = 0; p < q.length; p += info.typeSize) {
    c.fill(c0, p, 0);
    c.fill(c1, p, 1);
  }
  const y0 = dequantize(type, c0, n);
  const y1 = dequantize(type, c1, n);
  const a = new Float32Array(n);
  const b = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a[i] = (y1[i] - y0[i]) / (c.k1 - c.k0);
    b[i] = y0[i] - a[i] * c.k0;
  }
  return { a, b };
}

function rows(n: number): [string, Float32Array][] {
  const rnd = mulberry32(99);
  const uniform = Float32Array.from({ length: n }, () => 2 * rnd() - 1);
  const heavy = randn(n, 5).map((v, i) => (i % 97 === 0 ? v * 40 : v));
  const shifted = randn(n, 6).map((v) => v + 3);
  return [['normal', randn(n, 4)], ['uniform', uniform], ['outliers', heavy], ['shifted +3', shifted],
    ['tiny 1e-6', randn(n, 7, 1e-6)], ['zeros', new Float32Array(n)]];
}

describe('quantize -> dequantize round trip', () => {
  const n = 256 * 16;
  for (const [tStr, c] of Object.entries(CODES)) {
    const type = Number(tStr) as GGMLType;
    describe(GGMLType[type], () => {
      for (const [label, x] of rows(n)) {
        it(label, () => {
          const q = quantize(type, x);
          const y = dequantize(type, q, n);
          const { a, b } = affine(type, q, n, c);
          const maxK = Math.max(Math.abs(c.lo), Math.abs(c.hi));
          let worst = -Infinity;
          let worstI = -1;
          for (let i = 0; i < n; i++) {
            // nearest representable level of value i
            let kStar = a[i] !== 0 ? Math.round((x[i] - b[i]) / a[i]) : c.lo;
            kStar = Math.max(c.lo, Math.min(c.hi, kStar));
            const eStar = Math.abs(x[i] - (a[i] * kStar + b[i]));
            // codes chosen with the unrounded scale s pick a level whose midpoints move by |k| * |s - f16(s)|, so
            // the chosen level is at most 2 * (maxK * halfUlp(a) + halfUlp(b)) worse than the nearest one
            const slack = c.f16Slack
              ? 2 * (maxK * halfUlpF16(a[i]) + halfUlpF16(b[i]))
              : 1e-6 * (Math.abs(a[i]) * maxK + Math.abs(b[i])) + 1e-30;
            const excess = Math.abs(x[i] - y[i]) - (eStar + slack);
            if (excess > worst) {
              worst = excess;
              worstI = i;
            }
          }
          expect(worst, `value ${worstI}: x=${x[worstI]} x^=${y[worstI]} a=${a[worstI]} b=${b[worstI]}`).toBeLessThanOrEqual(0);
          let se = 0;
          let sx = 0;
          for (let i = 0; i < n; i++) {
            se += (x[i] - y[i]) ** 2;
            sx += x[i] ** 2;
          }
          if (label === 'zeros') expect(se).toBe(0);
          else if (label === 'normal' || label === 'uniform') {
            expect(Math.sqrt(se / sx), 'relative RMS error').toBeLessThan(c.rms);
          }
        });
      }
    });
  }

  it('F16 / BF16: relative error at most half an ulp (2^-11 / 2^-8)', () => {
    const x = Float32Array.from(randn(4096, 11), (v, i) => v * 10 ** ((i % 9) - 4));
    for (const [type, ulp] of [[GGMLType.F16, 2 ** -11], [GGMLType.BF16, 2 ** -8]] as const) {
      const y = dequantize(type, quantize(type, x), x.length);
      const bad = x.findIndex((v, i) => !(Math.abs(y[i] - v) <= ulp * Math.abs(v) + (type === GGMLType.F16 ? 2 ** -25 : 0)));
      expect(bad, GGMLType[type]).toBe(-1);
    }
  });

  it('IQ4_NL / IQ4_XS: each value is the nearest codebook level of its block scale', () => {
    const K = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];
    const x = randn(1024, 12);
    for (const type of [GGMLType.IQ4_NL, GGMLType.IQ4_XS]) {
      const q = quantize(type, x);
      const y = dequantize(type, q, x.length);
      // codes 0x88 everywhere decode to dl * K[8] = dl
      const info = TYPE_INFO[type]!;
      const probe = q.slice();
      for (let p = 0; p < q.length; p += info.typeSize) probe.fill(0x88, p + (type === GGMLType.IQ4_NL ? 2 : 8), p + info.typeSize);
      const dl = dequantize(type, probe, x.length);
      let se = 0;
      let sx = 0;
      for (let i = 0; i < x.length; i++) {
        const best = Math.min(...K.map((k) => Math.abs(x[i] - dl[i] * k)));
        // codes are chosen with the f32 scale, decoded with its f16 rounding (relative 2^-11): see above
        const slack = 2 * 127 * 2 ** -11 * Math.abs(dl[i]);
        if (!(Math.abs(x[i] - y[i]) <= best + slack)) expect.fail(`${GGMLType[type]} value ${i}: x=${x[i]} x^=${y[i]} dl=${dl[i]}`);
        se += (x[i] - y[i]) ** 2;
        sx += x[i] ** 2;
      }
      expect(Math.sqrt(se / sx)).toBeLessThan(0.12);
    }
  });
});
