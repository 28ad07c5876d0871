// A GGUF from the wild (../shared/models/wild/llama-2-tiny-random, read its SOURCE.md): written by
// another converter, random weights, the real 32k Llama 2 vocabulary, F16 tensors (norms F32), a
// separate output matrix, 8 channels (rows of 8 values: shorter than one 16-value decode unit of the
// packed-matmul kernel). It must load with the facts SOURCE.md states, tokenize as Llama 2 does, run
// on the GPU with the CPU reference's logits, and generate.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GpuBackend } from '../../src/gpu/gpu-backend.ts';
import { CpuBackend } from '../../src/core/model/cpu-backend.ts';
import { loadModelFromFiles } from '../../src/core/formats/load.ts';
import { typeName } from '../../src/core/quant/types.ts';
import { generate } from '../../src/core/eval/generate.ts';
import { expectAllClose } from '../helpers/close.ts';
import { skipGpu, testDevice } from '../helpers/gpu.ts';
import { readModelBytes } from '../helpers/models.ts';

const model = loadModelFromFiles([{ name: 'llama-2-tiny-random.gguf', bytes: readModelBytes('wild/llama-2-tiny-random/llama-2-tiny-random.gguf') }]);
const V = 32000;

describe('wild/llama-2-tiny-random.gguf: loads as SOURCE.md describes', () => {
  it('spec and tensor types', () => {
    expect(model.format).toBe('gguf');
    expect(model.spec).toMatchObject({
      arch: 'llama', nLayers: 1, dModel: 8, nHeads: 2, nKvHeads: 2, headDim: 4, dFF: 32, vocabSize: V, contextLength: 4096,
      rope: { kind: 'adjacent', dim: 4 }, tiedEmbeddings: false, bosId: 1, eosId: 2,
    });
    expect(model.spec.norm.eps).toBeCloseTo(1e-5, 10);
    for (const t of model.tensors.values()) {
      expect(typeName(t.type), t.name).toBe(/norm/.test(t.name) ? 'F32' : 'F16');
    }
    expect(model.tensors.get('output')!.shape).toEqual([V, 8]);
  });

  it('tokenizes as Llama 2 does', () => {
    // "Hello world" -> [1, 15043, 3186] (the example of Meta's llama Tokenizer docs);
    // "this is a dog" -> [1, 445, 338, 263, 11203] (Llama-2 LlamaTokenizerFast, public notebook output)
    expect(model.tokenizer.encode('Hello world')).toEqual([1, 15043, 3186]);
    expect(model.tokenizer.encode('this is a dog')).toEqual([1, 445, 338, 263, 11203]);
    expect(model.tokenizer.decode([445, 338, 263, 11203])).toBe('this is a dog');
  });
});

describe.skipIf(skipGpu)('wild/llama-2-tiny-random.gguf on the GPU backend', () => {
  let gpu: GpuBackend;
  const cpu = new CpuBackend(model);
  const ids = [1, 445, 338, 263, 11203];
  beforeAll(async () => {
    const device = await testDevice();
    const limits = { maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize, maxBufferSize: device.limits.maxBufferSize };
    gpu = await GpuBackend.create({ device, adapter: 'test adapter', software: true, features: [], limits }, model);
  });
  afterAll(() => gpu?.dispose());

  // Logits here are about 0.25 in size (random weights); f32 rounding of 8- and 32-term sums is ~1e-7.
  const tol = { atol: 1e-5, rtol: 0 };

  it('prompt logits equal the CPU reference\'s', async () => {
    const g = await gpu.forward(ids);
    const c = await cpu.forward(ids);
    expect(g.logits.length).toBe(ids.length * V);
    expectAllClose(g.logits, c.logits, tol, 'wild GGUF prompt logits');
  });

  it('generates 8 tokens with the KV cache, the same ids as the CPU reference', async () => {
    // The CPU's greedy run, with the top-1/top-2 margin of each step: ids can only be compared where the
    // margin is well above the logits' tolerance (it is: the smallest is about 1e-3 here).
    const cs = cpu.session(ids.length + 8);
    let cr = await cs.append(ids, { logits: 'last' });
    const cpuIds: number[] = [];
    for (let i = 0; i < 8; i++) {
      const row = Array.from(cr.logits);
      const sorted = [...row].sort((a, b) => b - a);
      expect(sorted[0] - sorted[1], `CPU top-1/top-2 margin at step ${i}`).toBeGreaterThan(20 * tol.atol);
      cpuIds.push(row.indexOf(sorted[0]));
      if (i < 7) cr = await cs.append([cpuIds[i]], { logits: 'last' });
    }
    cs.dispose();
    // (On a software adapter each step costs seconds: the 32000 x 8 F16 output goes through the packed
    // matmul kernel, which has no barrier-free variant; see the report.)
    const g = await generate(gpu, ids, { maxTokens: 8 });
    expect(g.generatedIds).toEqual(cpuIds);
  });
});
