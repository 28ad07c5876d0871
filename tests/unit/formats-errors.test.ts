// Bad files: truncated at many points, flipped magic, corrupt type ids and lengths, unknown
// architecture, missing tensor, shapes that disagree with the metadata, old versions; plus a seeded
// fuzz of header bytes. Every case must end in a LoadError with a message and a hint, quickly:
// never a RangeError, never a hang, never a huge allocation.
import { describe, expect, it } from 'vitest';
import { LoadError } from '../../src/core/formats/errors.ts';
import { loadGguf, parseGguf } from '../../src/core/formats/gguf.ts';
import { loadLlama2c } from '../../src/core/formats/llama2c.ts';
import { loadModelFromFiles } from '../../src/core/formats/load.ts';
import { loadSafetensors, parseSafetensors } from '../../src/core/formats/safetensors.ts';
import { mulberry32 } from '../../src/core/tensor.ts';
import { readModelBytes } from '../helpers/models.ts';
import { T, expectLoadError, findGgufString, patched, ramp, writeGguf } from './formats-fixtures.ts';

const gguf = readModelBytes('stories260K-gguf/stories260K.gguf');
const q8 = readModelBytes('stories260K-gguf/quantized/stories260K-Q8_0.gguf');
const wild = readModelBytes('wild/llama-2-tiny-random/llama-2-tiny-random.gguf');
const ckpt = readModelBytes('stories260K/stories260K.bin');
const tok = readModelBytes('stories260K/tok512.bin');
const st = readModelBytes('kjv-gpt2-8L/model.safetensors');
const dec = new TextDecoder();
const config = JSON.parse(dec.decode(readModelBytes('kjv-gpt2-8L/config.json'))) as object;
const tokenizerJson = JSON.parse(dec.decode(readModelBytes('kjv-gpt2-8L/tokenizer.json'))) as object;

const BIG = 2n ** 60n;

/** Cut points: the first bytes one by one, then spread over the header and the data. */
function cuts(len: number, headerEnd: number): number[] {
  const s = new Set<number>();
  for (let i = 0; i <= 40; i++) s.add(i);
  for (let k = 1; k < 40; k++) s.add(Math.floor((headerEnd * k) / 40));
  for (const x of [headerEnd - 1, headerEnd, headerEnd + 1, Math.floor(len / 2), len - 4, len - 1]) s.add(x);
  return [...s].filter((x) => x >= 0 && x < len).sort((a, b) => a - b);
}

describe('truncated files', () => {
  for (const [label, bytes] of [['stories260K.gguf', gguf], ['stories260K-Q8_0.gguf', q8], ['llama-2-tiny-random.gguf', wild]] as const) {
    it(`${label}: every cut throws LoadError (empty / truncated) saying expected vs present`, () => {
      const f = parseGguf(bytes);
      // The data may end before the file does (padding after the last tensor): cut inside the data.
      const dataEnd = Math.max(...f.tensors.map((t) => t.absOffset + t.nbytes));
      const t0 = performance.now();
      for (const n of cuts(dataEnd, f.dataOffset)) {
        const cut = bytes.subarray(0, n);
        const e = expectLoadError(() => loadGguf(cut), n === 0 ? 'empty' : n < 4 ? 'truncated' : undefined);
        if (n > 0) {
          expect(e.code, `cut at ${n}: ${e.message}`).toBe('truncated');
          expect(e.message).toMatch(/bytes/);
          expect(e.message).toContain(n.toLocaleString('en-US'));
        }
      }
      expect(performance.now() - t0).toBeLessThan(20_000);
    });
  }

  it('llama2.c checkpoint: every cut says how many bytes the header needs', () => {
    for (const n of cuts(ckpt.length, 28)) {
      const e = expectLoadError(() => loadLlama2c({ checkpoint: ckpt.subarray(0, n), tokenizer: tok }), n === 0 ? 'empty' : 'truncated');
      if (n >= 28) expect(e.message).toContain('needs 1,056,540 bytes');
    }
  });

  it('llama2.c tokenizer cut short', () => {
    for (const n of [1, 3, 4, 8, 100, tok.length - 1]) {
      expectLoadError(() => loadLlama2c({ checkpoint: ckpt, tokenizer: tok.subarray(0, n) }), 'truncated', 'tokenizer');
    }
  });

  it('safetensors: every cut throws LoadError', () => {
    const headerEnd = parseSafetensors(st).dataOffset;
    for (const n of cuts(st.length, headerEnd)) {
      const e = expectLoadError(() => loadSafetensors({ config, weights: [st.subarray(0, n)], tokenizerJson }));
      expect(['empty', 'truncated', 'bad-header']).toContain(e.code);
      if (n >= headerEnd) expect(e.code).toBe('truncated');
      if (n > 8 && n < headerEnd) expect(e.message).toMatch(/header claims [\d,]+ bytes but only [\d,]+ bytes? follow/);
    }
  });

  it('through loadModelFromFiles too', () => {
    expectLoadError(() => loadModelFromFiles([{ name: 'm.gguf', bytes: gguf.subarray(0, 5000) }]), 'truncated');
    expectLoadError(() => loadModelFromFiles([{ name: 'stories260K.bin', bytes: ckpt.subarray(0, 5000) }, { name: 'tok512.bin', bytes: tok }]), 'truncated', 'needs 1,056,540 bytes', '5,000 bytes');
    expectLoadError(() => loadModelFromFiles([{ name: 'stories260K.bin', bytes: ckpt.subarray(0, 10) }, { name: 'tok512.bin', bytes: tok }]), 'truncated');
    expectLoadError(
      () => loadModelFromFiles([{ name: 'model.safetensors', bytes: st.subarray(0, 100000) }, { name: 'config.json', bytes: readModelBytes('kjv-gpt2-8L/config.json') }, { name: 'tokenizer.json', bytes: readModelBytes('kjv-gpt2-8L/tokenizer.json') }]),
      'truncated',
    );
  });
});

describe('bad magic and versions', () => {
  it('GGUF magic flipped; what the file looks like instead', () => {
    expectLoadError(() => parseGguf(patched(gguf, (_, b) => (b[3] = 0x45))), 'bad-magic', '"GGUE"', 'expected "GGUF"');
    const lfs = new TextEncoder().encode('version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 1185376\n');
    expectLoadError(() => loadModelFromFiles([{ name: 'model.gguf', bytes: lfs }]), 'bad-magic', 'Git LFS pointer');
    expectLoadError(() => parseGguf(st), 'bad-magic', 'safetensors');
    expectLoadError(() => parseGguf(ckpt), 'bad-magic');
  });

  it('GGUF v1, a future version and a big-endian file', () => {
    expectLoadError(() => parseGguf(patched(gguf, (dv) => dv.setUint32(4, 1, true))), 'unsupported-version', 'unsupported GGUF version 1');
    expectLoadError(() => parseGguf(patched(gguf, (dv) => dv.setUint32(4, 4, true))), 'unsupported-version', 'version 4');
    expectLoadError(() => parseGguf(patched(gguf, (dv) => dv.setUint32(4, 3, false))), 'unsupported-version', 'big-endian');
  });

  it('safetensors header that is not JSON, or whose length is absurd', () => {
    expectLoadError(() => parseSafetensors(patched(st, (_, b) => (b[8] = 0x78))), 'bad-header');
    expectLoadError(() => parseSafetensors(patched(st, (dv) => dv.setBigUint64(0, BIG, true))), 'bad-header', 'implausible');
    expectLoadError(() => parseSafetensors(patched(st, (dv) => dv.setBigUint64(0, 10n ** 7n, true))), 'truncated', 'header claims 10,000,000 bytes');
    expectLoadError(() => parseSafetensors(gguf), 'bad-header');
  });

  it('llama2.c header that is not one', () => {
    expectLoadError(() => loadLlama2c({ checkpoint: tok, tokenizer: tok }), 'bad-header', 'not a valid checkpoint header', 'hidden_dim = 0');
    expectLoadError(() => loadLlama2c({ checkpoint: patched(ckpt, (dv) => dv.setInt32(12, 7, true)), tokenizer: tok }), 'bad-header', 'n_heads');
    expectLoadError(() => loadLlama2c({ checkpoint: patched(ckpt, (dv) => dv.setUint32(0, 0x616b3432, true)), tokenizer: tok }), 'unsupported-version', 'ak42');
    expectLoadError(() => loadLlama2c({ checkpoint: ckpt, tokenizer: ckpt }), 'bad-header', 'tokenizer');
  });
});

describe('corrupt GGUF headers', () => {
  // Tensor info: u64 name length, name, u32 n_dims, u64 ne[n_dims], u32 type, u64 offset.
  const typeAt = (bytes: Uint8Array, name: string, nDims: number): number => {
    const p = findGgufString(bytes, name, 1000);
    return p + 8 + name.length + 4 + 8 * nDims;
  };

  it('unknown tensor type id', () => {
    const bad = patched(q8, (dv) => dv.setUint32(typeAt(q8, 'output.weight', 2), 0xee, true));
    expectLoadError(() => parseGguf(bad), 'unknown-type', '"output.weight"', 'type id 238');
  });

  it('a known type the engine cannot compute with is named with its tensor', () => {
    const bad = patched(q8, (dv) => dv.setUint32(typeAt(q8, 'output.weight', 2), 20, true)); // IQ4_NL, block 32
    expect(parseGguf(bad).tensors[0].typeName).toBe('IQ4_NL');
    expectLoadError(() => loadGguf(bad), 'unsupported-type', '"output"', 'IQ4_NL', 'Q8_0');
  });

  it('a type whose block does not divide the row', () => {
    const bad = patched(q8, (dv) => dv.setUint32(typeAt(q8, 'output.weight', 2), 12, true)); // Q4_K, block 256 > 64
    expectLoadError(() => parseGguf(bad), 'bad-shape', 'output.weight', '256');
  });

  it('string and array lengths of 2^60 do not allocate', () => {
    // First metadata key length (right after the 24-byte header).
    expectLoadError(() => parseGguf(patched(gguf, (dv) => dv.setBigUint64(24, BIG, true))), 'truncated', 'length of metadata key #0');
    // A token string inside tokenizer.ggml.tokens: the entry "<unk>" (id 0).
    const tokPos = findGgufString(gguf, '<unk>');
    expectLoadError(() => parseGguf(patched(gguf, (dv) => dv.setBigUint64(tokPos, BIG, true))), 'truncated', 'tokenizer.ggml.tokens');
    // The element count of the tokens array: key, u32 type 9, u32 element type 8, u64 count.
    const keyPos = findGgufString(gguf, 'tokenizer.ggml.tokens');
    const countAt = keyPos + 8 + 'tokenizer.ggml.tokens'.length + 8;
    expect(new DataView(gguf.buffer, gguf.byteOffset).getBigUint64(countAt, true)).toBe(512n);
    expectLoadError(() => parseGguf(patched(gguf, (dv) => dv.setBigUint64(countAt, BIG, true))), 'truncated', 'element count');
    // Tensor and metadata counts.
    expectLoadError(() => parseGguf(patched(gguf, (dv) => dv.setBigUint64(8, BIG, true))), 'truncated', 'tensor count');
    expectLoadError(() => parseGguf(patched(gguf, (dv) => dv.setBigUint64(16, 2n ** 40n, true))), 'truncated', 'metadata count');
    // A tensor name length.
    const namePos = findGgufString(gguf, 'blk.2.attn_v.weight', 1000);
    expectLoadError(() => parseGguf(patched(gguf, (dv) => dv.setBigUint64(namePos, BIG, true))), 'truncated');
  });

  it('corrupt value type, n_dims, huge dimension, tensor offset', () => {
    const keyPos = findGgufString(gguf, 'llama.block_count');
    const vt = keyPos + 8 + 'llama.block_count'.length;
    expectLoadError(() => parseGguf(patched(gguf, (dv) => dv.setUint32(vt, 99, true))), 'bad-metadata', 'llama.block_count', 'value type 99');
    const name = 'blk.1.ffn_norm.weight';
    const p = findGgufString(gguf, name, 1000) + 8 + name.length;
    expectLoadError(() => parseGguf(patched(gguf, (dv) => dv.setUint32(p, 9, true))), 'bad-header', 'dimensions');
    expectLoadError(() => parseGguf(patched(gguf, (dv) => dv.setBigUint64(p + 4, 2n ** 62n, true))), 'bad-header', name);
    expectLoadError(() => parseGguf(patched(gguf, (dv) => dv.setBigUint64(p + 4, 2n ** 40n, true))), 'truncated', name);
    const offAt = p + 4 + 8 + 4;
    expectLoadError(() => parseGguf(patched(gguf, (dv) => dv.setBigUint64(offAt, BIG, true))), 'truncated', name);
    expectLoadError(() => parseGguf(patched(gguf, (dv) => dv.setBigUint64(offAt, 4n, true))), 'bad-header', 'alignment');
  });

  it('unknown architecture names itself and the supported list', () => {
    const p = findGgufString(gguf, 'general.architecture') + 8 + 'general.architecture'.length + 4;
    const bad = patched(gguf, (_, b) => b.set(new TextEncoder().encode('bloom'), p + 8));
    expectLoadError(() => loadGguf(bad), 'unsupported-architecture', '"bloom"', 'llama, qwen2, gpt2');
  });

  it('missing tensor is named', () => {
    const p = findGgufString(gguf, 'blk.3.ffn_up.weight', 1000);
    const bad = patched(gguf, (_, b) => b.set(new TextEncoder().encode('blk.3.ffn_uX.weight'), p + 8));
    expectLoadError(() => loadGguf(bad), 'missing-tensor', '"blk.3.ffn_up"');
  });

  it('shapes that disagree with the metadata name tensor, expected and got', () => {
    const at = (key: string): number => findGgufString(gguf, key) + 8 + key.length + 4;
    expectLoadError(() => loadGguf(patched(gguf, (dv) => dv.setUint32(at('llama.feed_forward_length'), 173, true))), 'bad-shape', '"blk.0.ffn_gate"', '[172, 64]', '[173, 64]');
    expectLoadError(() => loadGguf(patched(gguf, (dv) => dv.setUint32(at('llama.attention.head_count_kv'), 8, true))), 'bad-shape', '"blk.0.attn_k"', '[32, 64]', '[64, 64]');
    expectLoadError(() => loadGguf(patched(gguf, (dv) => dv.setUint32(at('llama.block_count'), 4, true))), 'bad-shape', '5 blocks', '4 layers');
    expectLoadError(() => loadGguf(patched(gguf, (dv) => dv.setUint32(at('llama.block_count'), 6, true))), 'missing-tensor', 'blk.5.attn_norm');
    expectLoadError(() => loadGguf(patched(gguf, (dv) => dv.setUint32(at('llama.attention.head_count'), 7, true))), 'bad-metadata', 'divisible');
    expectLoadError(() => loadGguf(patched(gguf, (dv) => dv.setUint32(at('llama.embedding_length'), 0, true))), 'bad-metadata', 'positive integer');
  });

  it('arrays nested too deep, duplicate keys', () => {
    let v: unknown = [1];
    const elem: number[] = [T.U8];
    for (let i = 0; i < 12; i++) {
      v = [v];
      elem.unshift(T.ARR);
    }
    expectLoadError(() => parseGguf(writeGguf({ kv: [{ key: 'deep', type: T.ARR, value: v, elem }], tensors: [] })), 'bad-metadata', 'deeper');
    const dup = writeGguf({ kv: [{ key: 'a', type: T.U8, value: 1 }, { key: 'a', type: T.U8, value: 2 }], tensors: [{ name: 'x', ne: [1], type: 0, data: ramp(1, 0) }] });
    expectLoadError(() => parseGguf(dup), 'bad-metadata', 'twice');
  });
});

describe('seeded fuzz: random header bytes', () => {
  const fuzz = (label: string, bytes: Uint8Array, region: number, load: (b: Uint8Array) => unknown, trials: number): void => {
    it(`${label}: ${trials} corruptions end in success or LoadError`, () => {
      const rnd = mulberry32(1234);
      const t0 = performance.now();
      let errors = 0;
      for (let k = 0; k < trials; k++) {
        const b = bytes.slice();
        const nflip = 1 + Math.floor(rnd() * 4);
        for (let j = 0; j < nflip; j++) {
          const at = Math.floor(rnd() * region);
          b[at] = rnd() < 0.5 ? Math.floor(rnd() * 256) : b[at] ^ (1 << Math.floor(rnd() * 8));
        }
        try {
          load(b);
        } catch (e) {
          if (!(e instanceof LoadError)) throw new Error(`trial ${k}: ${String(e)}\n${(e as Error).stack}`);
          expect(e.hint.length).toBeGreaterThan(0);
          errors++;
        }
      }
      expect(errors).toBeGreaterThan(0);
      expect(performance.now() - t0).toBeLessThan(60_000);
    });
  };
  fuzz('stories260K-Q8_0.gguf header', q8, 14240, (b) => loadGguf(b), 300);
  fuzz('model.safetensors header', st, parseSafetensors(st).dataOffset, (b) => loadSafetensors({ config, weights: [b], tokenizerJson }), 150);
  fuzz('stories260K.bin header', ckpt, 28, (b) => loadLlama2c({ checkpoint: b, tokenizer: tok }), 200);
  fuzz('tok512.bin', tok, tok.length, (b) => loadLlama2c({ checkpoint: ckpt, tokenizer: b }), 200);
});
