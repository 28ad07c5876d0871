// Dequantization of GGUF/ggml tensor types to float32, bit-identical to ggml's C dequantizers
// (ggml-quants.c `dequantize_row_*`, llama.cpp c392e50) and to gguf-py's `gguf.quants.dequantize`.
// Input: the raw bytes of `n` values (n a multiple of the block size), as stored in a GGUF file,
// from the start of `bytes` (any byte offset: everything is read with byte arithmetic).
// Output: n float32 values in the row-major order ggml uses.
//
// Float32 exactness: ggml computes each value in float32, e.g. Q4_K's `d1 * q - m1` with d1 = d*sc and
// m1 = dmin*m rounded to float32 first. JS numbers are float64; a product of two float32 values (or of
// a float32 and a small integer) is exact in float64, so rounding each intermediate with Math.fround and
// the final value by the Float32Array store reproduces ggml's float32 results bit for bit.
// Block layouts: /work/shared/refs/gguf-quant-vectors/README.md and ggml-common.h.

import { GGMLType, TYPE_INFO, typeName } from './types.ts';
import { f16Lut } from './half.ts';
import { IQ1S_GRID, IQ2S_GRID, IQ2XS_GRID, IQ2XXS_GRID, IQ3S_GRID, IQ3XXS_GRID, expandGrid, type GridSpec } from './iq-grids.ts';

const fr = Math.fround;

/** Fixed non-linear 4-bit codebook of IQ4_NL / IQ4_XS (ggml's kvalues_iq4nl). */
export const KVALUES_IQ4NL: readonly number[] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

/** Writes nb blocks decoded from src (starting at byte 0) into out[o ..]. */
type BlockDecoder = (src: Uint8Array, out: Float32Array, o: number, nb: number) => void;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function f32Decode(src: Uint8Array, out: Float32Array, o: number, nb: number): void {
  if (LITTLE_ENDIAN) {
    new Uint8Array(out.buffer, out.byteOffset + 4 * o, 4 * nb).set(src.subarray(0, 4 * nb));
    return;
  }
  const dv = new DataView(src.buffer, src.byteOffset, 4 * nb);
  for (let i = 0; i < nb; i++) out[o + i] = dv.getFloat32(4 * i, true);
}

function f16Decode(src: Uint8Array, out: Float32Array, o: number, nb: number): void {
  const H = f16Lut();
  for (let i = 0, p = 0; i < nb; i++, p += 2) out[o + i] = H[src[p] | (src[p + 1] << 8)];
}

function bf16Decode(src: Uint8Array, out: Float32Array, o: number, nb: number): void {
  const u = new Uint32Array(1);
  const f = new Float32Array(u.buffer);
  for (let i = 0, p = 0; i < nb; i++, p += 2) {
    u[0] = ((src[p] | (src[p + 1] << 8)) << 16) >>> 0;
    out[o + i] = f[0];
  }
}

function q8_0Decode(src: Uint8Array, out: Float32Array, o: number, nb: number): void {
  const H = f16Lut();
  for (let b = 0, p = 0; b < nb; b++, p += 34) {
    const d = H[src[p] | (src[p + 1] << 8)];
    for (let j = 0; j < 32; j++) out[o++] = ((src[p + 2 + j] << 24) >> 24) * d;
  }
}

function q4_0Decode(src: Uint8Array, out: Float32Array, o: number, nb: number): void {
  const H = f16Lut();
  for (let b = 0, p = 0; b < nb; b++, p += 18, o += 32) {
    const d = H[src[p] | (src[p + 1] << 8)];
    for (let j = 0; j < 16; j++) {
      const q = src[p + 2 + j];
      out[o + j] = ((q & 15) - 8) * d;
      out[o + j + 16] = ((q >> 4) - 8) * d;
    }
  }
}

function q4_1Decode(src: Uint8Array, out: Float32Array, o: number, nb: number): void {
  const H = f16Lut();
  for (let b = 0, p = 0; b < nb; b++, p += 20, o += 32) {
    const d = H[src[p] | (src[p + 1] << 8)];
    const m = H[src[p + 2] | (src[p + 3] << 8)];
    for (let j = 0; j < 16; j++) {
      const q = src[p + 4 + j];
      out[o + j] = fr((q & 15) * d) + m;
      out[o + j + 16] = fr((q >> 4) * d) + m;
    }
  }
}

function q5_0Decode(src: Uint8Array, out: Float32Array, o: number, nb: number): void {
  const H = f16Lut();
  for (let b = 0, p = 0; b < nb; b++, p += 22, o += 32) {
    const d = H[src[p] | (src[p + 1] << 8)];
    const qh = (src[p + 2] | (src[p + 3] << 8) | (src[p + 4] << 16) | (src[p + 5] << 24)) >>> 0;
    for (let j = 0; j < 16; j++) {
      const q = src[p + 6 + j];
      out[o + j] = (((q & 15) | (((qh >>> j) & 1) << 4)) - 16) * d;
      out[o + j + 16] = (((q >> 4) | (((qh >>> (j + 16)) & 1) << 4)) - 16) * d;
    }
  }
}

function q5_1Decode(src: Uint8Array, out: Float32Array, o: number, nb: number): void {
  const H = f16Lut();
  for (let b = 0, p = 0; b < nb; b++, p += 24, o += 32) {
    const d = H[src[p] | (src[p + 1] << 8)];
    const m = H[src[p + 2] | (src[p + 3] << 8)];
    const qh = (src[p + 4] | (src[p + 5] << 8) | (src[p + 6] << 16) | (src[p + 7] << 24)) >>> 0;
    for (let j = 0; j < 16; j++) {
      const q = src[p + 8 + j];
      out[o + j] = fr(((q & 15) | (((qh >>> j) & 1) << 4)) * d) + m;
      out[o + j + 16] = fr(((q >> 4) | (((qh >>> (j + 16)) & 1) << 4)) * d) + m;
    }
  }
}

// Q2_K: scales[16] | qs[64] | d f16 | dmin f16 (84 bytes)
function q2_KDecode(src: Uint8Array, out: Float32Array, o: number, nb: number): void {
  const H = f16Lut();
  for (let b = 0, p = 0; b < nb; b++, p += 84) {
    const d = H[src[p + 80] | (src[p + 81] << 8)];
    const dmin = H[src[p + 82] | (src[p + 83] << 8)];
    for (let h = 0; h < 2; h++) {
      const q = p + 16 + 32 * h;
      for (let s = 0; s < 4; s++) {
        const shift = 2 * s;
        for (let half = 0; half < 2; half++) {
          const sc = src[p + 8 * h + 2 * s + half];
          const dl = fr(d * (sc & 15));
          const ml = fr(dmin * (sc >> 4));
          const qq = q + 16 * half;
          for (let l = 0; l < 16; l++) out[o++] = fr(dl * ((src[qq + l] >> shift) & 3)) - ml;
        }
      }
    }
  }
}

// Q3_K: hmask[32] | qs[64] | scales[12] | d f16 (110 bytes)
function q3_KDecode(src: Uint8Array, out: Float32Array, o: number, nb: number): void {
  const H = f16Lut();
  const sc = new Int32Array(16);
  for (let b = 0, p = 0; b < nb; b++, p += 110) {
    const d = H[src[p + 108] | (src[p + 109] << 8)];
    const s0 = p + 96;
    for (let k = 0; k < 16; k++) {
      const low = k < 8 ? src[s0 + k] & 15 : src[s0 + k - 8] >> 4;
      const high = (src[s0 + 8 + (k & 3)] >> (2 * (k >> 2))) & 3;
      sc[k] = (low | (high << 4)) - 32;
    }
    for (let h = 0; h < 2; h++) {
      const q = p + 32 + 32 * h;
      for (let s = 0; s < 4; s++) {
        const shift = 2 * s;
        const mask = 1 << (4 * h + s);
        for (let half = 0; half < 2; half++) {
          const dl = fr(d * sc[8 * h + 2 * s + half]);
          const off = 16 * half;
          for (let l = 0; l < 16; l++) {
            const lo = (src[q + off + l] >> shift) & 3;
            out[o++] = dl * (lo - (src[p + off + l] & mask ? 0 : 4));
          }
        }
      }
    }
  }
}

/** Q4_K/Q5_K 6-bit scale and min of sub-block j from the 12 packed bytes at src[s..] (get_scale_min_k4). */
function scaleMinK4(src: Uint8Array, s: number, j: number, outSm: Int32Array): void {
  if (j < 4) {
    outSm[0] = src[s + j] & 63;
    outSm[1] = src[s + j + 4] & 63;
  } else {
    outSm[0] = (src[s + j + 4] & 15) | ((src[s + j - 4] >> 6) << 4);
    outSm[1] = (src[s + j + 4] >> 4) | ((src[s + j] >> 6) << 4);
  }
}

// Q4_K: d f16 | dmin f16 | scales[12] | qs[128] (144 bytes)
function q4_KDecode(src: Uint8Array, out: Float32Array, o: number, nb: number): void {
  const H = f16Lut();
  const sm = new Int32Array(2);
  for (let b = 0, p = 0; b < nb; b++, p += 144) {
    const d = H[src[p] | (src[p + 1] << 8)];
    const dmin = H[src[p + 2] | (src[p + 3] << 8)];
    for (let c = 0; c < 4; c++) {
      const q = p + 16 + 32 * c;
      scaleMinK4(src, p + 4, 2 * c, sm);
      const d1 = fr(d * sm[0]);
      const m1 = fr(dmin * sm[1]);
      scaleMinK4(src, p + 4, 2 * c + 1, sm);
      const d2 = fr(d * sm[0]);
      const m2 = fr(dmin * sm[1]);
      for (let l = 0; l < 32; l++) out[o++] = fr(d1 * (src[q + l] & 15)) - m1;
      for (let l = 0; l < 32; l++) out[o++] = fr(d2 * (src[q + l] >> 4)) - m2;
    }
  }
}

// Q5_K: d f16 | dmin f16 | scales[12] | qh[32] | qs[128] (176 bytes)
function q5_KDecode(src: Uint8Array, out: Float32Array, o: number, nb: number): void {
  const H = f16Lut();
  const sm = new Int32Array(2);
  for (let b = 0, p = 0; b < nb; b++, p += 176) {
    const d = H[src[p] | (src[p + 1] << 8)];
    const dmin = H[src[p + 2] | (src[p + 3] << 8)];
    const qh = p + 16;
    for (let c = 0; c < 4; c++) {
      const q = p + 48 + 32 * c;
      scaleMinK4(src, p + 4, 2 * c, sm);
      const d1 = fr(d * sm[0]);
      const m1 = fr(dmin * sm[1]);
      scaleMinK4(src, p + 4, 2 * c + 1, sm);
      const d2 = fr(d * sm[0]);
      const m2 = fr(dmin * sm[1]);
      const u1 = 1 << (2 * c);
      const u2 = 2 << (2 * c);
      for (let l = 0; l < 32; l++) out[o++] = fr(d1 * ((src[q + l] & 15) + (src[qh + l] & u1 ? 16 : 0))) - m1;
      for (let l = 0; l < 32; l++) out[o++] = fr(d2 * ((src[q + l] >> 4) + (src[qh + l] & u2 ? 16 : 0))) - m2;
    }
  }
}

// Q6_K: ql[128] | qh[64] | scales[16] int8 | d f16 (210 bytes)
function q6_KDecode(src: Uint8Array, out: Float32Array, o: number, nb: number): void {
  const H = f16Lut();
  for (let b = 0, p = 0; b < nb; b++, p += 210, o += 256) {
    const d = H[src[p + 208] | (src[p + 209] << 8)];
    for (let h = 0; h < 2; h++) {
      const ql = p + 64 * h;
      const qh = p + 128 + 32 * h;
      const sc = p + 192 + 8 * h;
      const y = o + 128 * h;
      for (let l = 0; l < 32; l++) {
        const is = l >> 4;
        const hb = src[qh + l];
        const q1 = ((src[ql + l] & 15) | ((hb & 3) << 4)) - 32;
        const q2 = ((src[ql + l + 32] & 15) | (((hb >> 2) & 3) << 4)) - 32;
        const q3 = ((src[ql + l] >> 4) | (((hb >> 4) & 3) << 4)) - 32;
        const q4 = ((src[ql + l + 32] >> 4) | (((hb >> 6) & 3) << 4)) - 32;
        out[y + l] = fr(d * ((src[sc + is] << 24) >> 24)) * q1;
        out[y + l + 32] = fr(d * ((src[sc + is + 2] << 24) >> 24)) * q2;
        out[y + l + 64] = fr(d * ((src[sc + is + 4] << 24) >> 24)) * q3;
        out[y + l + 96] = fr(d * ((src[sc + is + 6] << 24) >> 24)) * q4;
      }
    }
  }
}

// Q8_K: d f32 | qs[256] int8 | bsums[16] int16 (292 bytes)
function q8_KDecode(src: Uint8Array, out: Float32Array, o: number, nb: number): void {
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  for (let b = 0, p = 0; b < nb; b++, p += 292) {
    const d = dv.getFloat32(p, true);
    for (let j = 0; j < 256; j++) out[o++] = d * ((src[p + 4 + j] << 24) >> 24);
  }
}

// TQ1_0: qs[48] | qh[4] | d f16 (54 bytes); base-3 digits packed 5 per byte (4 in qh)
function tq1_0Decode(src: Uint8Array, out: Float32Array, o: number, nb: number): void {
  const H = f16Lut();
  const pow3 = [1, 3, 9, 27, 81, 243];
  for (let b = 0, p = 0; b < nb; b++, p += 54) {
    const d = H[src[p + 52] | (src[p + 53] << 8)];
    for (let n = 0; n < 5; n++) {
      for (let m = 0; m < 32; m++) out[o++] = (((((src[p + m] * pow3[n]) & 255) * 3) >> 8) - 1) * d;
    }
    for (let n = 0; n < 5; n++) {
      for (let m = 0; m < 16; m++) out[o++] = (((((src[p + 32 + m] * pow3[n]) & 255) * 3) >> 8) - 1) * d;
    }
    for (let n = 0; n < 4; n++) {
      for (let j = 0; j < 4; j++) out[o++] = (((((src[p + 48 + j] * pow3[n]) & 255) * 3) >> 8) - 1) * d;
    }
  }
}

// TQ2_0: qs[64] | d f16 (66 bytes)
function tq2_0Decode(src: Uint8Array, out: Float32Array, o: number, nb: number): void {
  const H = f16Lut();
  for (let b = 0, p = 0; b < nb; b++, p += 66) {
    const d = H[src[p + 64] | (src[p + 65] << 8)];
    for (let j = 0; j < 64; j += 32) {
      for (let l = 0; l < 4; l++) {
        for (let m = 0; m < 32; m++) out[o++] = (((src[p + j + m] >> (2 * l)) & 3) - 1) * d;
      }
    }
  }
}

// IQ4_NL: d f16 | qs[16] (18 bytes)
function iq4_nlDecode(src: Uint8Array, out: Float32Array, o: number, nb: number): void {
  const H = f16Lut();
  const K = KVALUES_IQ4NL;
  for (let b = 0, p = 0; b < nb; b++, p += 18, o += 32) {
    const d = H[src[p] | (src[p + 1] << 8)];
    for (let j = 0; j < 16; j++) {
      const q = src[p + 2 + j];
      out[o + j] = d * K[q & 15];
      out[o + j + 16] = d * K[q >> 4];
    }
  }
}

// IQ4_XS: d f16 | scales_h u16 | scales_l[4] | qs[128] (136 bytes)
function iq4_xsDecode(src: Uint8Array, out: Float32Array, o: number, nb: number): void {
  const H = f16Lut();
  const K = KVALUES_IQ4NL;
  for (let b = 0, p = 0; b < nb; b++, p += 136) {
    const d = H[src[p] | (src[p + 1] << 8)];
    const sh = src[p + 2] | (src[p + 3] << 8);
    for (let ib = 0; ib < 8; ib++, o += 32) {
      const ls = ((src[p + 4 + (ib >> 1)] >> (4 * (ib & 1))) & 15) | (((sh >> (2 * ib)) & 3) << 4);
      const dl = fr(d * (ls - 32));
      const q0 = p + 8 + 16 * ib;
      for (let j = 0; j < 16; j++) {
        const q = src[q0 + j];
        out[o + j] = dl * K[q & 15];
        out[o + j + 16] = dl * K[q >> 4];
      }
    }
  }
}


// ---------------------------------------------------------------------------------------------------
// i-quants with codebooks (dequantize_row_iq2_xxs ... iq1_m). Grids are expanded on first use.

const gridCache = new Map<GridSpec, Int16Array>();
function grid(g: GridSpec): Int16Array {
  let t = gridCache.get(g);
  if (!t) {
    t = expandGrid(g);
    gridCache.set(g, t);
  }
  return t;
}

let ksignsTable: Uint8Array | null = null;
/** ggml's ksigns_iq2xs: 7 stored sign bits plus an 8th that makes the count of set bits even. */
function ksigns(): Uint8Array {
  if (!ksignsTable) {
    const t = new Uint8Array(128);
    for (let i = 0; i < 128; i++) {
      let pop = 0;
      for (let b = 0; b < 7; b++) pop += (i >> b) & 1;
      t[i] = i | (pop & 1 ? 0x80 : 0);
    }
    ksignsTable = t;
  }
  return ksignsTable;
}

function u16(src: Uint8Array, p: number): number {
  return src[p] | (src[p + 1] << 8);
}

function u32(src: Uint8Array, p: number): number {
  return (src[p] | (src[p + 1] << 8) | (src[p + 2] << 16) | (src[p + 3] << 24)) >>> 0;
}

// IQ2_XXS: d f16 | qs 32 x u16 (per 32 values: 4 grid bytes, then a u32 of 4 x 7-bit sign codes + 4-bit scale)
function iq2_xxsDecode(src: Uint8Array, out: Float32Array, o: number, nb: number): void {
  const H = f16Lut();
  const G = grid(IQ2XXS_GRID);
  const KS = ksigns();
  for (let b = 0, p = 0; b < nb; b++, p += 66) {
    const d = H[u16(src, p)];
    for (let ib = 0; ib < 8; ib++) {
      const q = p + 2 + 8 * ib;
      const aux1 = u32(src, q + 4);
      const db = fr(fr(d * (0.5 + (aux1 >>> 28))) * 0.25);
      for (let l = 0; l < 4; l++) {
        const g = 8 * src[q + l];
        const signs = KS[(aux1 >>> (7 * l)) & 127];
        for (let j = 0; j < 8; j++) out[o++] = signs & (1 << j) ? -fr(db * G[g + j]) : fr(db * G[g + j]);
      }
    }
  }
}

// IQ2_XS: d f16 | qs 32 x u16 (9-bit grid index, 7-bit sign code) | scales[8]
function iq2_xsDecode(src: Uint8Array, out: Float32Array, o: number, nb: number): void {
  const H = f16Lut();
  const G = grid(IQ2XS_GRID);
  const KS = ksigns();
  for (let b = 0, p = 0; b < nb; b++, p += 74) {
    const d = H[u16(src, p)];
    for (let ib = 0; ib < 8; ib++) {
      const sc = src[p + 66 + ib];
      const db0 = fr(fr(d * (0.5 + (sc & 15))) * 0.25);
      const db1 = fr(fr(d * (0.5 + (sc >> 4))) * 0.25);
      for (let l = 0; l < 4; l++) {
        const q = u16(src, p + 2 + 2 * (4 * ib + l));
        const g = 8 * (q & 511);
        const signs = KS[q >> 9];
        const db = l < 2 ? db0 : db1;
        for (let j = 0; j < 8; j++) out[o++] = signs & (1 << j) ? -fr(db * G[g + j]) : fr(db * G[g + j]);
      }
    }
  }
}

// IQ2_S: d f16 | qs[32] grid low bytes | signs[32] | qh[8] | scales[8]
function iq2_sDecode(src: Uint8Array, out: Float32Array, o: number, nb: number): void {
  const H = f16Lut();
  const G = grid(IQ2S_GRID);
  for (let b = 0, p = 0; b < nb; b++, p += 82) {
    const d = H[u16(src, p)];
    for (let ib = 0; ib < 8; ib++) {
      const sc = src[p + 74 + ib];
      const db0 = fr(fr(d * (0.5 + (sc & 15))) * 0.25);
      const db1 = fr(fr(d * (0.5 + (sc >> 4))) * 0.25);
      const qh = src[p + 66 + ib];
      for (let l = 0; l < 4; l++) {
        const g = 8 * (src[p + 2 + 4 * ib + l] | ((qh << (8 - 2 * l)) & 0x300));
        const signs = src[p + 34 + 4 * ib + l];
        const db = l < 2 ? db0 : db1;
        for (let j = 0; j < 8; j++) out[o++] = signs & (1 << j) ? -fr(db * G[g + j]) : fr(db * G[g + j]);
      }
    }
  }
}

// IQ3_XXS: d f16 | qs[64] grid indices | 8 x u32 (4 x 7-bit sign codes + 4-bit scale)
function iq3_xxsDecode(src: Uint8Array, out: Float32Array, o: number, nb: number): void {
  const H = f16Lut();
  const G = grid(IQ3XXS_GRID);
  const KS = ksigns();
  for (let b = 0, p = 0; b < nb; b++, p += 98) {
    const d = H[u16(src, p)];
    for (let ib = 0; ib < 8; ib++) {
      const aux = u32(src, p + 66 + 4 * ib);
      const db = fr(fr(d * (0.5 + (aux >>> 28))) * 0.5);
      for (let l = 0; l < 4; l++) {
        const signs = KS[(aux >>> (7 * l)) & 127];
        const g1 = 4 * src[p + 2 + 8 * ib + 2 * l];
        const g2 = 4 * src[p + 2 + 8 * ib + 2 * l + 1];
        for (let j = 0; j < 4; j++) out[o + j] = signs & (1 << j) ? -fr(db * G[g1 + j]) : fr(db * G[g1 + j]);
        for (let j = 0; j < 4; j++) out[o + 4 + j] = signs & (16 << j) ? -fr(db * G[g2 + j]) : fr(db * G[g2 + j]);
        o += 8;
      }
    }
  }
}

// IQ3_S: d f16 | qs[64] | qh[8] | signs[32] | scales[4]
function iq3_sDecode(src: Uint8Array, out: Float32Array, o: number, nb: number): void {
  const H = f16Lut();
  const G = grid(IQ3S_GRID);
  for (let b = 0, p = 0; b < nb; b++, p += 110) {
    const d = H[u16(src, p)];
    for (let ib = 0; ib < 8; ib++) {
      const sc = src[p + 106 + (ib >> 1)];
      const db = fr(d * (1 + 2 * (ib & 1 ? sc >> 4 : sc & 15)));
      const qh = src[p + 66 + ib];
      const qs = p + 2 + 8 * ib;
      const sg = p + 74 + 4 * ib;
      for (let l = 0; l < 4; l++) {
        const g1 = 4 * (src[qs + 2 * l] | ((qh << (8 - 2 * l)) & 256));
        const g2 = 4 * (src[qs + 2 * l + 1] | ((qh << (7 - 2 * l)) & 256));
        const signs = src[sg + l];
        for (let j = 0; j < 4; j++) out[o + j] = signs & (1 << j) ? -fr(db * G[g1 + j]) : fr(db * G[g1 + j]);
        for (let j = 0; j < 4; j++) out[o + 4 + j] = signs & (16 << j) ? -fr(db * G[g2 + j]) : fr(db * G[g2 + j]);
        o += 8;
      }
    }
  }
}

const IQ1S_DELTA = 0.125;

// IQ1_S: d f16 | qs[32] | qh 8 x u16 (3 x 3-bit grid-index high bits, 3-bit scale, delta sign)
function iq1_sDecode(src: Uint8Array, out: Float32Array, o: number, nb: number): void {
  const H = f16Lut();
  const G = grid(IQ1S_GRID);
  for (let b = 0, p = 0; b < nb; b++, p += 50) {
    const d = H[u16(src, p)];
    for (let ib = 0; ib < 8; ib++) {
      const h = u16(src, p + 34 + 2 * ib);
      const dl = fr(d * (2 * ((h >> 12) & 7) + 1));
      const delta = h & 0x8000 ? -IQ1S_DELTA : IQ1S_DELTA;
      for (let l = 0; l < 4; l++) {
        const g = 8 * (src[p + 2 + 4 * ib + l] | (((h >> (3 * l)) & 7) << 8));
        for (let j = 0; j < 8; j++) out[o++] = dl * (G[g + j] + delta);
      }
    }
  }
}

// IQ1_M: qs[32] | qh[16] | scales 4 x u16 (3-bit sub-block scales; the top nibbles form the f16 scale)
function iq1_mDecode(src: Uint8Array, out: Float32Array, o: number, nb: number): void {
  const H = f16Lut();
  const G = grid(IQ1S_GRID);
  const idx = [0, 0, 0, 0];
  const delta = [0, 0, 0, 0];
  for (let b = 0, p = 0; b < nb; b++, p += 56) {
    const sc = [u16(src, p + 48), u16(src, p + 50), u16(src, p + 52), u16(src, p + 54)];
    const d = H[(sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000)];
    for (let ib = 0; ib < 8; ib++) {
      const s = sc[ib >> 1];
      const sh = 6 * (ib & 1);
      const dl1 = fr(d * (2 * ((s >> sh) & 7) + 1));
      const dl2 = fr(d * (2 * ((s >> (sh + 3)) & 7) + 1));
      const qs = p + 4 * ib;
      const qh0 = src[p + 32 + 2 * ib];
      const qh1 = src[p + 32 + 2 * ib + 1];
      idx[0] = src[qs] | ((qh0 << 8) & 0x700);
      idx[1] = src[qs + 1] | ((qh0 << 4) & 0x700);
      idx[2] = src[qs + 2] | ((qh1 << 8) & 0x700);
      idx[3] = src[qs + 3] | ((qh1 << 4) & 0x700);
      delta[0] = qh0 & 0x08 ? -IQ1S_DELTA : IQ1S_DELTA;
      delta[1] = qh0 & 0x80 ? -IQ1S_DELTA : IQ1S_DELTA;
      delta[2] = qh1 & 0x08 ? -IQ1S_DELTA : IQ1S_DELTA;
      delta[3] = qh1 & 0x80 ? -IQ1S_DELTA : IQ1S_DELTA;
      for (let l = 0; l < 4; l++) {
        const dl = l < 2 ? dl1 : dl2;
        const g = 8 * idx[l];
        for (let j = 0; j < 8; j++) out[o++] = dl * (G[g + j] + delta[l]);
      }
    }
  }
}

const DECODERS: Partial<Record<GGMLType, BlockDecoder>> = {
  [GGMLType.F32]: f32Decode,
  [GGMLType.F16]: f16Decode,
  [GGMLType.BF16]: bf16Decode,
  [GGMLType.Q8_0]: q8_0Decode,
  [GGMLType.Q4_0]: q4_0Decode,
  [GGMLType.Q4_1]: q4_1Decode,
  [GGMLType.Q5_0]: q5_0Decode,
  [GGMLType.Q5_1]: q5_1Decode,
  [GGMLType.Q2_K]: q2_KDecode,
  [GGMLType.Q3_K]: q3_KDecode,
  [GGMLType.Q4_K]: q4_KDecode,
  [GGMLType.Q5_K]: q5_KDecode,
  [GGMLType.Q6_K]: q6_KDecode,
  [GGMLType.Q8_K]: q8_KDecode,
  [GGMLType.TQ1_0]: tq1_0Decode,
  [GGMLType.TQ2_0]: tq2_0Decode,
  [GGMLType.IQ4_NL]: iq4_nlDecode,
  [GGMLType.IQ4_XS]: iq4_xsDecode,
  [GGMLType.IQ2_XXS]: iq2_xxsDecode,
  [GGMLType.IQ2_XS]: iq2_xsDecode,
  [GGMLType.IQ2_S]: iq2_sDecode,
  [GGMLType.IQ3_XXS]: iq3_xxsDecode,
  [GGMLType.IQ3_S]: iq3_sDecode,
  [GGMLType.IQ1_S]: iq1_sDecode,
  [GGMLType.IQ1_M]: iq1_mDecode,
};

/** Types `dequantize` can decode. */
export function canDequantize(type: GGMLType): boolean {
  return DECODERS[type] !== undefined;
}

function decoderFor(type: GGMLType): { dec: BlockDecoder; blockSize: number; typeSize: number } {
  const dec = DECODERS[type];
  const info = TYPE_INFO[type];
  if (!dec || !info) throw new Error(`dequantize: unsupported tensor type ${typeName(type)}`);
  return { dec, blockSize: info.blockSize, typeSize: info.typeSize };
}

/**
 * Decodes n values of `type` from the start of `bytes` into out[outOffset .. outOffset + n).
 * No allocation besides a few scratch words: use it to stream a large matrix row by row.
 */
export function dequantizeInto(type: GGMLType, bytes: Uint8Array, n: number, out: Float32Array, outOffset = 0): void {
  const { dec, blockSize, typeSize } = decoderFor(type);
  if (!Number.isInteger(n) || n < 0) throw new Error(`dequantize ${typeName(type)}: bad value count ${n}`);
  if (n % blockSize !== 0) {
    throw new Error(`dequantize ${typeName(type)}: ${n} values is not a multiple of the block size ${blockSize}`);
  }
  const nb = n / blockSize;
  if (bytes.length < nb * typeSize) {
    throw new Error(`dequantize ${typeName(type)}: ${n} values need ${nb * typeSize} bytes, got ${bytes.length}`);
  }
  if (out.length < outOffset + n) throw new Error(`dequantize ${typeName(type)}: output too short`);
  dec(bytes, out, outOffset, nb);
}

/** n values (a multiple of the block size) of `type` from the start of `bytes`, as float32. */
export function dequantize(type: GGMLType, bytes: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(n);
  dequantizeInto(type, bytes, n, out, 0);
  return out;
}

/** A [rows, cols] matrix stored row-major in `type` (each row rowBytes(type, cols) bytes) as float32. */
export function dequantizeRows(type: GGMLType, bytes: Uint8Array, rows: number, cols: number): Float32Array {
  const { blockSize } = decoderFor(type);
  if (cols % blockSize !== 0) {
    throw new Error(`dequantizeRows ${typeName(type)}: row length ${cols} is not a multiple of the block size ${blockSize}`);
  }
  // rows are whole blocks, so the matrix is one contiguous run of blocks
  return dequantize(type, bytes, rows * cols);
}
