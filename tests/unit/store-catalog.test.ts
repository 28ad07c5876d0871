// The models listing (/models/index.json, written by scripts/vite-models-plugin.ts) becomes loadable
// choices: one per .gguf, one per safetensors folder with config.json, one per llama2.c checkpoint with
// its tokenizer; the bundled default first. Malformed listings are refused with a message.
import { describe, expect, it } from 'vitest';
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { catalogEntries, defaultEntry, parseModelsIndex, DEFAULT_MODEL_FILES, DEFAULT_MODEL_KEY } from '../../src/store/catalog.ts';
import { modelsDir } from '../helpers/models.ts';

const listing = {
  root: '/x',
  models: [
    { id: 'kjv-gpt2-8L', files: [
      { path: 'kjv-gpt2-8L/SOURCE.md', bytes: 10 },
      { path: 'kjv-gpt2-8L/config.json', bytes: 100 },
      { path: 'kjv-gpt2-8L/kjv-gpt2-8L.gguf', bytes: 6000 },
      { path: 'kjv-gpt2-8L/model.safetensors', bytes: 5000 },
      { path: 'kjv-gpt2-8L/tokenizer.json', bytes: 300 },
      { path: 'kjv-gpt2-8L/tokenizer_config.json', bytes: 20 },
    ] },
    { id: 'stories260K', files: [
      { path: 'stories260K/LICENSE', bytes: 1 },
      { path: 'stories260K/stories260K.bin', bytes: 1056540 },
      { path: 'stories260K/tok512.bin', bytes: 6234 },
    ] },
    { id: 'stories260K-gguf/quantized', files: [
      { path: 'stories260K-gguf/quantized/stories260K-Q8_0.gguf', bytes: 379_000 },
      { path: 'stories260K-gguf/quantized/stories260K-Q4_0.gguf', bytes: 277_000 },
    ] },
  ],
};

describe('models catalog', () => {
  it('turns a listing into loadable entries, default first', () => {
    const e = catalogEntries(parseModelsIndex(listing));
    expect(e[0].key).toBe(DEFAULT_MODEL_KEY);
    expect(e[0]).toEqual({ key: 'stories260K/stories260K.bin', label: 'stories260K/stories260K (llama2.c)', format: 'llama2c', files: ['stories260K/stories260K.bin', 'stories260K/tok512.bin'], bytes: 1056540 + 6234 });
    const st = e.find((x) => x.format === 'safetensors')!;
    expect(st.files).toEqual(['kjv-gpt2-8L/config.json', 'kjv-gpt2-8L/tokenizer.json', 'kjv-gpt2-8L/tokenizer_config.json', 'kjv-gpt2-8L/model.safetensors']);
    expect(st.bytes).toBe(100 + 300 + 20 + 5000);
    const ggufs = e.filter((x) => x.format === 'gguf').map((x) => x.key).sort();
    expect(ggufs).toEqual(['kjv-gpt2-8L/kjv-gpt2-8L.gguf', 'stories260K-gguf/quantized/stories260K-Q4_0.gguf', 'stories260K-gguf/quantized/stories260K-Q8_0.gguf']);
    expect(e).toHaveLength(5);
    expect(structuredClone(e)).toEqual(e);
  });

  it('a checkpoint without a tokenizer .bin is not offered; the default falls back to the known paths', () => {
    const e = catalogEntries(parseModelsIndex({ models: [{ id: 'm', files: [{ path: 'm/model.bin', bytes: 5 }] }] }));
    expect(e).toEqual([]);
    expect(defaultEntry(e).files).toEqual(DEFAULT_MODEL_FILES);
  });

  it('refuses malformed listings', () => {
    expect(() => parseModelsIndex(null)).toThrow(/not an object/);
    expect(() => parseModelsIndex({ models: 3 })).toThrow(/no "models" array/);
    expect(() => parseModelsIndex({ models: [{ id: 1, files: [] }] })).toThrow(/entry 0/);
    expect(() => parseModelsIndex({ models: [{ id: 'a', files: [{ path: 'x' }] }] })).toThrow(/malformed file/);
  });

  it('the real models directory offers the bundled default with both of its files', () => {
    expect(existsSync(join(modelsDir, 'stories260K', 'stories260K.bin'))).toBe(true);
    const files = readdirSync(join(modelsDir, 'stories260K')).map((n) => ({ path: `stories260K/${n}`, bytes: statSync(join(modelsDir, 'stories260K', n)).size }));
    const e = catalogEntries({ models: [{ id: 'stories260K', files }] });
    expect(defaultEntry(e).files).toEqual(DEFAULT_MODEL_FILES);
  });
});
