// Fit-before-loading estimate (src/core/formats/fit.ts): hand-made tensor tables and limits, a
// hand-built safetensors header, and the stories260K GGUF's tensor table read from the first 64 KiB
// of the file compared with the full parser's tensor sizes (a different reader: the loaded model).
import { describe, expect, it } from 'vitest';
import { CPU_LIMIT_BYTES, estimateFit, ggufTensorSizes, safetensorsHeaderLength, safetensorsTensorSizes } from '../../src/core/formats/fit.ts';
import { loadGguf } from '../../src/core/formats/gguf.ts';
import { readModelBytes } from '../helpers/models.ts';

const MiB = 1024 * 1024;

describe('fit before loading', () => {
  const limits = { maxStorageBufferBindingSize: 128 * MiB, maxBufferSize: 256 * MiB };
  const files = [
    { name: 'model.gguf', size: 600 * MiB },
    { name: 'tokenizer.json', size: 2 * MiB },
  ];

  it('largest tensor under the binding limit: fits on the GPU', () => {
    const e = estimateFit(files, [{ name: 'token_embd.weight', bytes: 100 * MiB }, { name: 'blk.0.ffn_up.weight', bytes: 20 * MiB }], limits);
    expect(e.verdict).toBe('gpu');
    expect(e.largest).toEqual({ name: 'token_embd.weight', bytes: 100 * MiB });
    expect(e.bindingLimit).toBe(128 * MiB);
    expect(e.totalBytes).toBe(600 * MiB);
    expect(e.text).toBe('fits on the GPU: largest tensor token_embd.weight 100.0 MiB vs binding limit 128.0 MiB; 600.0 MiB of weights');
  });

  it('the smaller of maxStorageBufferBindingSize and maxBufferSize is the limit; above it the CPU backend or too big', () => {
    const t = [{ name: 'output.weight', bytes: 200 * MiB }];
    expect(estimateFit(files, t, { maxStorageBufferBindingSize: 1024 * MiB, maxBufferSize: 256 * MiB }).verdict).toBe('gpu');
    const e = estimateFit(files, t, { maxStorageBufferBindingSize: 1024 * MiB, maxBufferSize: 150 * MiB });
    expect(e.verdict).toBe('cpu');
    expect(e.text).toMatch(/^will not fit on the GPU: largest tensor output.weight 200.0 MiB > binding limit 150.0 MiB; the CPU backend will be used/);
    const big = estimateFit([{ name: 'm.gguf', size: CPU_LIMIT_BYTES + 1 }], t, limits);
    expect(big.verdict).toBe('too-big');
    expect(estimateFit(files, t, null).verdict).toBe('cpu');
    expect(estimateFit([{ name: 'm.gguf', size: 3 * 1024 ** 3 }], t, null).verdict).toBe('too-big');
  });

  it('without a tensor table the largest weight file bounds a tensor', () => {
    expect(estimateFit([{ name: 'stories15M.bin', size: 60 * MiB }, { name: 'tokenizer.bin', size: 400 * MiB }], null, limits).verdict).toBe('gpu');
    expect(estimateFit([{ name: 'model.bin', size: 300 * MiB }], null, limits).verdict).toBe('unknown');
  });

  it('safetensors header: tensor sizes from data_offsets', () => {
    const json = JSON.stringify({ __metadata__: { format: 'pt' }, 'a.weight': { dtype: 'F32', shape: [4, 3], data_offsets: [0, 48] }, b: { dtype: 'F16', shape: [5], data_offsets: [48, 58] } });
    const body = new TextEncoder().encode(json);
    const h = new Uint8Array(8 + body.length);
    new DataView(h.buffer).setBigUint64(0, BigInt(body.length), true);
    h.set(body, 8);
    expect(safetensorsHeaderLength(h.subarray(0, 8))).toBe(8 + body.length);
    expect(safetensorsTensorSizes(h)).toEqual([{ name: 'a.weight', bytes: 48 }, { name: 'b', bytes: 10 }]);
    expect(() => safetensorsTensorSizes(h.subarray(0, 20))).toThrow(/header needs/);
  });

  it('GGUF: the tensor table from the first 64 KiB of stories260K matches the loaded model', () => {
    const bytes = readModelBytes('stories260K-gguf/stories260K.gguf');
    const sizes = ggufTensorSizes(bytes.subarray(0, 64 * 1024));
    const m = loadGguf(bytes);
    expect(sizes.length).toBe(m.tensors.size);
    const largest = sizes.reduce((a, t) => (t.bytes > a.bytes ? t : a));
    // token_embd [512, 64] f32 = 131072 bytes (hand count), the largest tensor of stories260K.
    expect(largest.bytes).toBe(512 * 64 * 4);
    expect(largest.name).toBe('token_embd.weight');
  });
});
