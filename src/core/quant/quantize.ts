// Quantization of float32 values to GGUF block formats, byte-identical to ggml's C reference quantizers
// (ggml-quants.c `quantize_row_*_ref` and, for the K-quants and IQ4 types, what `ggml_quantize_chunk` does
// without an importance matrix; llama.cpp c392e50, x86-64 build without FMA). Input: n float32 values
// (n a multiple of the block size); output: the bytes of n / blockSize blocks as stored in a GGUF file.
//
// Float32 exactness: ggml does all of this in float32, rounding after every operation (no FMA
// contraction in that build). JS numbers are float64, so every float32 operation here is wrapped in
// Math.fround (`fr`): a sum, product or quotient of two float32 values computed in float64 and then rounded
// once to float32 equals the float32 operation. Where gguf-py (float64) and ggml differ — Q4_0/Q5_0 on a
// rounding boundary, see refs/gguf-quant-vectors/README.md "Rounding" — this follows ggml.

import { GGMLType, TYPE_INFO, typeName } from './types.ts';
import { f16Lut, f32ToBf16, f32ToF16 } from './half.ts';
import { KVALUES_IQ4NL } from './dequant.ts';

const fr = Math.fround;
const FLT_MAX = 3.4028234663852886e38;
const GROUP_MAX_EPS = fr(1e-15);

// ---------------------------------------------------------------------------------------------------
// helpers mirroring ggml's

const niF = new Float32Array(1);
const niI = new Int32Array(niF.buffer);

/** ggml's nearest_int: float32 add of 1.5 * 2^23 and read the mantissa (ties to even for |v| < 2^22). */
function nearestInt(v: number): number {
  niF[0] = v + 12582912;
  return (niI[0] & 0x007fffff) - 0x00400000;
}

/** C's roundf / lroundf: nearest, ties away from zero. */
function roundAway(v: number): number {
  return v >= 0 ? Math.floor(v + 0.5) : -Math.floor(-v + 0.5);
}

function putF16(out: Uint8Array, p: number, v: number): void {
  const h = f32ToF16(v);
  out[p] = h & 255;
  out[p + 1] = h >> 8;
}

function getF16(out: Uint8Array, p: number): number {
  return f16Lut()[out[p] | (out[p + 1] << 8)];
}

function putU32(out: Uint8Array, p: number, v: number): void {
  out[p] = v & 255;
  out[p + 1] = (v >>> 8) & 255;
  out[p + 2] = (v >>> 16) & 255;
  out[p + 3] = (v >>> 24) & 255;
}

/** (int8_t) / (uint8_t) conversions of a truncated float as x86 does them for in-range values. */
function toU8(v: number): number {
  return Math.trunc(v) & 255;
}

// ---------------------------------------------------------------------------------------------------
// 16-bit float types

function quantF16(x: Float32Array, out: Uint8Array): void {
  for (let i = 0; i < x.length; i++) {
    const h = f32ToF16(x[i]);
    out[2 * i] = h & 255;
    out[2 * i + 1] = h >> 8;
  }
}

function quantBF16(x: Float32Array, out: Uint8Array): void {
  for (let i = 0; i < x.length; i++) {
    const h = f32ToBf16(x[i]);
    out[2 * i] = h & 255;
    out[2 * i + 1] = h >> 8;
  }
}

function quantF32(x: Float32Array, out: Uint8Array): void {
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let i = 0; i < x.length; i++) dv.setFloat32(4 * i, x[i], true);
}

// ---------------------------------------------------------------------------------------------------
// legacy 32-value blocks (quantize_row_q{8_0,4_0,4_1,5_0,5_1}_ref)

function quantQ8_0(x: Float32Array, out: Uint8Array): void {
  const nb = x.length / 32;
  for (let b = 0; b < nb; b++) {
    const xb = 32 * b;
    const p = 34 * b;
    let amax = 0;
    for (let j = 0; j < 32; j++) {
      const a = Math.abs(x[xb + j]);
      amax = amax > a ? amax : a;
    }
    const d = fr(amax / 127);
    const id = d ? fr(1 / d) : 0;
    putF16(out, p, d);
    for (let j = 0; j < 32; j++) out[p + 2 + j] = roundAway(fr(x[xb + j] * id)) & 255;
  }
}

/** Q4_0 (qmax 8, 4 bits) and Q5_0 (qmax 16, 5 bits): symmetric, d = max / -qmax. */
function quantQx_0(x: Float32Array, out: Uint8Array, five: boolean): void {
  const qmax = five ? 16 : 8;
  const top = five ? 31 : 15;
  const bsz = five ? 22 : 18;
  const qs = five ? 6 : 2;
  const nb = x.length / 32;
  for (let b = 0; b < nb; b++) {
    const xb = 32 * b;
    const p = bsz * b;
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const v = x[xb + j];
      if (amax < Math.abs(v)) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = fr(max / -qmax);
    const id = d ? fr(1 / d) : 0;
    putF16(out, p, d);
    let qh = 0;
    for (let j = 0; j < 16; j++) {
      // x*id rounded to float32, then + (qmax + 0.5) rounded to float32, then truncated (ggml, no FMA)
      const x0 = fr(x[xb + j] * id);
      const x1 = fr(x[xb + 16 + j] * id);
      const xi0 = Math.min(top, toU8(fr(x0 + qmax + 0.5)));
      const xi1 = Math.min(top, toU8(fr(x1 + qmax + 0.5)));
      out[p + qs + j] = (xi0 & 15) | ((xi1 & 15) << 4);
      qh |= ((xi0 >> 4) & 1) << j;
      qh |= ((xi1 >> 4) & 1) << (j + 16);
    }
    if (five) putU32(out, p + 2, qh >>> 0);
  }
}

/** Q4_1 (15 levels) and Q5_1 (31 levels): d = (max - min) / levels, m = min. */
function quantQx_1(x: Float32Array, out: Uint8Array, five: boolean): void {
  const levels = five ? 31 : 15;
  const bsz = five ? 24 : 20;
  const qs = five ? 8 : 4;
  const nb = x.length / 32;
  for (let b = 0; b < nb; b++) {
    const xb = 32 * b;
    const p = bsz * b;
    let min = FLT_MAX;
    let max = -FLT_MAX;
    for (let j = 0; j < 32; j++) {
      const v = x[xb + j];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const d = fr(fr(max - min) / levels);
    const id = d ? fr(1 / d) : 0;
    putF16(out, p, d);
    putF16(out, p + 2, min);
    let qh = 0;
    for (let j = 0; j < 16; j++) {
      const x0 = fr(fr(x[xb + j] - min) * id);
      const x1 = fr(fr(x[xb + 16 + j] - min) * id);
      let xi0 = toU8(fr(x0 + 0.5));
      let xi1 = toU8(fr(x1 + 0.5));
      if (!five) {
        xi0 = Math.min(15, xi0);
        xi1 = Math.min(15, xi1);
      }
      out[p + qs + j] = (xi0 & 15) | ((xi1 & 15) << 4);
      qh |= ((xi0 >> 4) & 1) << j;
      qh |= ((xi1 >> 4) & 1) << (j + 16);
    }
    if (five) putU32(out, p + 4, qh >>> 0);
  }
}

// ---------------------------------------------------------------------------------------------------
// K-quant helpers (make_qx_quants, make_q3_quants, make_qkx2_quants of ggml-quants.c)

/**
 * Symmetric scale search: L[i] in [0, 2*nmax) (offset by nmax), returns the float32 scale.
 * rmseType 1 with no weights uses w = x^2.
 */
function makeQxQuants(n: number, nmax: number, x: Float32Array, xo: number, L: Int32Array, lo: number, rmseType: number): number {
  let max = 0;
  let amax = 0;
  for (let i = 0; i < n; i++) {
    const ax = Math.abs(x[xo + i]);
    if (ax > amax) {
      amax = ax;
      max = x[xo + i];
    }
  }
  if (amax < GROUP_MAX_EPS) {
    for (let i = 0; i < n; i++) L[lo + i] = 0;
    return 0;
  }
  let iscale = fr(-nmax / max);
  if (rmseType === 0) {
    for (let i = 0; i < n; i++) {
      const l = nearestInt(fr(iscale * x[xo + i]));
      L[lo + i] = nmax + Math.max(-nmax, Math.min(nmax - 1, l));
    }
    return fr(1 / iscale);
  }
  const weight = (v: number): number =>
    rmseType === 1 ? fr(v * v) : rmseType === 2 ? 1 : rmseType === 3 ? Math.abs(v) : fr(Math.sqrt(Math.abs(v)));
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[xo + i];
    let l = nearestInt(fr(iscale * xi));
    l = Math.max(-nmax, Math.min(nmax - 1, l));
    L[lo + i] = l + nmax;
    const w = weight(xi);
    sumlx = fr(sumlx + fr(fr(w * xi) * l));
    suml2 = fr(suml2 + fr(fr(w * l) * l));
  }
  let scale = suml2 ? fr(sumlx / suml2) : 0;
  let best = fr(scale * sumlx);
  const f01 = fr(0.1);
  for (let is = -9; is <= 9; is++) {
    if (is === 0) continue;
    iscale = fr(-fr(nmax + fr(f01 * is)) / max);
    sumlx = 0;
    suml2 = 0;
    for (let i = 0; i < n; i++) {
      const xi = x[xo + i];
      let l = nearestInt(fr(iscale * xi));
      l = Math.max(-nmax, Math.min(nmax - 1, l));
      const w = weight(xi);
      sumlx = fr(sumlx + fr(fr(w * xi) * l));
      suml2 = fr(suml2 + fr(fr(w * l) * l));
    }
    if (suml2 > 0 && fr(sumlx * sumlx) > fr(best * suml2)) {
      for (let i = 0; i < n; i++) {
        const l = nearestInt(fr(iscale * x[xo + i]));
        L[lo + i] = nmax + Math.max(-nmax, Math.min(nmax - 1, l));
      }
      scale = fr(sumlx / suml2);
      best = fr(scale * sumlx);
    }
  }
  return scale;
}

/** Q3_K's sub-block search with iterative refinement (weights x^2); L[i] in [0, 2*nmax). */
function makeQ3Quants(n: number, nmax: number, x: Float32Array, xo: number, L: Int32Array, lo: number, doRmse: boolean): number {
  let max = 0;
  let amax = 0;
  for (let i = 0; i < n; i++) {
    const ax = Math.abs(x[xo + i]);
    if (ax > amax) {
      amax = ax;
      max = x[xo + i];
    }
  }
  if (amax < GROUP_MAX_EPS) {
    for (let i = 0; i < n; i++) L[lo + i] = 0;
    return 0;
  }
  const iscale = fr(-nmax / max);
  if (doRmse) {
    let sumlx = 0;
    let suml2 = 0;
    for (let i = 0; i < n; i++) {
      const xi = x[xo + i];
      let l = nearestInt(fr(iscale * xi));
      l = Math.max(-nmax, Math.min(nmax - 1, l));
      L[lo + i] = l;
      const w = fr(xi * xi);
      sumlx = fr(sumlx + fr(fr(w * xi) * l));
      suml2 = fr(suml2 + fr(fr(w * l) * l));
    }
    for (let itry = 0; itry < 5; itry++) {
      let nChanged = 0;
      for (let i = 0; i < n; i++) {
        const xi = x[xo + i];
        const w = fr(xi * xi);
        const li = L[lo + i];
        let slx = fr(sumlx - fr(fr(w * xi) * li));
        if (slx > 0) {
          let sl2 = fr(suml2 - fr(fr(w * li) * li));
          let newL = nearestInt(fr(fr(xi * sl2) / slx));
          newL = Math.max(-nmax, Math.min(nmax - 1, newL));
          if (newL !== li) {
            slx = fr(slx + fr(fr(w * xi) * newL));
            sl2 = fr(sl2 + fr(fr(w * newL) * newL));
            if (sl2 > 0 && fr(fr(slx * slx) * suml2) > fr(fr(sumlx * sumlx) * sl2)) {
              L[lo + i] = newL;
              sumlx = slx;
              suml2 = sl2;
              nChanged++;
            }
          }
        }
      }
      if (!nChanged) break;
    }
    for (let i = 0; i < n; i++) L[lo + i] += nmax;
    return suml2 > 0 ? fr(sumlx / suml2) : 0;
  }
  for (let i = 0; i < n; i++) {
    let l = nearestInt(fr(iscale * x[xo + i]));
    l = Math.max(-nmax, Math.min(nmax - 1, l));
    L[lo + i] = l + nmax;
  }
  return fr(1 / iscale);
}

/**
 * Asymmetric (scale, min) search of the K-quants with mins: value ~ scale * L - theMin, L in [0, nmax].
 * Returns the scale; the min (>= 0, subtracted) goes to minOut[0].
 */
function makeQkx2Quants(
  n: number, nmax: number, x: Float32Array, xo: number, weights: Float32Array, L: Int32Array, lo: number,
  minOut: Float32Array, Laux: Int32Array, rmin: number, rdelta: number, nstep: number, useMad: boolean,
): number {
  let min = x[xo];
  let max = x[xo];
  let sumW = weights[0];
  let sumX = fr(sumW * x[xo]);
  for (let i = 1; i < n; i++) {
    const xi = x[xo + i];
    if (xi < min) min = xi;
    if (xi > max) max = xi;
    const w = weights[i];
    sumW = fr(sumW + w);
    sumX = fr(sumX + fr(w * xi));
  }
  if (min > 0) min = 0;
  if (max === min) {
    for (let i = 0; i < n; i++) L[lo + i] = 0;
    minOut[0] = -min;
    return 0;
  }
  let iscale = fr(nmax / fr(max - min));
  let scale = fr(1 / iscale);
  let bestError = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[xo + i];
    const l = nearestInt(fr(iscale * fr(xi - min)));
    const li = Math.max(0, Math.min(nmax, l));
    L[lo + i] = li;
    let diff = fr(fr(fr(scale * li) + min) - xi);
    diff = useMad ? Math.abs(diff) : fr(diff * diff);
    bestError = fr(bestError + fr(weights[i] * diff));
  }
  if (nstep < 1) {
    minOut[0] = -min;
    return scale;
  }
  for (let is = 0; is <= nstep; is++) {
    // note: `min` is the best fit so far, so the range moves as the search improves (as in ggml)
    iscale = fr(fr(fr(rmin + fr(rdelta * is)) + nmax) / fr(max - min));
    let sumL = 0;
    let sumL2 = 0;
    let sumXL = 0;
    for (let i = 0; i < n; i++) {
      const xi = x[xo + i];
      let l = nearestInt(fr(iscale * fr(xi - min)));
      l = Math.max(0, Math.min(nmax, l));
      Laux[i] = l;
      const w = weights[i];
      const wl = fr(w * l);
      sumL = fr(sumL + wl);
      sumL2 = fr(sumL2 + fr(wl * l));
      sumXL = fr(sumXL + fr(wl * xi));
    }
    const D = fr(fr(sumW * sumL2) - fr(sumL * sumL));
    if (D > 0) {
      let thisScale = fr(fr(fr(sumW * sumXL) - fr(sumX * sumL)) / D);
      let thisMin = fr(fr(fr(sumL2 * sumX) - fr(sumL * sumXL)) / D);
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = fr(sumXL / sumL2);
      }
      let curError = 0;
      for (let i = 0; i < n; i++) {
        let diff = fr(fr(fr(thisScale * Laux[i]) + thisMin) - x[xo + i]);
        diff = useMad ? Math.abs(diff) : fr(diff * diff);
        curError = fr(curError + fr(weights[i] * diff));
      }
      if (curError < bestError) {
        for (let i = 0; i < n; i++) L[lo + i] = Laux[i];
        bestError = curError;
        scale = thisScale;
        min = thisMin;
      }
    }
  }
  minOut[0] = -min;
  return scale;
}

/** Packs 256 2-bit values: byte 32h + l holds L[128h + l + 32s] in bits 2s..2s+1. */
function pack2bit(L: Int32Array, out: Uint8Array, q: number): void {
  for (let j = 0; j < 256; j += 128) {
    for (let l = 0; l < 32; l++) {
      out[q + j / 4 + l] = L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// K-quants (quantize_row_q{2,3,4,5,6}_K_ref)

function quantQ2_K(x: Float32Array, out: Uint8Array): void {
  const nb = x.length / 256;
  const L = new Int32Array(256);
  const Laux = new Int32Array(16);
  const weights = new Float32Array(16);
  const mins = new Float32Array(16);
  const scales = new Float32Array(16);
  const minOut = new Float32Array(1);
  const q4scale = 15;
  const rmin = fr(-0.5);
  const rdelta = fr(0.1);
  for (let b = 0; b < nb; b++) {
    const xb = 256 * b;
    const p = 84 * b;
    let maxScale = 0;
    let maxMin = 0;
    for (let j = 0; j < 16; j++) {
      for (let l = 0; l < 16; l++) weights[l] = Math.abs(x[xb + 16 * j + l]);
      scales[j] = makeQkx2Quants(16, 3, x, xb + 16 * j, weights, L, 16 * j, minOut, Laux, rmin, rdelta, 15, true);
      mins[j] = minOut[0];
      if (scales[j] > maxScale) maxScale = scales[j];
      if (mins[j] > maxMin) maxMin = mins[j];
    }
    if (maxScale > 0) {
      const iscale = fr(q4scale / maxScale);
      for (let j = 0; j < 16; j++) out[p + j] = nearestInt(fr(iscale * scales[j])) & 255;
      putF16(out, p + 80, fr(maxScale / q4scale));
    } else {
      for (let j = 0; j < 16; j++) out[p + j] = 0;
      putF16(out, p + 80, 0);
    }
    if (maxMin > 0) {
      const iscale = fr(q4scale / maxMin);
      for (let j = 0; j < 16; j++) out[p + j] |= (nearestInt(fr(iscale * mins[j])) << 4) & 255;
      putF16(out, p + 82, fr(maxMin / q4scale));
    } else {
      putF16(out, p + 82, 0);
    }
    const dAll = getF16(out, p + 80);
    const mAll = getF16(out, p + 82);
    for (let j = 0; j < 16; j++) {
      const d = fr(dAll * (out[p + j] & 15));
      if (!d) continue;
      const dm = fr(mAll * (out[p + j] >> 4));
      for (let ii = 0; ii < 16; ii++) {
        const l = nearestInt(fr(fr(x[xb + 16 * j + ii] + dm) / d));
        L[16 * j + ii] = Math.max(0, Math.min(3, l));
      }
    }
    pack2bit(L, out, p + 16);
  }
}

function quantQ3_K(x: Float32Array, out: Uint8Array): void {
  const nb = x.length / 256;
  const L = new Int32Array(256);
  const scales = new Float32Array(16);
  for (let b = 0; b < nb; b++) {
    const xb = 256 * b;
    const p = 110 * b;
    const sp = p + 96;
    let maxScale = 0;
    let amax = 0;
    for (let j = 0; j < 16; j++) {
      scales[j] = makeQ3Quants(16, 4, x, xb + 16 * j, L, 16 * j, true);
      const scale = Math.abs(scales[j]);
      if (scale > amax) {
        amax = scale;
        maxScale = scales[j];
      }
    }
    for (let k = 0; k < 12; k++) out[sp + k] = 0;
    if (maxScale) {
      const iscale = fr(-32 / maxScale);
      for (let j = 0; j < 16; j++) {
        let l = (nearestInt(fr(iscale * scales[j])) << 24) >> 24; // stored in an int8_t
        l = Math.max(-32, Math.min(31, l)) + 32;
        if (j < 8) out[sp + j] = l & 15;
        else out[sp + j - 8] |= (l & 15) << 4;
        l >>= 4;
        out[sp + 8 + (j % 4)] |= l << (2 * (j >> 2));
      }
      putF16(out, p + 108, fr(1 / iscale));
    } else {
      putF16(out, p + 108, 0);
    }
    const dAll = getF16(out, p + 108);
    for (let j = 0; j < 16; j++) {
      const low = j < 8 ? out[sp + j] & 15 : out[sp + j - 8] >> 4;
      const sc = (low | (((out[sp + 8 + (j % 4)] >> (2 * (j >> 2))) & 3) << 4)) - 32;
      const d = fr(dAll * sc);
      if (!d) continue;
      for (let ii = 0; ii < 16; ii++) {
        const l = nearestInt(fr(x[xb + 16 * j + ii] / d));
        L[16 * j + ii] = Math.max(-4, Math.min(3, l)) + 4;
      }
    }
    for (let k = 0; k < 32; k++) out[p + k] = 0;
    let m = 0;
    let hm = 1;
    for (let j = 0; j < 256; j++) {
      if (L[j] > 3) {
        out[p + m] |= hm;
        L[j] -= 4;
      }
      if (++m === 32) {
        m = 0;
        hm <<= 1;
      }
    }
    pack2bit(L, out, p + 32);
  }
}

/** Shared by Q4_K (nmax 15) and Q5_K (nmax 31): 8 sub-blocks of 32 with 6-bit scales and mins. */
function quantQ45_K(x: Float32Array, out: Uint8Array, five: boolean): void {
  const nmax = five ? 31 : 15;
  const bsz = five ? 176 : 144;
  const rmin = five ? fr(-0.5) : -1;
  const rdelta = fr(0.1);
  const nstep = five ? 15 : 20;
  const nb = x.length / 256;
  const L = new Int32Array(256);
  const Laux = new Int32Array(32);
  const weights = new Float32Array(32);
  const mins = new Float32Array(8);
  const scales = new Float32Array(8);
  const minOut = new Float32Array(1);
  const sm = new Int32Array(2);
  for (let b = 0; b < nb; b++) {
    const xb = 256 * b;
    const p = bsz * b;
    const sp = p + 4;
    let maxScale = 0;
    let maxMin = 0;
    for (let j = 0; j < 8; j++) {
      let sumX2 = 0;
      for (let l = 0; l < 32; l++) {
        const v = x[xb + 32 * j + l];
        sumX2 = fr(sumX2 + fr(v * v));
      }
      const avX = fr(Math.sqrt(fr(sumX2 / 32)));
      for (let l = 0; l < 32; l++) weights[l] = avX + Math.abs(x[xb + 32 * j + l]); // stored as float32
      scales[j] = makeQkx2Quants(32, nmax, x, xb + 32 * j, weights, L, 32 * j, minOut, Laux, rmin, rdelta, nstep, false);
      mins[j] = minOut[0];
      if (scales[j] > maxScale) maxScale = scales[j];
      if (mins[j] > maxMin) maxMin = mins[j];
    }
    const invScale = maxScale > 0 ? fr(63 / maxScale) : 0;
    const invMin = maxMin > 0 ? fr(63 / maxMin) : 0;
    for (let k = 0; k < 12; k++) out[sp + k] = 0;
    for (let j = 0; j < 8; j++) {
      const ls = Math.min(63, nearestInt(fr(invScale * scales[j])) & 255); // uint8_t, then MIN(63, .)
      const lm = Math.min(63, nearestInt(fr(invMin * mins[j])) & 255);
      if (j < 4) {
        out[sp + j] = ls;
        out[sp + j + 4] = lm;
      } else {
        out[sp + j + 4] = (ls & 15) | ((lm & 15) << 4);
        out[sp + j - 4] |= (ls >> 4) << 6;
        out[sp + j] |= (lm >> 4) << 6;
      }
    }
    putF16(out, p, fr(maxScale / 63));
    putF16(out, p + 2, fr(maxMin / 63));
    const dAll = getF16(out, p);
    const mAll = getF16(out, p + 2);
    for (let j = 0; j < 8; j++) {
      if (j < 4) {
        sm[0] = out[sp + j] & 63;
        sm[1] = out[sp + j + 4] & 63;
      } else {
        sm[0] = (out[sp + j + 4] & 15) | ((out[sp + j - 4] >> 6) << 4);
        sm[1] = (out[sp + j + 4] >> 4) | ((out[sp + j] >> 6) << 4);
      }
      const d = fr(dAll * sm[0]);
      if (!d) continue;
      const dm = fr(mAll * sm[1]);
      for (let ii = 0; ii < 32; ii++) {
        const l = nearestInt(fr(fr(x[xb + 32 * j + ii] + dm) / d));
        L[32 * j + ii] = Math.max(0, Math.min(nmax, l));
      }
    }
    if (!five) {
      let q = p + 16;
      for (let j = 0; j < 256; j += 64, q += 32) {
        for (let l = 0; l < 32; l++) out[q + l] = L[j + l] | (L[j + l + 32] << 4);
      }
    } else {
      const qh = p + 16;
      let ql = p + 48;
      for (let k = 0; k < 32; k++) out[qh + k] = 0;
      let m1 = 1;
      let m2 = 2;
      for (let n = 0; n < 256; n += 64, ql += 32) {
        for (let j = 0; j < 32; j++) {
          let l1 = L[n + j];
          if (l1 > 15) {
            l1 -= 16;
            out[qh + j] |= m1;
          }
          let l2 = L[n + j + 32];
          if (l2 > 15) {
            l2 -= 16;
            out[qh + j] |= m2;
          }
          out[ql + j] = l1 | (l2 << 4);
        }
        m1 <<= 2;
        m2 <<= 2;
      }
    }
  }
}

function quantQ6_K(x: Float32Array, out: Uint8Array): void {
  const nb = x.length / 256;
  const L = new Int32Array(256);
  const scales = new Float32Array(16);
  for (let b = 0; b < nb; b++) {
    const xb = 256 * b;
    const p = 210 * b;
    let maxScale = 0;
    let maxAbsScale = 0;
    for (let ib = 0; ib < 16; ib++) {
      const scale = makeQxQuants(16, 32, x, xb + 16 * ib, L, 16 * ib, 1);
      scales[ib] = scale;
      const abs = Math.abs(scale);
      if (abs > maxAbsScale) {
        maxAbsScale = abs;
        maxScale = scale;
      }
    }
    if (maxAbsScale < GROUP_MAX_EPS) {
      for (let k = 0; k < 210; k++) out[p + k] = 0;
      continue;
    }
    const iscale = fr(-128 / maxScale);
    putF16(out, p + 208, fr(1 / iscale));
    for (let ib = 0; ib < 16; ib++) out[p + 192 + ib] = Math.min(127, nearestInt(fr(iscale * scales[ib]))) & 255;
    const dAll = getF16(out, p + 208);
    for (let j = 0; j < 16; j++) {
      const d = fr(dAll * ((out[p + 192 + j] << 24) >> 24));
      if (!d) continue;
      for (let ii = 0; ii < 16; ii++) {
        const l = nearestInt(fr(x[xb + 16 * j + ii] / d));
        L[16 * j + ii] = Math.max(-32, Math.min(31, l)) + 32;
      }
    }
    let ql = p;
    let qh = p + 128;
    for (let j = 0; j < 256; j += 128, ql += 64, qh += 32) {
      for (let l = 0; l < 32; l++) {
        const a = L[j + l];
        const b2 = L[j + l + 32];
        const c = L[j + l + 64];
        const d4 = L[j + l + 96];
        out[ql + l] = (a & 15) | ((c & 15) << 4);
        out[ql + l + 32] = (b2 & 15) | ((d4 & 15) << 4);
        out[qh + l] = (a >> 4) | ((b2 >> 4) << 2) | ((c >> 4) << 4) | ((d4 >> 4) << 6);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// ternary (quantize_row_tq{1,2}_0_ref)

function quantTQ1_0(x: Float32Array, out: Uint8Array): void {
  const nb = x.length / 256;
  for (let b = 0; b < nb; b++) {
    let xo = 256 * b;
    const p = 54 * b;
    let amax = 0;
    for (let j = 0; j < 256; j++) {
      const a = Math.abs(x[xo + j]);
      amax = amax > a ? amax : a;
    }
    const d = amax;
    const id = d ? fr(1 / d) : 0;
    putF16(out, p + 52, d);
    const digit = (v: number): number => roundAway(fr(v * id)) + 1;
    // 32 bytes of 5 digits (values xo + m + 32n), then 16 bytes of 5 (xo + 160 + m + 16n)
    for (let m = 0; m < 32; m++) {
      let q = 0;
      for (let n = 0; n < 5; n++) q = (q * 3 + digit(x[xo + m + 32 * n])) & 255;
      out[p + m] = Math.floor((q * 256 + 242) / 243) & 255;
    }
    xo += 160;
    for (let m = 0; m < 16; m++) {
      let q = 0;
      for (let n = 0; n < 5; n++) q = (q * 3 + digit(x[xo + m + 16 * n])) & 255;
      out[p + 32 + m] = Math.floor((q * 256 + 242) / 243) & 255;
    }
    xo += 80;
    for (let j = 0; j < 4; j++) {
      let q = 0;
      for (let m = 0; m < 4; m++) q = (q * 3 + digit(x[xo + j + 4 * m])) & 255;
      q = (q * 3) & 255;
      out[p + 48 + j] = Math.floor((q * 256 + 242) / 243) & 255;
    }
  }
}

function quantTQ2_0(x: Float32Array, out: Uint8Array): void {
  const nb = x.length / 256;
  for (let b = 0; b < nb; b++) {
    const xb = 256 * b;
    const p = 66 * b;
    let amax = 0;
    for (let j = 0; j < 256; j++) {
      const a = Math.abs(x[xb + j]);
      amax = amax > a ? amax : a;
    }
    const d = amax;
    const id = d ? fr(1 / d) : 0;
    putF16(out, p + 64, d);
    for (let j = 0; j < 64; j += 32) {
      const xo = xb + 4 * j;
      for (let m = 0; m < 32; m++) {
        let q = 0;
        for (let n = 0; n < 4; n++) q += ((roundAway(fr(x[xo + m + 32 * n] * id)) + 1) & 3) << (2 * n);
        out[p + j + m] = q & 255;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// IQ4_NL / IQ4_XS (quantize_row_iq4_nl_impl without importance weights, ntry = 7)

/** Index of the codebook value nearest to v (ggml's best_index_int8; ties go to the upper value). */
function bestIndexInt8(val: readonly number[], v: number): number {
  const n = val.length;
  if (v <= val[0]) return 0;
  if (v >= val[n - 1]) return n - 1;
  let ml = 0;
  let mu = n - 1;
  while (mu - ml > 1) {
    const mav = (ml + mu) >> 1;
    if (v < val[mav]) mu = mav;
    else ml = mav;
  }
  return fr(v - val[mu - 1]) < fr(val[mu] - v) ? mu - 1 : mu;
}

/**
 * One IQ4 super-block of `superSize` values (32 for IQ4_NL, 256 for IQ4_XS) at x[xo ..], written at
 * out[p ..]. For IQ4_XS the layout is d | scales_h | scales_l[4] | qs[128]; for IQ4_NL d | qs[16].
 */
function iq4Block(x: Float32Array, xo: number, out: Uint8Array, p: number, superSize: number, L: Int32Array,
  scales: Float32Array, weight: Float32Array): void {
  const values = KVALUES_IQ4NL;
  const ntry = 7;
  const nsub = superSize / 32;
  const qsOff = nsub > 1 ? p + 8 : p + 2;
  for (let k = 0; k < superSize / 2; k++) out[qsOff + k] = 0;
  putF16(out, p, 0);
  let maxScale = 0;
  let amaxScale = 0;
  for (let ib = 0; ib < nsub; ib++) {
    const xb = xo + 32 * ib;
    for (let j = 0; j < 32; j++) weight[j] = fr(x[xb + j] * x[xb + j]);
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const ax = Math.abs(x[xb + j]);
      if (ax > amax) {
        amax = ax;
        max = x[xb + j];
      }
    }
    if (amax < GROUP_MAX_EPS) {
      scales[ib] = 0;
      for (let j = 0; j < 32; j++) L[32 * ib + j] = 0;
      continue;
    }
    let d = fr(-max / values[0]);
    let id = fr(1 / d);
    let sumqx = 0;
    let sumq2 = 0;
    for (let j = 0; j < 32; j++) {
      const xj = x[xb + j];
      const l = bestIndexInt8(values, fr(id * xj));
      L[32 * ib + j] = l;
      const q = values[l];
      const w = weight[j];
      sumqx = fr(sumqx + fr(fr(w * q) * xj));
      sumq2 = fr(sumq2 + fr(fr(w * q) * q));
    }
    d = sumq2 > 0 ? fr(sumqx / sumq2) : 0;
    let best = fr(d * sumqx);
    for (let itry = -ntry; itry <= ntry; itry++) {
      id = fr((itry + values[0]) / max);
      sumqx = 0;
      sumq2 = 0;
      for (let j = 0; j < 32; j++) {
        const xj = x[xb + j];
        const l = bestIndexInt8(values, fr(id * xj));
        const q = values[l];
        const w = weight[j];
        sumqx = fr(sumqx + fr(fr(w * q) * xj));
        sumq2 = fr(sumq2 + fr(fr(w * q) * q));
      }
      if (sumq2 > 0 && fr(sumqx * sumqx) > fr(best * sumq2)) {
        d = fr(sumqx / sumq2);
        best = fr(d * sumqx);
      }
    }
    scales[ib] = d;
    const absD = Math.abs(d);
    if (absD > amaxScale) {
      amaxScale = absD;
      maxScale = d;
    }
  }
  if (nsub > 1) {
    out[p + 2] = 0;
    out[p + 3] = 0;
    let sh = 0;
    const d = fr(-maxScale / 32);
    putF16(out, p, d);
    const id = d ? fr(1 / d) : 0;
    for (let ib = 0; ib < nsub; ib++) {
      let l = nearestInt(fr(id * scales[ib]));
      l = Math.max(-32, Math.min(31, l));
      const dl = fr(d * l);
      const idl = dl ? fr(1 / dl) : 0;
      const xb = xo + 32 * ib;
      for (let j = 0; j < 32; j++) L[32 * ib + j] = bestIndexInt8(values, fr(idl * x[xb + j]));
      l += 32;
      const lLow = l & 15;
      const lHigh = l >> 4;
      if (ib % 2 === 0) out[p + 4 + (ib >> 1)] = lLow;
      else out[p + 4 + (ib >> 1)] |= lLow << 4;
      sh |= lHigh << (2 * ib);
    }
    out[p + 2] = sh & 255;
    out[p + 3] = (sh >> 8) & 255;
  } else {
    putF16(out, p, scales[0]);
    const id = scales[0] ? fr(1 / scales[0]) : 0;
    for (let j = 0; j < superSize; j++) L[j] = bestIndexInt8(values, fr(id * x[xo + j]));
  }
  for (let i = 0; i < superSize / 32; i++) {
    for (let j = 0; j < 16; j++) out[qsOff + 16 * i + j] = L[32 * i + j] | (L[32 * i + 16 + j] << 4);
  }
}

function quantIQ4(x: Float32Array, out: Uint8Array, xs: boolean): void {
  const superSize = xs ? 256 : 32;
  const bsz = xs ? 136 : 18;
  const L = new Int32Array(superSize);
  const scales = new Float32Array(superSize / 32);
  const weight = new Float32Array(32);
  const nb = x.length / superSize;
  for (let b = 0; b < nb; b++) iq4Block(x, superSize * b, out, bsz * b, superSize, L, scales, weight);
}

// ---------------------------------------------------------------------------------------------------

type Quantizer = (x: Float32Array, out: Uint8Array) => void;

const QUANTIZERS: Partial<Record<GGMLType, Quantizer>> = {
  [GGMLType.F32]: quantF32,
  [GGMLType.F16]: quantF16,
  [GGMLType.BF16]: quantBF16,
  [GGMLType.Q8_0]: quantQ8_0,
  [GGMLType.Q4_0]: (x, o) => quantQx_0(x, o, false),
  [GGMLType.Q5_0]: (x, o) => quantQx_0(x, o, true),
  [GGMLType.Q4_1]: (x, o) => quantQx_1(x, o, false),
  [GGMLType.Q5_1]: (x, o) => quantQx_1(x, o, true),
  [GGMLType.Q2_K]: quantQ2_K,
  [GGMLType.Q3_K]: quantQ3_K,
  [GGMLType.Q4_K]: (x, o) => quantQ45_K(x, o, false),
  [GGMLType.Q5_K]: (x, o) => quantQ45_K(x, o, true),
  [GGMLType.Q6_K]: quantQ6_K,
  [GGMLType.TQ1_0]: quantTQ1_0,
  [GGMLType.TQ2_0]: quantTQ2_0,
  [GGMLType.IQ4_NL]: (x, o) => quantIQ4(x, o, false),
  [GGMLType.IQ4_XS]: (x, o) => quantIQ4(x, o, true),
};

/** Types `quantize` can write. */
export function canQuantize(type: GGMLType): boolean {
  return QUANTIZERS[type] !== undefined;
}

/**
 * Quantizes `values` (length a multiple of the block size; one or more whole rows) to `type`, as ggml's
 * reference quantizer does (no importance matrix). Returns rowBytes(type, values.length) bytes.
 */
export function quantize(type: GGMLType, values: Float32Array): Uint8Array {
  const q = QUANTIZERS[type];
  const info = TYPE_INFO[type];
  if (!q || !info) throw new Error(`quantize: unsupported tensor type ${typeName(type)}`);
  if (values.length % info.blockSize !== 0) {
    throw new Error(`quantize ${info.name}: ${values.length} values is not a multiple of the block size ${info.blockSize}`);
  }
  const out = new Uint8Array((values.length / info.blockSize) * info.typeSize);
  q(values, out);
  return out;
}
