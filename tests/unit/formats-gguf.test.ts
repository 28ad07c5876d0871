// GGUF reader: hand-built files (every metadata type, nested arrays, v2, alignment, n-D shapes, qwen2
// mapping) and the real files, checked against the facts their SOURCE.md files state.
import { describe, expect, it } from 'vitest';
import { ggufToModel, loadGguf, parseGguf } from '../../src/core/formats/gguf.ts';
import { GGMLType } from '../../src/core/quant/types.ts';
import { dequantize } from '../../src/core/quant/dequant.ts';
import { f16ToF32, f32ToF16 } from '../../src/core/tensor.ts';
import { readModelBytes } from '../helpers/models.ts';
import { T, dequantLegacy, expectLoadError, f32Bytes, f32View, ramp, sameBytes, stubTokenizer, tinyQwen2, writeGguf, type GgufTensorSpec } from './formats-fixtures.ts';

describe('parseGguf on a hand-built file', () => {
  const kv = [
    { key: 'general.architecture', type: T.STR, value: 'test' },
    { key: 'general.alignment', type: T.U32, value: 64 },
    { key: 'v.u8', type: T.U8, value: 250 },
    { key: 'v.i8', type: T.I8, value: -7 },
    { key: 'v.u16', type: T.U16, value: 65000 },
    { key: 'v.i16', type: T.I16, value: -30000 },
    { key: 'v.u32', type: T.U32, value: 4000000000 },
    { key: 'v.i32', type: T.I32, value: -2000000000 },
    { key: 'v.f32', type: T.F32, value: 0.5 },
    { key: 'v.bool', type: T.BOOL, value: true },
    { key: 'v.str', type: T.STR, value: 'héllo ▁wörld' },
    { key: 'v.u64', type: T.U64, value: 2n ** 40n },
    { key: 'v.u64big', type: T.U64, value: 2n ** 63n + 5n },
    { key: 'v.i64', type: T.I64, value: -(2n ** 41n) },
    { key: 'v.f64', type: T.F64, value: 1e-300 },
    { key: 'v.arr.str', type: T.ARR, value: ['a', '', 'ccc'], elem: [T.STR] },
    { key: 'v.arr.i32', type: T.ARR, value: [1, -2, 3], elem: [T.I32] },
    { key: 'v.arr.f32', type: T.ARR, value: [0.25, -1.5], elem: [T.F32] },
    { key: 'v.arr.empty', type: T.ARR, value: [], elem: [T.STR] },
    { key: 'v.arr.nested', type: T.ARR, value: [['x', 'y'], [], ['z']], elem: [T.ARR, T.STR] },
    { key: 'v.arr.nested2', type: T.ARR, value: [[[1], [2, 3]]], elem: [T.ARR, T.ARR, T.U16] },
  ];
  const tensors: GgufTensorSpec[] = [
    { name: 'vec', ne: [5], type: 0, data: ramp(5, 1) },
    { name: 'mat', ne: [3, 2], type: 0, data: ramp(6, 10) }, // ggml ne = [row length 3, rows 2]
    { name: 'cube', ne: [2, 3, 4], type: 1, data: new Uint8Array(2 * 24) },
  ];
  for (const version of [2, 3]) {
    it(`reads every metadata type, nested arrays and tensor infos (v${version})`, () => {
      const bytes = writeGguf({ version, kv, tensors, alignment: 64 });
      const f = parseGguf(bytes);
      expect(f.version).toBe(version);
      expect(f.alignment).toBe(64);
      expect(f.dataOffset % 64).toBe(0);
      const m = f.metadata;
      expect(m.get('v.u8')).toBe(250);
      expect(m.get('v.i8')).toBe(-7);
      expect(m.get('v.u16')).toBe(65000);
      expect(m.get('v.i16')).toBe(-30000);
      expect(m.get('v.u32')).toBe(4000000000);
      expect(m.get('v.i32')).toBe(-2000000000);
      expect(m.get('v.f32')).toBe(0.5);
      expect(m.get('v.bool')).toBe(true);
      expect(m.get('v.str')).toBe('héllo ▁wörld');
      expect(m.get('v.u64')).toBe(2 ** 40);
      expect(m.get('v.u64big')).toBe(2n ** 63n + 5n);
      expect(m.get('v.i64')).toBe(-(2 ** 41));
      expect(m.get('v.f64')).toBe(1e-300);
      expect(m.get('v.arr.str')).toEqual(['a', '', 'ccc']);
      expect(m.get('v.arr.i32')).toEqual([1, -2, 3]);
      expect(m.get('v.arr.f32')).toEqual([0.25, -1.5]);
      expect(m.get('v.arr.empty')).toEqual([]);
      expect(m.get('v.arr.nested')).toEqual([['x', 'y'], [], ['z']]);
      expect(m.get('v.arr.nested2')).toEqual([[[1], [2, 3]]]);
      expect(f.metadataTypes.get('v.arr.nested')).toEqual({ type: T.ARR, arrayType: T.ARR });
      expect(f.metadataTypes.get('v.u64')).toEqual({ type: T.U64 });
      expect(f.tensors.map((t) => [t.name, t.ne, t.typeName, t.nbytes])).toEqual([
        ['vec', [5], 'F32', 20],
        ['mat', [3, 2], 'F32', 24],
        ['cube', [2, 3, 4], 'F16', 48],
      ]);
      // Offsets are aligned to 64 and relative to the data section.
      expect(f.tensors.map((t) => t.offset)).toEqual([0, 64, 128]);
      expect(f32View(bytes.subarray(f.tensors[1].absOffset, f.tensors[1].absOffset + 24))).toEqual(f32View(ramp(6, 10)));
    });
  }

  it('defaults the alignment to 32', () => {
    const f = parseGguf(writeGguf({ kv: [{ key: 'a', type: T.U8, value: 1 }], tensors: [{ name: 'x', ne: [3], type: 0, data: ramp(3, 0) }, { name: 'y', ne: [1], type: 0, data: ramp(1, 0) }] }));
    expect(f.alignment).toBe(32);
    expect(f.dataOffset % 32).toBe(0);
    expect(f.tensors[1].offset).toBe(32);
  });
});

describe('ggufToModel on hand-built files', () => {
  it('maps qwen2 onto the llama graph with QKV biases, half RoPE and a tied head (v2 file)', () => {
    const bytes = tinyQwen2({ version: 2 });
    const m = loadGguf(bytes, { tokenizer: stubTokenizer(10) });
    expect(m.spec).toMatchObject({
      arch: 'llama', name: 'tiny-qwen', nLayers: 1, dModel: 8, nHeads: 2, nKvHeads: 1, headDim: 4, dFF: 12, vocabSize: 10,
      contextLength: 32, norm: { kind: 'rms' }, rope: { kind: 'half', theta: 1000000, dim: 4 }, mlp: 'silu-gate',
      tiedEmbeddings: true, qkvBias: true, linearBias: false, fusedQkv: false, addBos: false, bosId: null, eosId: 7,
    });
    expect(m.spec.norm.eps).toBeCloseTo(1e-6, 12);
    expect(m.tensors.get('blk.0.attn_q.bias')!.shape).toEqual([8]);
    expect(m.tensors.get('blk.0.attn_k')!.shape).toEqual([4, 8]);
    expect(m.tensors.get('blk.0.ffn_down')!.shape).toEqual([8, 12]);
    expect(m.tensors.has('output')).toBe(false);
    // Zero-copy: the view shares the file's buffer.
    expect(m.tensors.get('token_embd')!.data.buffer).toBe(bytes.buffer);
    expect(f32View(m.tensors.get('token_embd')!.data)).toEqual(f32View(ramp(80, 100)));
  });

  it('keeps an explicit output head (untied)', () => {
    const m = loadGguf(tinyQwen2({ withOutput: true }), { tokenizer: stubTokenizer(10) });
    expect(m.spec.tiedEmbeddings).toBe(false);
    expect(m.tensors.get('output')!.shape).toEqual([10, 8]);
  });

  it('names a missing bias', () => {
    expectLoadError(() => loadGguf(tinyQwen2({ omit: 'blk.0.attn_k.bias' }), { tokenizer: stubTokenizer(10) }), 'missing-tensor', 'blk.0.attn_k.bias');
  });

  it('wants a tokenizer when the file has none and no override is given', () => {
    expectLoadError(() => loadGguf(tinyQwen2()), 'tokenizer', 'no tokenizer');
  });

  it('rejects a tokenizer larger than the embedding', () => {
    expectLoadError(() => loadGguf(tinyQwen2(), { tokenizer: stubTokenizer(11) }), 'tokenizer', '11 tokens', '10 rows');
  });
});

describe('stories260K.gguf (SOURCE.md facts)', () => {
  const bytes = readModelBytes('stories260K-gguf/stories260K.gguf');
  const f = parseGguf(bytes);

  it('header, metadata and tensor infos', () => {
    expect(bytes.length).toBe(1185376);
    expect(f.version).toBe(3);
    expect(f.tensors.length).toBe(48);
    expect(f.metadata.size).toBe(19);
    expect(f.alignment).toBe(32);
    const m = f.metadata;
    expect(m.get('general.architecture')).toBe('llama');
    expect(m.get('general.name')).toBe('llama');
    expect(m.get('llama.embedding_length')).toBe(64);
    expect(m.get('llama.feed_forward_length')).toBe(172);
    expect(m.get('llama.block_count')).toBe(5);
    expect(m.get('llama.attention.head_count')).toBe(8);
    expect(m.get('llama.attention.head_count_kv')).toBe(4);
    expect(m.get('llama.rope.dimension_count')).toBe(8);
    expect(m.get('llama.context_length')).toBe(128);
    expect(m.get('llama.attention.layer_norm_rms_epsilon')).toBe(Math.fround(1e-5));
    expect(m.get('tokenizer.ggml.model')).toBe('llama');
    expect((m.get('tokenizer.ggml.tokens') as string[]).length).toBe(512);
    expect((m.get('tokenizer.ggml.scores') as number[]).length).toBe(512);
    expect((m.get('tokenizer.ggml.token_type') as number[]).length).toBe(512);
    expect(m.get('tokenizer.ggml.bos_token_id')).toBe(1);
    expect(m.get('tokenizer.ggml.eos_token_id')).toBe(2);
    expect(m.get('tokenizer.ggml.unknown_token_id')).toBe(0);
    const byName = new Map(f.tensors.map((t) => [t.name, t]));
    expect(byName.get('blk.0.attn_q.weight')!.ne).toEqual([64, 64]);
    expect(byName.get('blk.0.attn_k.weight')!.ne).toEqual([64, 32]);
    expect(byName.get('blk.0.ffn_gate.weight')!.ne).toEqual([64, 172]);
    expect(byName.get('blk.0.ffn_down.weight')!.ne).toEqual([172, 64]);
    expect(f.tensors.every((t) => t.typeName === 'F32')).toBe(true);
    // Tensor data is contiguous and ends at the end of the file.
    expect(Math.max(...f.tensors.map((t) => t.absOffset + t.nbytes))).toBe(bytes.length);
  });

  it('spec, canonical shapes and the context-length override', () => {
    const m = ggufToModel(f, bytes, { contextLength: 512 });
    expect(m.spec).toMatchObject({
      arch: 'llama', nLayers: 5, dModel: 64, nHeads: 8, nKvHeads: 4, headDim: 8, dFF: 172, vocabSize: 512, contextLength: 512,
      norm: { kind: 'rms' }, rope: { kind: 'adjacent', theta: 10000, dim: 8 }, mlp: 'silu-gate', tiedEmbeddings: false,
      qkvBias: false, linearBias: false, fusedQkv: false, bosId: 1, eosId: 2, addBos: true,
    });
    expect(m.meta.storedContextLength).toBe(128);
    expect(ggufToModel(f, bytes).spec.contextLength).toBe(128);
    expect(m.tensors.size).toBe(48);
    expect(m.tensors.get('blk.4.attn_k')!.shape).toEqual([32, 64]);
    expect(m.tensors.get('blk.4.ffn_down')!.shape).toEqual([64, 172]);
    expect(m.tensors.get('output')!.shape).toEqual([512, 64]);
    expect(m.tensors.get('output_norm')!.shape).toEqual([64]);
    expect([...m.tensors.keys()].some((k) => k.endsWith('.weight'))).toBe(false);
    expect(m.tokenizer.vocabSize).toBe(512);
  });

  it('headerOnly parses a prefix that holds only the header', () => {
    const prefix = bytes.subarray(0, f.dataOffset);
    const h = parseGguf(prefix, { headerOnly: true });
    expect(h.tensors.length).toBe(48);
    expect(h.metadata.get('llama.block_count')).toBe(5);
    expectLoadError(() => parseGguf(prefix), 'truncated', 'expected', 'at least');
  });
});

// Per-tensor types of the quantized files, as their SOURCE.md tabulates them.
const QFILES = ['Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'MIXED-Q8_0-Q4_0'] as const;
const QSIZES: Record<string, number> = { Q8_0: 379168, Q4_0: 277024, Q4_1: 289632, Q5_0: 302560, Q5_1: 315168, 'MIXED-Q8_0-Q4_0': 311328 };
const QFTYPE: Record<string, number> = { Q8_0: 7, Q4_0: 2, Q4_1: 3, Q5_0: 8, Q5_1: 9, 'MIXED-Q8_0-Q4_0': 2 };
function sourceMdType(file: string, tensor: string): string {
  if (tensor.endsWith('_norm.weight')) return 'F32';
  if (tensor.includes('ffn_down')) return 'F16';
  if (tensor === 'output.weight') return 'Q8_0';
  if (file !== 'MIXED-Q8_0-Q4_0') return file;
  const m = /^blk\.(\d+)\./.exec(tensor);
  return m && (m[1] === '0' || m[1] === '4') ? 'Q8_0' : 'Q4_0';
}

describe('quantized stories260K GGUFs (SOURCE.md)', () => {
  const ref = readModelBytes('stories260K-gguf/stories260K.gguf');
  const refModel = loadGguf(ref);
  for (const q of QFILES) {
    it(`stories260K-${q}.gguf: layout, per-tensor types and values near the F32 weights`, () => {
      const bytes = readModelBytes(`stories260K-gguf/quantized/stories260K-${q}.gguf`);
      expect(bytes.length).toBe(QSIZES[q]);
      const f = parseGguf(bytes);
      expect(f.version).toBe(3);
      expect(f.alignment).toBe(32);
      expect(f.dataOffset).toBe(14240);
      expect(f.metadata.size).toBe(21);
      expect(f.metadata.get('general.file_type')).toBe(QFTYPE[q]);
      expect(f.metadata.get('general.quantization_version')).toBe(2);
      expect(f.tensors.length).toBe(48);
      expect(f.tensors.slice(0, 3).map((t) => t.name)).toEqual(['output.weight', 'output_norm.weight', 'token_embd.weight']);
      for (const t of f.tensors) expect(`${t.name} ${t.typeName}`).toBe(`${t.name} ${sourceMdType(q, t.name)}`);
      const counts: Record<string, number> = {};
      for (const t of f.tensors) counts[t.typeName] = (counts[t.typeName] ?? 0) + 1;
      if (q === 'Q8_0') expect(counts).toEqual({ Q8_0: 32, F16: 5, F32: 11 });
      else if (q === 'MIXED-Q8_0-Q4_0') expect(counts).toEqual({ Q8_0: 13, Q4_0: 19, F16: 5, F32: 11 });
      else expect(counts).toEqual({ [q]: 31, Q8_0: 1, F16: 5, F32: 11 });

      const m = ggufToModel(f, bytes);
      expect({ ...m.spec, name: '' }).toEqual({ ...refModel.spec, name: '' });
      for (const [name, t] of m.tensors) {
        const r = refModel.tensors.get(name)!;
        expect(t.shape).toEqual(r.shape);
        const want = f32View(r.data);
        const tn = sourceMdType(q, `${name}.weight`);
        if (tn === 'F32') {
          expect(sameBytes(t.data, r.data), name).toBe(true);
        } else if (tn === 'F16') {
          // F16 is F32 rounded to nearest even: bit-exact.
          const dv = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
          for (let i = 0; i < want.length; i++) {
            if (dv.getUint16(2 * i, true) !== f32ToF16(want[i])) throw new Error(`${name}[${i}]: f16 ${dv.getUint16(2 * i, true)} vs ${f32ToF16(want[i])}`);
          }
          expect(f16ToF32(dv.getUint16(0, true))).toBeCloseTo(want[0], 3);
        } else {
          // Block formats: each value within the block's rounding step of the F32 weight
          // (half a step for round-to-nearest; a full step where Q4_0/Q5_0 clamp the top code).
          const { x, d } = dequantLegacy(tn, t.data, want.length / 32);
          const k = tn === 'Q4_0' || tn === 'Q5_0' ? 1.01 : 0.6;
          let worst = 0;
          for (let i = 0; i < want.length; i++) {
            const lim = k * d[i >> 5] + 1e-6 + 2 ** -10 * Math.abs(want[i]);
            worst = Math.max(worst, Math.abs(x[i] - want[i]) / lim);
          }
          expect(worst, `${name} (${tn}) worst error / bound`).toBeLessThanOrEqual(1);
          // The project's dequantizer agrees bit for bit with this test's own block decoder.
          const theirs = dequantize(t.type, t.data, want.length);
          expect(sameBytes(new Uint8Array(theirs.buffer, theirs.byteOffset, theirs.byteLength), new Uint8Array(x.buffer)), `${name} dequantize`).toBe(true);
        }
      }
      expect(m.tensors.get('output')!.type).toBe(GGMLType.Q8_0);
    });
  }
});

describe('wild/llama-2-tiny-random.gguf (another converter)', () => {
  const bytes = readModelBytes('wild/llama-2-tiny-random/llama-2-tiny-random.gguf');
  it('parses and maps as SOURCE.md says', () => {
    expect(bytes.length).toBe(1750560);
    const f = parseGguf(bytes);
    expect(f.version).toBe(3);
    const m = ggufToModel(f, bytes);
    expect(m.spec).toMatchObject({
      arch: 'llama', nLayers: 1, dModel: 8, nHeads: 2, nKvHeads: 2, headDim: 4, dFF: 32, vocabSize: 32000, contextLength: 4096,
      rope: { kind: 'adjacent', theta: 10000, dim: 4 }, tiedEmbeddings: false, bosId: 1, eosId: 2, addBos: true,
    });
    expect(m.spec.norm).toEqual({ kind: 'rms', eps: Math.fround(1e-5) });
    for (const [name, t] of m.tensors) {
      expect(t.type, name).toBe(name.endsWith('_norm') ? GGMLType.F32 : GGMLType.F16);
    }
    expect(m.tensors.get('token_embd')!.shape).toEqual([32000, 8]);
    expect(m.tensors.get('output')!.shape).toEqual([32000, 8]);
    expect(m.tensors.get('blk.0.ffn_down')!.shape).toEqual([8, 32]);
    expect(m.tensors.get('token_embd')!.data.length).toBe(32000 * 8 * 2);
    const toks = f.metadata.get('tokenizer.ggml.tokens') as string[];
    const types = f.metadata.get('tokenizer.ggml.token_type') as number[];
    // Llama 2 vocabulary: <unk>, <s>, </s>, then byte tokens <0x00>.. (newline = id 13).
    expect(toks.slice(0, 3)).toEqual(['<unk>', '<s>', '</s>']);
    expect(toks[13]).toBe('<0x0A>');
    expect(types.slice(0, 4)).toEqual([2, 3, 3, 6]);
    expect(m.tokenizer.vocabSize).toBe(32000);
    // The F16 values are real numbers, not garbage from a wrong offset.
    const emb = m.tensors.get('token_embd')!.data;
    const dv = new DataView(emb.buffer, emb.byteOffset, emb.byteLength);
    let maxAbs = 0;
    for (let i = 0; i < 32000 * 8; i++) maxAbs = Math.max(maxAbs, Math.abs(f16ToF32(dv.getUint16(2 * i, true))));
    expect(maxAbs).toBeGreaterThan(0);
    expect(maxAbs).toBeLessThan(100);
  });
});

describe('kjv-gpt2-8L.gguf', () => {
  it('maps the gpt2 architecture', () => {
    const bytes = readModelBytes('kjv-gpt2-8L/kjv-gpt2-8L.gguf');
    const m = loadGguf(bytes);
    expect(m.spec).toMatchObject({
      arch: 'gpt2', nLayers: 8, dModel: 128, nHeads: 4, nKvHeads: 4, headDim: 32, dFF: 512, vocabSize: 256, contextLength: 256,
      norm: { kind: 'layer' }, rope: { kind: 'none' }, learnedPositions: true, mlp: 'gelu', qkvBias: true, linearBias: true,
      fusedQkv: true, bosId: 10, eosId: 10, addBos: false, tiedEmbeddings: false,
    });
    expect(m.tensors.size).toBe(101);
    expect(m.tensors.get('blk.0.attn_qkv')!.shape).toEqual([384, 128]);
    expect(m.tensors.get('blk.0.attn_qkv.bias')!.shape).toEqual([384]);
    expect(m.tensors.get('position_embd')!.shape).toEqual([256, 128]);
    expect(m.tensors.get('blk.7.ffn_down')!.shape).toEqual([128, 512]);
    expect(m.tensors.get('output_norm.bias')!.shape).toEqual([128]);
    expect(m.meta.tensorTypes).toBe('F32:101');
    expectLoadError(() => loadGguf(bytes, { contextLength: 257 }), 'bad-metadata', '256 learned positions');
    expect(loadGguf(bytes, { contextLength: 64 }).spec.contextLength).toBe(64);
  });

  it('the byte view equals the value written (spot check through a float view)', () => {
    const bytes = readModelBytes('kjv-gpt2-8L/kjv-gpt2-8L.gguf');
    const m = loadGguf(bytes);
    const ln = f32View(m.tensors.get('blk.0.attn_norm')!.data);
    // LayerNorm gains of a trained model sit around 1.
    const mean = ln.reduce((a, b) => a + b, 0) / ln.length;
    expect(mean).toBeGreaterThan(0.3);
    expect(mean).toBeLessThan(3);
    void f32Bytes;
  });
});
