// The real stories260K tensors quantized by llama.cpp (../shared/models/stories260K-gguf/quantized/*.gguf)
// against the F32 originals in stories260K.gguf: (1) requantizing the F32 tensor with our quantizer gives
// the file's bytes exactly (both are ggml's reference quantizer); (2) every dequantized value is within the
// error the format allows, block by block, derived from the format definition:
//   Q8_0: |x - x^| <= d/2 (+ f16 rounding of d: 127 * 2^-11 * d)     [q = round(x/d), |q| <= 127]
//   Q4_0: |x - x^| <= d (codes clamp at 15: x/d may reach +8) ; Q5_0 likewise (31 / +16)
//   Q4_1, Q5_1: |x - x^| <= d/2 + (f16 rounding of d and of m)      [q = round((x - min)/d)]
//   F16: relative 2^-11.
// Uses its own minimal GGUF tensor-table reader (independent of src/core/formats).
import { describe, expect, it } from 'vitest';
import { readModelBytes } from '../helpers/models.ts';
import { GGMLType, dequantize, quantize, rowBytes, f16ToF32 } from '../../src/core/quant/index.ts';

interface TensorInfo {
  name: string;
  ne: number[];
  type: number;
  offset: number;
}

/** Minimal GGUF v2/v3 reader: skips metadata (except general.alignment), returns tensor infos + data offset. */
function readTensorTable(b: Uint8Array): { tensors: TensorInfo[]; dataOffset: number } {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let p = 0;
  const u32 = () => { const v = dv.getUint32(p, true); p += 4; return v; };
  const u64 = () => { const v = Number(dv.getBigUint64(p, true)); p += 8; return v; };
  const str = () => { const n = u64(); const s = new TextDecoder().decode(b.subarray(p, p + n)); p += n; return s; };
  const scalar: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
  const skip = (t: number): void => {
    if (t === 8) { str(); return; }
    if (t === 9) { const et = u32(); const n = u64(); for (let i = 0; i < n; i++) skip(et); return; }
    p += scalar[t];
  };
  if (u32() !== 0x46554747) throw new Error('not GGUF');
  u32(); // version
  const nTensors = u64();
  const nKv = u64();
  let alignment = 32;
  for (let i = 0; i < nKv; i++) {
    const key = str();
    const t = u32();
    if (key === 'general.alignment' && t === 4) alignment = u32();
    else skip(t);
  }
  const tensors: TensorInfo[] = [];
  for (let i = 0; i < nTensors; i++) {
    const name = str();
    const nd = u32();
    const ne: number[] = [];
    for (let d = 0; d < nd; d++) ne.push(u64());
    tensors.push({ name, ne, type: u32(), offset: u64() });
  }
  return { tensors, dataOffset: Math.ceil(p / alignment) * alignment };
}

function tensorBytes(file: Uint8Array, table: ReturnType<typeof readTensorTable>, t: TensorInfo): Uint8Array {
  const n = t.ne.reduce((a, c) => a * c, 1);
  const len = rowBytes(t.type, t.ne[0]) * (n / t.ne[0]);
  const start = table.dataOffset + t.offset;
  return file.subarray(start, start + len);
}

const DIR = 'stories260K-gguf';
const base = readModelBytes(`${DIR}/stories260K.gguf`);
const baseTable = readTensorTable(base);
const originals = new Map(baseTable.tensors.map((t) => [t.name, t]));

const F16_ULP = 2 ** -11;

/** Per-block bound on |x - x^| from the format definition; d, m are the stored (f16) scale and min. */
function blockBound(type: GGMLType, d: number, m: number): number {
  const ad = Math.abs(d);
  switch (type) {
    case GGMLType.Q8_0: return ad / 2 + 127 * F16_ULP * ad;
    case GGMLType.Q4_0: return ad + 8 * F16_ULP * ad;
    case GGMLType.Q5_0: return ad + 16 * F16_ULP * ad;
    case GGMLType.Q4_1: return ad / 2 + 15 * F16_ULP * ad + F16_ULP * Math.abs(m);
    case GGMLType.Q5_1: return ad / 2 + 31 * F16_ULP * ad + F16_ULP * Math.abs(m);
    default: throw new Error(`no bound for ${GGMLType[type]}`);
  }
}

const BLOCK_BYTES: Partial<Record<GGMLType, number>> = {
  [GGMLType.Q8_0]: 34, [GGMLType.Q4_0]: 18, [GGMLType.Q5_0]: 22, [GGMLType.Q4_1]: 20, [GGMLType.Q5_1]: 24,
};

const FILES = ['Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'MIXED-Q8_0-Q4_0'];

describe('stories260K quantized by llama.cpp vs the F32 originals', () => {
  it('the F32 file holds F32 tensors', () => {
    expect(baseTable.tensors.length).toBe(48);
    expect(baseTable.tensors.every((t) => t.type === GGMLType.F32)).toBe(true);
  });

  for (const f of FILES) {
    describe(f, () => {
      const file = readModelBytes(`${DIR}/quantized/stories260K-${f}.gguf`);
      const table = readTensorTable(file);

      it('has the 48 tensors, several of them quantized', () => {
        expect(table.tensors.length).toBe(48);
        expect(table.tensors.filter((t) => BLOCK_BYTES[t.type as GGMLType]).length).toBeGreaterThanOrEqual(32);
      });

      it('requantizing the F32 originals reproduces every tensor byte for byte', () => {
        for (const t of table.tensors) {
          const o = originals.get(t.name)!;
          const x = dequantize(GGMLType.F32, tensorBytes(base, baseTable, o), t.ne.reduce((a, c) => a * c, 1));
          const got = quantize(t.type, x);
          const want = tensorBytes(file, table, t);
          expect(got.length, t.name).toBe(want.length);
          const firstDiff = got.findIndex((v, i) => v !== want[i]);
          expect(firstDiff, `${t.name} (${GGMLType[t.type]}) first differing byte`).toBe(-1);
        }
      });

      it('dequantized values are within the format\'s error bound of the originals', () => {
        let checked = 0;
        let worstRatio = 0;
        for (const t of table.tensors) {
          const n = t.ne.reduce((a, c) => a * c, 1);
          const o = originals.get(t.name)!;
          const x = dequantize(GGMLType.F32, tensorBytes(base, baseTable, o), n);
          const raw = tensorBytes(file, table, t);
          const y = dequantize(t.type, raw, n);
          if (t.type === GGMLType.F32) {
            expect(Array.from(y), t.name).toEqual(Array.from(x));
            continue;
          }
          if (t.type === GGMLType.F16) {
            const bad = x.findIndex((v, i) => !(Math.abs(y[i] - v) <= F16_ULP * Math.abs(v) + 2 ** -25));
            expect(bad, `${t.name}: first value outside the f16 rounding bound`).toBe(-1);
            continue;
          }
          const bb = BLOCK_BYTES[t.type as GGMLType]!;
          let sumSq = 0;
          let sumErr = 0;
          for (let b = 0; b < n / 32; b++) {
            const p = b * bb;
            const d = f16ToF32(raw[p] | (raw[p + 1] << 8));
            const hasMin = t.type === GGMLType.Q4_1 || t.type === GGMLType.Q5_1;
            const m = hasMin ? f16ToF32(raw[p + 2] | (raw[p + 3] << 8)) : 0;
            const bound = blockBound(t.type, d, m) * (1 + 1e-6);
            let worst = 0;
            for (let i = 32 * b; i < 32 * b + 32; i++) {
              const e = Math.abs(y[i] - x[i]);
              worst = Math.max(worst, e);
              sumSq += x[i] * x[i];
              sumErr += e * e;
            }
            worstRatio = Math.max(worstRatio, worst / bound);
            if (!(worst <= bound)) {
              expect.fail(`${t.name} (${GGMLType[t.type]}) block ${b}: max |err| ${worst} > bound ${bound} (d=${d}, m=${m})`);
            }
            checked++;
          }
          // and the reconstruction is not degenerate: relative RMS error well below 1
          const rel = Math.sqrt(sumErr / sumSq);
          const relMax = t.type === GGMLType.Q8_0 ? 0.01 : t.type === GGMLType.Q5_0 || t.type === GGMLType.Q5_1 ? 0.07 : 0.13;
          expect(rel, `${t.name} relative RMS error`).toBeLessThan(relMax);
          expect(rel, `${t.name} relative RMS error`).toBeGreaterThan(0);
        }
        expect(checked).toBeGreaterThan(1000);
        // the bounds are tight: some block comes within 5% of its bound
        expect(worstRatio).toBeGreaterThan(0.95);
      });
    });
  }
});
