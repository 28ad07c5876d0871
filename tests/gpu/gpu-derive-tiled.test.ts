// A modified model derived from a backend on the tiled (hardware) kernels keeps that kernel policy, and a
// rank plan (two matmuls with K = r, not a multiple of 4) plus K/V bits on those kernels gives the CPU
// reference's logits (stories260K, 6 tokens). Own file: compiling the tiled pipelines on SwiftShader takes
// most of its half minute.
import { describe, expect, it } from 'vitest';
import { GpuBackend } from '../../src/gpu/gpu-backend.ts';
import { CpuBackend } from '../../src/core/model/cpu-backend.ts';
import { loadModelFromFiles } from '../../src/core/formats/load.ts';
import type { LoadedModel } from '../../src/core/formats/types.ts';
import { applyAllocation } from '../../src/core/allocation/apply-weights.ts';
import { ALLOCATION_SCHEMA } from '../../src/core/allocation/schema.ts';
import { expectAllClose } from '../helpers/close.ts';
import { skipGpu, testDevice } from '../helpers/gpu.ts';
import { readModelBytes } from '../helpers/models.ts';

const model = loadModelFromFiles([{ name: 'stories260K.gguf', bytes: readModelBytes('stories260K-gguf/stories260K.gguf') }], { contextLength: 512 });
const head = { schema: ALLOCATION_SCHEMA, model: { name: 'stories260K', arch: 'llama', nLayers: 5 } };
const ids = model.tokenizer.encode('Once upon a time, there was a little girl named Lily.', { addBos: true });

async function gpu(m: LoadedModel, kernels?: 'tiled' | 'simple'): Promise<GpuBackend> {
  const device = await testDevice();
  const limits = { maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize, maxBufferSize: device.limits.maxBufferSize };
  return GpuBackend.create({ device, adapter: 'test adapter', software: true, features: [], limits }, m, undefined, { kernels });
}

describe.skipIf(skipGpu)('GpuBackend.derive on the tiled kernels', () => {
  it('rank plan on the tiled (hardware) kernels, derived with the same kernel policy: GPU = CPU within 1e-4', async () => {
    const ap = applyAllocation(model, { ...head, tensors: { 'blk.1.attn_k': { rank: 5 }, 'blk.2.ffn_up': { rank: 2 } }, layers: { 3: { kvBits: { k: 6, v: 5 } } } });
    const base = await gpu(model, 'tiled');
    const g = await base.derive(ap.model);
    try {
      expect(g.simple).toBe(false);
      const lg = (await g.forward(ids.slice(0, 6))).logits;
      const lc = (await new CpuBackend(ap.model).forward(ids.slice(0, 6))).logits;
      expectAllClose(lg, lc, { atol: 1e-4, rtol: 1e-4 });
    } finally {
      g.dispose();
      base.dispose();
    }
  }, 60_000);
});
