// GGUF v3 writer: every metadata value type (scalars, strings, arrays of each, a nested array, 64-bit
// integers past 2^53) and tensors with alignment padding read back identically by the project's own parser;
// the stories260K F32 and llama.cpp Q8_0 files rewritten unchanged give the same metadata and tensor bytes;
// an allocation (Q4_0/Q8_0 mix, block 2 dropped, attention of block 0 dropped) written as GGUF loads with
// 4 blocks whose tensors are the applied model's, renumbered, and its logits equal the applied model run
// with the skip-block / skip-attn interventions (an independent check of the renumbering and zeroing).
import { describe, expect, it } from 'vitest';
import { readModelBytes } from '../helpers/models.ts';
import { expectAllClose } from '../helpers/close.ts';
import { loadGguf, parseGguf, GgufValueType } from '../../src/core/formats/gguf.ts';
import { modifiedModelGguf, writeGguf, type GgufMetaEntry } from '../../src/core/formats/gguf-write.ts';
import { loadModelFromFiles } from '../../src/core/formats/load.ts';
import { CpuBackend } from '../../src/core/model/cpu-backend.ts';
import { applyAllocation } from '../../src/core/allocation/apply-weights.ts';
import { ALLOCATION_SCHEMA } from '../../src/core/allocation/schema.ts';
import { GGMLType } from '../../src/core/quant/types.ts';

const T = GgufValueType;

describe('writeGguf', () => {
  it('round-trips every metadata type and tensors with padding', () => {
    const meta: GgufMetaEntry[] = [
      { key: 'general.alignment', value: 64, type: { type: T.UINT32 } },
      { key: 'u8', value: 255, type: { type: T.UINT8 } },
      { key: 'i8', value: -128, type: { type: T.INT8 } },
      { key: 'u16', value: 65535, type: { type: T.UINT16 } },
      { key: 'i16', value: -32768, type: { type: T.INT16 } },
      { key: 'i32', value: -7, type: { type: T.INT32 } },
      { key: 'f32', value: Math.fround(0.1), type: { type: T.FLOAT32 } },
      { key: 'f64', value: 0.1, type: { type: T.FLOAT64 } },
      { key: 'b', value: true, type: { type: T.BOOL } },
      { key: 's', value: 'héllo ▁世界', type: { type: T.STRING } },
      { key: 'u64', value: 2n ** 60n + 3n, type: { type: T.UINT64 } },
      { key: 'u64small', value: 12345, type: { type: T.UINT64 } },
      { key: 'i64', value: -(2n ** 62n), type: { type: T.INT64 } },
      { key: 'arr.s', value: ['a', '', 'ccc'], type: { type: T.ARRAY, arrayType: T.STRING } },
      { key: 'arr.f32', value: [1.5, -2], type: { type: T.ARRAY, arrayType: T.FLOAT32 } },
      { key: 'arr.i32', value: [1, -2, 3], type: { type: T.ARRAY, arrayType: T.INT32 } },
      { key: 'arr.empty', value: [], type: { type: T.ARRAY, arrayType: T.UINT8 } },
      { key: 'arr.nested', value: [['x', 'y'], ['z']], type: { type: T.ARRAY, arrayType: T.ARRAY } },
    ];
    const a = new Uint8Array(3 * 4 * 4).map((_, i) => i);
    const q = new Uint8Array(2 * 34).map((_, i) => 255 - i);
    const bytes = writeGguf(meta, [
      { name: 'a.weight', ne: [3, 4], type: GGMLType.F32, data: a },
      { name: 'q', ne: [32, 2], type: GGMLType.Q8_0, data: q },
    ]);
    const f = parseGguf(bytes);
    expect(f.version).toBe(3);
    expect(f.alignment).toBe(64);
    expect(f.dataOffset % 64).toBe(0);
    for (const m of meta) {
      expect(f.metadata.get(m.key), m.key).toEqual(m.value);
      expect(f.metadataTypes.get(m.key)!.type, m.key).toBe(m.type.type);
      if (m.type.arrayType !== undefined && (m.value as unknown[]).length) expect(f.metadataTypes.get(m.key)!.arrayType, m.key).toBe(m.type.arrayType);
    }
    expect([...f.metadata.keys()]).toEqual(meta.map((m) => m.key));
    expect(f.tensors.map((t) => [t.name, t.ne, t.type, t.offset])).toEqual([['a.weight', [3, 4], GGMLType.F32, 0], ['q', [32, 2], GGMLType.Q8_0, 64]]);
    expect(bytes.subarray(f.tensors[0].absOffset, f.tensors[0].absOffset + 48)).toEqual(a);
    expect(bytes.subarray(f.tensors[1].absOffset, f.tensors[1].absOffset + 68)).toEqual(q);
    expect(bytes.length).toBe(f.dataOffset + 64 + 128);
  });

  it('refuses wrong byte counts, out-of-range values and duplicate keys', () => {
    expect(() => writeGguf([], [{ name: 'x', ne: [32], type: GGMLType.Q8_0, data: new Uint8Array(33) }])).toThrow(/33 bytes, its type and dims need 34/);
    expect(() => writeGguf([{ key: 'k', value: 300, type: { type: T.UINT8 } }], [])).toThrow(/"k" = 300 is not an integer in 0..255/);
    expect(() => writeGguf([{ key: 'k', value: 1, type: { type: T.UINT8 } }, { key: 'k', value: 1, type: { type: T.UINT8 } }], [])).toThrow(/given twice/);
  });
});

function same(srcRel: string) {
  const src = readModelBytes(srcRel);
  const file = parseGguf(src);
  const model = loadGguf(src, { contextLength: 512 });
  const r = modifiedModelGguf({ file, bytes: src }, model, []);
  const back = parseGguf(r.bytes);
  expect([...back.metadata.entries()]).toEqual([...file.metadata.entries()]);
  expect([...back.metadataTypes.entries()]).toEqual([...file.metadataTypes.entries()]);
  expect(back.tensors.map((t) => [t.name, t.ne, t.type, t.nbytes])).toEqual(file.tensors.map((t) => [t.name, t.ne, t.type, t.nbytes]));
  for (let i = 0; i < file.tensors.length; i++) {
    const a = file.tensors[i];
    const b = back.tensors[i];
    expect(Buffer.from(r.bytes.subarray(b.absOffset, b.absOffset + b.nbytes)).equals(Buffer.from(src.subarray(a.absOffset, a.absOffset + a.nbytes))), a.name).toBe(true);
  }
}

describe('modifiedModelGguf on stories260K', () => {
  it('rewrites the F32 and llama.cpp Q8_0 files unchanged (metadata, types, tensor bytes)', () => {
    same('stories260K-gguf/stories260K.gguf');
    same('stories260K-gguf/quantized/stories260K-Q8_0.gguf');
  });

  it('an allocation with block 2 dropped and block 0 attention dropped: renumbered, packed, same logits', async () => {
    const srcBytes = readModelBytes('stories260K-gguf/stories260K.gguf');
    const file = parseGguf(srcBytes);
    const model = loadGguf(srcBytes, { contextLength: 512 });
    const alloc = {
      schema: ALLOCATION_SCHEMA, model: { name: 'stories260K', arch: 'llama', nLayers: 5 },
      layers: { 0: { format: 'Q8_0', drop: 'attn' }, 1: { format: 'Q4_0' }, 2: { drop: 'block' }, 3: { format: 'Q4_1' }, 4: { format: 'Q8_0' } },
    };
    const ap = applyAllocation(model, alloc);
    const r = modifiedModelGguf({ file, bytes: srcBytes }, ap.model, ap.interventions);
    expect(r.blockCount).toBe(4);
    expect(r.renumber).toEqual([0, 1, null, 2, 3]);
    const back = parseGguf(r.bytes);
    expect(back.metadata.get('llama.block_count')).toBe(4);
    for (const [k, v] of file.metadata) if (k !== 'llama.block_count') expect(back.metadata.get(k), k).toEqual(v);
    expect(back.tensors.length).toBe(file.tensors.length - 9);
    const out = loadModelFromFiles([{ name: 'x.gguf', bytes: r.bytes }], { contextLength: 512 });
    expect(out.spec.nLayers).toBe(4);
    // Renumbering by hand: new block 2 = old block 3 (Q4_1), new 3 = old 4 (Q8_0).
    for (const [nb, ob] of [[0, 0], [1, 1], [2, 3], [3, 4]]) {
      for (const s of ['attn_q', 'attn_k', 'ffn_gate', 'ffn_down', 'attn_norm']) {
        const got = out.tensors.get(`blk.${nb}.${s}`)!;
        const want = ap.model.tensors.get(`blk.${ob}.${s}`)!;
        expect(got.type, `blk.${nb}.${s}`).toBe(want.type);
        expect(Buffer.from(got.data).equals(Buffer.from(want.data)), `blk.${nb}.${s}`).toBe(true);
      }
    }
    expect(out.tensors.get('blk.2.attn_q')!.type).toBe(GGMLType.Q4_1);
    expect(out.tensors.get('blk.1.ffn_down')!.type).toBe(GGMLType.F16); // 172-value rows: fallback
    expect(out.tensors.get('blk.0.attn_output')!.data.every((b) => b === 0)).toBe(true);
    const ids = model.tokenizer.encode('Once upon a time, there was a little girl named Lily.', { addBos: true });
    const got = await new CpuBackend(out).forward(ids);
    const want = await new CpuBackend(ap.model).forward(ids, { interventions: [{ kind: 'skip-block', layer: 2 }, { kind: 'skip-attn', layer: 0 }] });
    const orig = await new CpuBackend(model).forward(ids);
    expectAllClose(got.logits, want.logits, { atol: 1e-5, rtol: 1e-5 });
    // And the edit is real: the logits differ from the unmodified model's.
    expect(Math.max(...got.logits.map((v, i) => Math.abs(v - orig.logits[i])))).toBeGreaterThan(0.1);
  });

  it('refuses a model that was not loaded from GGUF', () => {
    const m = loadModelFromFiles([
      { name: 'stories260K.bin', bytes: readModelBytes('stories260K/stories260K.bin') },
      { name: 'tok512.bin', bytes: readModelBytes('stories260K/tok512.bin') },
    ]);
    expect(() => modifiedModelGguf(null, m, [])).toThrow(/needs a GGUF source model \(this one is llama2c\)/);
  });
});
