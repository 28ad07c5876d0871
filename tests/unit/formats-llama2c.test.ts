// llama2.c checkpoints: stories260K.bin + tok512.bin against its SOURCE.md, bit-identical to the
// GGUF conversion made by llama.cpp's converter (an independent reader of the same bytes), and a
// hand-built untied checkpoint (negative vocab_size: wcls stored after the RoPE tables).
import { describe, expect, it } from 'vitest';
import { loadGguf } from '../../src/core/formats/gguf.ts';
import { isLlama2cCheckpoint, isLlama2cTokenizer, llama2cExpectedBytes, loadLlama2c, parseLlama2cHeader } from '../../src/core/formats/llama2c.ts';
import { GGMLType } from '../../src/core/quant/types.ts';
import { readModelBytes, readRef } from '../helpers/models.ts';
import { expectLoadError, f32View, sameBytes, stubTokenizer } from './formats-fixtures.ts';

const ckpt = readModelBytes('stories260K/stories260K.bin');
const tok = readModelBytes('stories260K/tok512.bin');

describe('stories260K.bin', () => {
  it('header as SOURCE.md tabulates it', () => {
    expect(ckpt.length).toBe(1056540);
    const h = parseLlama2cHeader(ckpt);
    expect(h).toEqual({ dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 512, sharedClassifier: true });
    expect(llama2cExpectedBytes(h)).toBe(1056540);
    expect(isLlama2cCheckpoint(ckpt)).toBe(true);
    expect(isLlama2cCheckpoint(tok)).toBe(false);
    expect(isLlama2cTokenizer(tok)).toBe(true);
    expect(isLlama2cTokenizer(ckpt)).toBe(false);
  });

  it('spec, 260,032 parameters, tied head, context from the header', () => {
    const m = loadLlama2c({ checkpoint: ckpt, tokenizer: tok }, { name: 'stories260K' });
    expect(m.spec).toEqual({
      arch: 'llama', name: 'stories260K', nLayers: 5, dModel: 64, nHeads: 8, nKvHeads: 4, headDim: 8, dFF: 172, vocabSize: 512,
      contextLength: 512, norm: { kind: 'rms', eps: 1e-5 }, rope: { kind: 'adjacent', theta: 10000, dim: 8 }, learnedPositions: false,
      mlp: 'silu-gate', tiedEmbeddings: true, qkvBias: false, linearBias: false, fusedQkv: false, bosId: 1, eosId: 2, addBos: true,
    });
    let params = 0;
    for (const t of m.tensors.values()) {
      expect(t.type).toBe(GGMLType.F32);
      expect(t.data.length).toBe(4 * t.shape.reduce((a, b) => a * b, 1));
      expect(t.data.buffer).toBe(ckpt.buffer); // zero-copy
      params += t.shape.reduce((a, b) => a * b, 1);
    }
    expect(params).toBe(260032);
    expect(m.tensors.has('output')).toBe(false);
    expect(m.tensors.get('blk.0.attn_k')!.shape).toEqual([32, 64]);
    expect(m.tensors.get('blk.0.ffn_gate')!.shape).toEqual([172, 64]);
    expect(m.tensors.get('blk.0.ffn_down')!.shape).toEqual([64, 172]);
    // The first weight starts right after the 28-byte header; rms_att of block 0 right after the embedding.
    expect(sameBytes(m.tensors.get('token_embd')!.data.subarray(0, 8), ckpt.subarray(28, 36))).toBe(true);
    const rmsAt = 28 + 4 * 512 * 64;
    expect(sameBytes(m.tensors.get('blk.0.attn_norm')!.data, ckpt.subarray(rmsAt, rmsAt + 256))).toBe(true);
    expect(loadLlama2c({ checkpoint: ckpt, tokenizer: tok }, { contextLength: 256 }).spec.contextLength).toBe(256);
  });

  it('tokenizer wiring: the reference prompt ids (BOS prepended)', () => {
    const m = loadLlama2c({ checkpoint: ckpt, tokenizer: tok });
    const greedy = readRef<{ prompt_ids: number[] }>('stories260K/greedy.json');
    expect(m.tokenizer.encode('Once upon a time')).toEqual(greedy.prompt_ids);
    expect(m.tokenizer.vocabSize).toBe(512);
  });

  it('every tensor is bit-identical to stories260K.gguf (written by llama.cpp from the same file)', () => {
    const a = loadLlama2c({ checkpoint: ckpt, tokenizer: tok });
    const g = loadGguf(readModelBytes('stories260K-gguf/stories260K.gguf'));
    expect(g.tensors.size).toBe(a.tensors.size + 1); // + the GGUF's explicit copy of the embedding as output
    for (const [name, t] of g.tensors) {
      const mine = a.tensors.get(name === 'output' ? 'token_embd' : name)!;
      expect(mine, name).toBeDefined();
      expect(mine.shape, name).toEqual(t.shape);
      expect(mine.type).toBe(t.type);
      expect(sameBytes(mine.data, t.data), name).toBe(true);
    }
    // Same graph facts (the GGUF's stored context is 128; the real one is 512).
    expect({ ...g.spec, contextLength: 0, name: '', tiedEmbeddings: true }).toEqual({
      ...a.spec, contextLength: 0, name: '', norm: { kind: 'rms', eps: Math.fround(1e-5) },
    });
  });
});

/** A hand-built llama2.c checkpoint; vocab_size < 0 means an untied classifier follows the RoPE tables. */
function tinyCheckpoint(shared: boolean): { bytes: Uint8Array; wclsAt: number } {
  const dim = 4, hidden = 6, L = 1, heads = 2, kvHeads = 1, V = 5, seq = 3;
  const hd = dim / heads;
  const kv = hd * kvHeads;
  const floats = V * dim + L * dim + L * dim * dim + 2 * L * kv * dim + L * dim * dim + L * dim + 3 * L * hidden * dim + dim + seq * hd + (shared ? 0 : V * dim);
  const buf = new ArrayBuffer(28 + 4 * floats);
  new Int32Array(buf, 0, 7).set([dim, hidden, L, heads, kvHeads, shared ? V : -V, seq]);
  const f = new Float32Array(buf, 28);
  for (let i = 0; i < f.length; i++) f[i] = i;
  return { bytes: new Uint8Array(buf), wclsAt: 28 + 4 * (floats - V * dim) };
}

describe('hand-built checkpoints', () => {
  it('untied: output = wcls, after the skipped RoPE tables', () => {
    const { bytes, wclsAt } = tinyCheckpoint(false);
    const m = loadLlama2c({ checkpoint: bytes, tokenizer: null }, { tokenizer: stubTokenizer(5) });
    expect(m.spec.tiedEmbeddings).toBe(false);
    expect(m.spec.contextLength).toBe(3);
    const out = m.tensors.get('output')!;
    expect(out.shape).toEqual([5, 4]);
    expect(sameBytes(out.data, bytes.subarray(wclsAt, wclsAt + 80))).toBe(true);
    // Index arithmetic by hand: token_embd holds floats 0..19, rms_att 20..23, wq 24..39, wk 40..47,
    // wv 48..55, wo 56..71, rms_ffn 72..75, w1 76..99, w2 100..123, w3 124..147, rms_final 148..151.
    const first = (n: string): number => f32View(m.tensors.get(n)!.data)[0];
    expect([first('token_embd'), first('blk.0.attn_norm'), first('blk.0.attn_q'), first('blk.0.attn_k'), first('blk.0.attn_v')]).toEqual([0, 20, 24, 40, 48]);
    expect([first('blk.0.attn_output'), first('blk.0.ffn_norm'), first('blk.0.ffn_gate'), first('blk.0.ffn_down'), first('blk.0.ffn_up'), first('output_norm')]).toEqual([
      56, 72, 76, 100, 124, 148,
    ]);
    // 152 + seq_len * head_size (= 3 * 2) RoPE floats skipped: wcls starts at float 158.
    expect(first('output')).toBe(158);
  });

  it('shared: no output tensor', () => {
    const m = loadLlama2c({ checkpoint: tinyCheckpoint(true).bytes, tokenizer: null }, { tokenizer: stubTokenizer(5) });
    expect(m.spec.tiedEmbeddings).toBe(true);
    expect(m.tensors.has('output')).toBe(false);
  });

  it('a checkpoint without a tokenizer is an incomplete set', () => {
    expectLoadError(() => loadLlama2c({ checkpoint: ckpt, tokenizer: null }), 'incomplete-files', 'tokenizer');
  });

  it('a padded checkpoint loads and reports the trailing bytes', () => {
    const padded = new Uint8Array(ckpt.length + 12);
    padded.set(ckpt);
    const m = loadLlama2c({ checkpoint: padded, tokenizer: tok });
    expect(m.meta.trailingBytes).toBe(12);
  });
});
