// Dequantization against the byte-exact vectors in refs/gguf-quant-vectors/dequant (made by gguf-py and
// checked bit for bit against ggml's C dequantizer): every value must have the same float32 bits.
import { describe, expect, it } from 'vitest';
import { readRef } from '../helpers/models.ts';
import { GGMLType } from '../../src/core/quant/types.ts';
import { canDequantize, dequantize, dequantizeInto, dequantizeRows } from '../../src/core/quant/index.ts';

interface DequantVector {
  type: string;
  ggml_type_id: number;
  block_size: number;
  type_size: number;
  n_blocks: number;
  bytes_hex: string;
  values: number[];
}
interface IndexEntry {
  type: string;
  ggml_type_id: number;
  block_size: number;
  type_size: number;
  dequant?: string;
}

function hexBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(2 * i, 2), 16);
  return out;
}

/** float32 bit patterns, so -0 != +0 and every ulp counts. */
function bits(v: ArrayLike<number>): number[] {
  const f = Float32Array.from(v);
  return Array.from(new Uint32Array(f.buffer));
}

const index = readRef<{ types: IndexEntry[] }>('gguf-quant-vectors/index.json');
const REQUIRED = ['F16', 'BF16', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q8_0', 'Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K'];

describe('dequantize: ggml test vectors (exact float32 bits)', () => {
  it('the index lists every required type', () => {
    const names = index.types.map((t) => t.type);
    for (const r of REQUIRED) expect(names).toContain(r);
  });

  for (const entry of index.types) {
    if (!entry.dequant) continue;
    const type = entry.ggml_type_id as GGMLType;
    const supported = canDequantize(type);
    if (!supported && REQUIRED.includes(entry.type)) {
      it(`${entry.type} is supported`, () => expect(supported).toBe(true));
      continue;
    }
    it.skipIf(!supported)(`${entry.type}${supported ? '' : ' (not implemented: skipped)'}`, () => {
      const v = readRef<DequantVector>(`gguf-quant-vectors/${entry.dequant}`);
      const bytes = hexBytes(v.bytes_hex);
      const n = v.values.length;
      expect(bytes.length).toBe(v.n_blocks * v.type_size);
      const got = dequantize(type, bytes, n);
      expect(bits(got)).toEqual(bits(v.values));
    });
  }
});

describe('dequantize: input at odd byte offsets and row helpers', () => {
  it('reads from a subarray at an odd offset of an unaligned buffer', () => {
    for (const name of ['F16', 'BF16', 'Q8_0', 'Q4_K', 'Q6_K']) {
      const e = index.types.find((t) => t.type === name)!;
      const v = readRef<DequantVector>(`gguf-quant-vectors/${e.dequant}`);
      const raw = hexBytes(v.bytes_hex);
      const backing = new Uint8Array(raw.length + 7);
      backing.set(raw, 3);
      const view = backing.subarray(3, 3 + raw.length);
      const got = dequantize(e.ggml_type_id, view, v.values.length);
      expect(bits(got)).toEqual(bits(v.values));
    }
  });

  it('F32 from an unaligned view', () => {
    const vals = new Float32Array([1.5, -0, 3.25e-20, -7e30]);
    const backing = new Uint8Array(16 + 5);
    backing.set(new Uint8Array(vals.buffer), 1);
    expect(bits(dequantize(GGMLType.F32, backing.subarray(1, 17), 4))).toEqual(bits(vals));
  });

  it('dequantizeRows equals per-row dequantize; dequantizeInto writes at an offset', () => {
    const e = index.types.find((t) => t.type === 'Q4_0')!;
    const v = readRef<DequantVector>(`gguf-quant-vectors/${e.dequant}`);
    const bytes = hexBytes(v.bytes_hex); // 4 blocks = 2 rows of 64
    const m = dequantizeRows(GGMLType.Q4_0, bytes, 2, 64);
    expect(bits(m.subarray(64))).toEqual(bits(dequantize(GGMLType.Q4_0, bytes.subarray(36), 64)));
    const out = new Float32Array(200).fill(9);
    dequantizeInto(GGMLType.Q4_0, bytes, 128, out, 50);
    expect(out[49]).toBe(9);
    expect(out[178]).toBe(9);
    expect(bits(out.subarray(50, 178))).toEqual(bits(v.values));
  });

  it('rejects unknown types by name, bad lengths and short input', () => {
    expect(() => dequantize(GGMLType.Q8_1, new Uint8Array(36), 32)).toThrow(/Q8_1/);
    expect(() => dequantize(99 as GGMLType, new Uint8Array(36), 32)).toThrow(/99/);
    expect(() => dequantize(GGMLType.Q4_0, new Uint8Array(18), 31)).toThrow(/multiple of the block size 32/);
    expect(() => dequantize(GGMLType.Q4_0, new Uint8Array(17), 32)).toThrow(/18 bytes/);
    expect(() => dequantizeRows(GGMLType.Q4_K, new Uint8Array(144 * 2), 2, 128)).toThrow(/256/);
  });
});
