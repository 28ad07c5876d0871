// Quantized GGUF models on the WebGPU backend: the six stories260K files that llama.cpp's own quantizers
// wrote (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, mixed Q8_0/Q4_0; ../shared/models/stories260K-gguf/quantized).
// The GPU keeps the blocks packed and decodes them in WGSL (shaders/matmul-q.wgsl); the CPU backend
// dequantizes with src/core/quant/dequant.ts (itself bit-exact against ggml's vectors) and multiplies in
// f32. Two independent decoders of the same bytes, so:
//  - prompt logits: GPU = CPU within atol 1e-4 (the weights are the same f32 values once decoded; only
//    the summation order differs, as for the F32 model whose GPU/CPU parity holds at that bound);
//  - 16 greedy tokens with the KV cache: identical ids;
//  - the quantized model stays near the F32 model (../shared/refs logits): relative RMS error of the
//    logits below 0.02 * 127 / qmax, where qmax is the largest quant level of the format (Q8: 127,
//    Q5: 15, Q4: 7), i.e. error proportional to the quantization step; and ordered by bits.
// One file also runs on the tiled (hardware) kernels.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { GpuBackend } from '../../src/gpu/gpu-backend.ts';
import { CpuBackend } from '../../src/core/model/cpu-backend.ts';
import { loadModelFromFiles } from '../../src/core/formats/load.ts';
import type { LoadedModel } from '../../src/core/formats/types.ts';
import { generate } from '../../src/core/eval/generate.ts';
import { numel } from '../../src/core/tensor.ts';
import { expectAllClose } from '../helpers/close.ts';
import { skipGpu, testDevice } from '../helpers/gpu.ts';
import { modelPath, readModelBytes } from '../helpers/models.ts';
import { storiesGreedy, storiesLogits } from '../helpers/parity.ts';

const QDIR = 'stories260K-gguf/quantized';
const FILES = readdirSync(modelPath(QDIR)).filter((f) => f.endsWith('.gguf')).sort();

function load(file: string): LoadedModel {
  return loadModelFromFiles([{ name: file, bytes: readModelBytes(`${QDIR}/${file}`) }], { contextLength: 512 });
}

async function gpu(model: LoadedModel, kernels?: 'tiled' | 'simple'): Promise<GpuBackend> {
  const device = await testDevice();
  const limits = { maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize, maxBufferSize: device.limits.maxBufferSize };
  return GpuBackend.create({ device, adapter: 'test adapter', software: true, features: [], limits }, model, undefined, { kernels });
}

/** Largest quantization level of the file's main format (Q8: +-127, Q5: +-15, Q4: +-7; MIXED is mostly Q4_0). */
function qmax(file: string): number {
  if (file.includes('Q8_0') && !file.includes('MIXED')) return 127;
  if (file.includes('Q5_')) return 15;
  return 7;
}

function relRms(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let e = 0;
  let r = 0;
  for (let i = 0; i < want.length; i++) {
    e += (got[i] - want[i]) ** 2;
    r += want[i] ** 2;
  }
  return Math.sqrt(e / r);
}

const ref = storiesLogits();
const greedy = storiesGreedy();
const V = 512;
const relErr = new Map<string, number>();

describe.skipIf(skipGpu)('quantized stories260K GGUFs on the GPU backend', () => {
  it('finds the six files of SOURCE.md', () => {
    expect(FILES).toEqual([
      'stories260K-MIXED-Q8_0-Q4_0.gguf', 'stories260K-Q4_0.gguf', 'stories260K-Q4_1.gguf',
      'stories260K-Q5_0.gguf', 'stories260K-Q5_1.gguf', 'stories260K-Q8_0.gguf',
    ]);
  });

  describe.each(FILES)('%s', (file) => {
    // One backend per file for both checks (creating one compiles its pipelines again).
    let model: LoadedModel;
    let backend: GpuBackend;
    beforeAll(async () => {
      model = load(file);
      backend = await gpu(model);
    });
    afterAll(() => backend?.dispose());

    it('weights stay packed; prompt logits equal the CPU (dequantize + f32) within 1e-4; near the F32 model', async () => {
      const stored = [...model.tensors.values()].reduce((a, t) => a + t.data.byteLength, 0);
      const asF32 = [...model.tensors.values()].reduce((a, t) => a + 4 * numel(t.shape), 0);
      // packed: what the GPU holds is the file's bytes (+ up to 3 bytes of padding per tensor), far below f32
      expect(backend.info().weightBytes).toBeLessThanOrEqual(stored + 3 * model.tensors.size);
      expect(stored).toBeLessThan(0.4 * asF32);

      const g = await backend.forward(ref.ids);
      const c = await new CpuBackend(model).forward(ref.ids);
      expectAllClose(g.logits, c.logits, { atol: 1e-4, rtol: 0 }, `${file}: GPU vs CPU prompt logits`);

      const flat = ref.logits.flat();
      const err = relRms(g.logits, flat);
      relErr.set(file, err);
      expect(err).toBeLessThan((0.02 * 127) / qmax(file));
      // the F32 model's top-1 at every prompt position survives quantization here
      for (let p = 0; p < ref.ids.length; p++) {
        const row = Array.from(g.logits.subarray(p * V, (p + 1) * V));
        const want = ref.logits[p].indexOf(Math.max(...ref.logits[p]));
        expect(row.indexOf(Math.max(...row)), `${file} top-1 at position ${p}`).toBe(want);
      }
    });

    it('16 greedy tokens (KV cache) equal the CPU backend\'s', async () => {
      const g = await generate(backend, greedy.prompt_ids, { maxTokens: 16 });
      const c = await generate(new CpuBackend(model), greedy.prompt_ids, { maxTokens: 16 });
      expect(g.generatedIds).toEqual(c.generatedIds);
    });
  });

  it('the error against the F32 model grows as the bits shrink', () => {
    const e = (f: string) => relErr.get(`stories260K-${f}.gguf`)!;
    expect(relErr.size).toBe(6);
    expect(e('Q8_0')).toBeLessThan(e('Q5_0'));
    expect(e('Q8_0')).toBeLessThan(e('Q5_1'));
    expect(e('Q5_0')).toBeLessThan(e('Q4_0'));
    expect(e('Q5_1')).toBeLessThan(e('Q4_1'));
    // MIXED = the Q4_0 file with blocks 0 and 4 at Q8_0
    expect(e('MIXED-Q8_0-Q4_0')).toBeLessThan(e('Q4_0'));
  });

  it('stories260K-MIXED-Q8_0-Q4_0.gguf on the tiled (hardware) kernels: logits equal the CPU\'s within 1e-4', async () => {
    const model = load('stories260K-MIXED-Q8_0-Q4_0.gguf');
    const backend = await gpu(model, 'tiled');
    try {
      const g = await backend.forward(ref.ids);
      const c = await new CpuBackend(model).forward(ref.ids);
      expectAllClose(g.logits, c.logits, { atol: 1e-4, rtol: 0 }, 'tiled kernels, MIXED prompt logits');
    } finally {
      backend.dispose();
    }
  });
});
