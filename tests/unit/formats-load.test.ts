// loadModelFromFiles: format detection by magic / header / name, incomplete file sets with messages
// that name what is missing, and estimateResidentBytes.
import { describe, expect, it } from 'vitest';
import { classifyFile, estimateResidentBytes, loadModelFromFiles, type InputFile } from '../../src/core/formats/load.ts';
import { readModelBytes } from '../helpers/models.ts';
import { expectLoadError, stubTokenizer, tinyQwen2 } from './formats-fixtures.ts';

const file = (rel: string, name = rel): InputFile => ({ name, bytes: readModelBytes(rel) });
const KJV = ['kjv-gpt2-8L/model.safetensors', 'kjv-gpt2-8L/config.json', 'kjv-gpt2-8L/tokenizer.json', 'kjv-gpt2-8L/tokenizer_config.json'];

describe('format detection', () => {
  it('classifies by magic and content, whatever the names', () => {
    expect(classifyFile(file('stories260K-gguf/stories260K.gguf', 'a')).role).toBe('gguf');
    expect(classifyFile(file('stories260K/stories260K.bin', 'a')).role).toBe('llama2c-checkpoint');
    expect(classifyFile(file('stories260K/tok512.bin', 'b')).role).toBe('llama2c-tokenizer');
    expect(classifyFile(file('kjv-gpt2-8L/model.safetensors', 'weights')).role).toBe('safetensors');
    expect(classifyFile(file('kjv-gpt2-8L/config.json', 'x')).role).toBe('config');
    expect(classifyFile(file('kjv-gpt2-8L/tokenizer.json', 'y')).role).toBe('tokenizer-json');
    expect(classifyFile(file('kjv-gpt2-8L/tokenizer_config.json')).role).toBe('tokenizer-config');
  });

  it('llama2.c: checkpoint + tokenizer in any order; name from the file stem; context from the header', () => {
    const m = loadModelFromFiles([file('stories260K/tok512.bin'), file('stories260K/stories260K.bin')]);
    expect(m.format).toBe('llama2c');
    expect(m.spec.name).toBe('stories260K');
    expect(m.spec.contextLength).toBe(512);
    expect(m.tokenizer.encode('Once upon a time')).toEqual([1, 403, 407, 261, 378]);
  });

  it('GGUF: one file; name from the file when general.name only repeats the architecture; context override', () => {
    const m = loadModelFromFiles([file('stories260K-gguf/stories260K.gguf')], { contextLength: 512 });
    expect(m.format).toBe('gguf');
    expect(m.spec.name).toBe('stories260K');
    expect(m.spec.contextLength).toBe(512);
    expect(m.meta.storedContextLength).toBe(128);
    expect(loadModelFromFiles([file('wild/llama-2-tiny-random/llama-2-tiny-random.gguf')]).spec.name).toBe('LLaMA v2');
  });

  it('safetensors: config.json + weights + tokenizer files (names with folders)', () => {
    const m = loadModelFromFiles(KJV.map((p) => file(p)));
    expect(m.format).toBe('safetensors');
    expect(m.spec.arch).toBe('gpt2');
    expect(m.spec.name).toBe('kjv-gpt2-8L');
    expect(m.tokenizer.encode('God')).toEqual([71, 111, 100]);
    // A tokenizer override replaces tokenizer.json.
    const o = loadModelFromFiles(KJV.slice(0, 2).map((p) => file(p)), { tokenizer: stubTokenizer(256) });
    expect(o.tokenizer.vocabSize).toBe(256);
  });

  it('GGUF without a tokenizer takes a tokenizer.json given next to it; out-of-range special ids are dropped', () => {
    const m = loadModelFromFiles([{ name: 'tiny.gguf', bytes: tinyQwen2({ vocab: 256, eosId: 300 }) }, file(KJV[2])]);
    expect(m.tokenizer.kind).toBe('hf-tokenizer-json');
    expect(m.tokenizer.encode('Ab')).toEqual([65, 98]);
    expect(m.spec.eosId).toBeNull();
    expect(String(m.meta.warnings)).toContain('eos_token_id 300');
    expectLoadError(() => loadModelFromFiles([{ name: 'tiny.gguf', bytes: tinyQwen2({ vocab: 256 }) }]), 'tokenizer', 'no tokenizer');
  });

  it('estimateResidentBytes sums the stored tensor bytes', () => {
    // stories260K: 260,032 F32 parameters; the GGUF adds its explicit 512 x 64 output copy.
    expect(estimateResidentBytes(loadModelFromFiles([file('stories260K/stories260K.bin'), file('stories260K/tok512.bin')]))).toBe(260032 * 4);
    expect(estimateResidentBytes(loadModelFromFiles([file('stories260K-gguf/stories260K.gguf')]))).toBe((260032 + 512 * 64) * 4);
    // kjv-gpt2-8L: 1,651,968 F32 parameters.
    expect(estimateResidentBytes(loadModelFromFiles(KJV.map((p) => file(p))))).toBe(1651968 * 4);
    // Q8_0 file: smaller than F32 by about 34/128 on the quantized matrices.
    const q = estimateResidentBytes(loadModelFromFiles([file('stories260K-gguf/quantized/stories260K-Q8_0.gguf')]));
    expect(q).toBeLessThan(((260032 + 32768) * 4) / 2.5);
  });
});

describe('incomplete or wrong file sets', () => {
  it('llama2.c checkpoint without its tokenizer', () => {
    expectLoadError(() => loadModelFromFiles([file('stories260K/stories260K.bin')]), 'incomplete-files', 'stories260K.bin', 'tokenizer');
  });
  it('llama2.c tokenizer without a checkpoint', () => {
    expectLoadError(() => loadModelFromFiles([file('stories260K/tok512.bin')]), 'incomplete-files', 'checkpoint');
  });
  it('safetensors without config.json', () => {
    expectLoadError(() => loadModelFromFiles([file(KJV[0]), file(KJV[2])]), 'incomplete-files', 'config.json');
  });
  it('safetensors without tokenizer.json', () => {
    expectLoadError(() => loadModelFromFiles([file(KJV[0]), file(KJV[1])]), 'incomplete-files', 'tokenizer.json');
  });
  it('config.json without weights; tokenizer files only', () => {
    expectLoadError(() => loadModelFromFiles([file(KJV[1]), file(KJV[2])]), 'incomplete-files', 'without weights');
    expectLoadError(() => loadModelFromFiles([file(KJV[2]), file(KJV[3])]), 'incomplete-files', 'weights are missing');
  });
  it('a shard listed in the index is missing', () => {
    const index = { name: 'model.safetensors.index.json', bytes: new TextEncoder().encode(JSON.stringify({ weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' } })) };
    const shard1 = { name: 'model-00001-of-00002.safetensors', bytes: readModelBytes(KJV[0]) };
    expectLoadError(() => loadModelFromFiles([index, shard1, file(KJV[1]), file(KJV[2])]), 'incomplete-files', 'model-00002-of-00002.safetensors');
  });
  it('two GGUF files', () => {
    expectLoadError(() => loadModelFromFiles([file('stories260K-gguf/stories260K.gguf'), file('kjv-gpt2-8L/kjv-gpt2-8L.gguf')]), 'incomplete-files', 'several GGUF');
  });
  it('no files, empty files, unknown files', () => {
    expectLoadError(() => loadModelFromFiles([]), 'incomplete-files');
    expectLoadError(() => loadModelFromFiles([{ name: 'model.gguf', bytes: new Uint8Array(0) }]), 'empty', 'empty');
    expectLoadError(() => loadModelFromFiles([{ name: 'model.safetensors', bytes: new Uint8Array(0) }, file(KJV[1]), file(KJV[2])]), 'empty');
    expectLoadError(() => loadModelFromFiles([{ name: 'stories260K.bin', bytes: new Uint8Array(0) }, file('stories260K/tok512.bin')]), 'empty');
    expectLoadError(() => loadModelFromFiles([{ name: 'config.json', bytes: new Uint8Array(0) }]), 'empty');
    const zip = new Uint8Array([0x50, 0x4b, 0x03, 0x04, 1, 2, 3, 4, 5, 6]);
    expectLoadError(() => loadModelFromFiles([{ name: 'pytorch_model.bin', bytes: zip }]), 'unknown-format', 'pytorch_model.bin', 'ZIP archive');
    expectLoadError(() => loadModelFromFiles([{ name: 'config.json', bytes: new TextEncoder().encode('{not json') }]), 'bad-header', 'config.json');
  });
});
