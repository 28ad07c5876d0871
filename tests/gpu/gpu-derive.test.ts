// GpuBackend.derive (shared weights), low-rank factors and K/V cache bits on the GPU, stories260K:
// - a backend derived from the loaded one for a modified model (two blocks at Q8_0) gives exactly the
//   logits of a backend created from scratch for it (same kernels, same bytes), uploads only the changed
//   tensors (own bytes = their packed bytes, the rest counted as shared), and the base keeps working after
//   the derived backend is disposed (and a derived one after its base is disposed);
// - a rank plan (factors A, B run as two matmuls): GPU logits = CPU reference logits within 1e-4, and the
//   GPU holds (rows + cols) * r * 4 bytes per factorized tensor;
// - K/V cache bits: a model with 4-bit K / 3-bit V: GPU logits = CPU logits (the kernel's quantized path
//   against core/ops/kv-quant.ts is in kv-write.test.ts).
import { describe, expect, it } from 'vitest';
import { GpuBackend } from '../../src/gpu/gpu-backend.ts';
import { CpuBackend } from '../../src/core/model/cpu-backend.ts';
import { loadModelFromFiles } from '../../src/core/formats/load.ts';
import type { LoadedModel } from '../../src/core/formats/types.ts';
import { applyAllocation } from '../../src/core/allocation/apply-weights.ts';
import { ALLOCATION_SCHEMA } from '../../src/core/allocation/schema.ts';
import { compareModels } from '../../src/core/allocation/compare.ts';
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

describe.skipIf(skipGpu)('GpuBackend.derive', () => {
  it('derived = fresh for a modified model; only changed tensors uploaded; dispose is safe both ways', async () => {
    const ap = applyAllocation(model, { ...head, layers: { 1: { format: 'Q8_0' }, 3: { format: 'Q8_0' } } });
    const changed = [...ap.model.tensors.values()].filter((t) => model.tensors.get(t.name) !== t);
    expect(changed.length).toBe(14);
    const base = await gpu(model);
    const before = (await base.forward(ids)).logits;
    const derived = await base.derive(ap.model);
    const fresh = await gpu(ap.model);
    try {
      const d = (await derived.forward(ids)).logits;
      const f = (await fresh.forward(ids)).logits;
      expectAllClose(d, f, { atol: 0, rtol: 0 }, 'derived vs fresh');
      const r = derived.residency();
      expect(r.ownBytes).toBe(changed.reduce((a, t) => a + t.data.byteLength, 0));
      expect(r.uploadedTensors).toBe(14);
      expect(r.sharedTensors).toBe(model.tensors.size - 14);
      expect(r.weightBytes).toBe(fresh.info().weightBytes);
      expect(derived.info().weightBytes).toBe(fresh.info().weightBytes);
      expect(r.sharedBytes).toBe(base.info().weightBytes - (changed.reduce((a, t) => a + model.tensors.get(t.name)!.data.byteLength, 0)));
      derived.dispose();
      expectAllClose((await base.forward(ids)).logits, before, { atol: 0, rtol: 0 }, 'base after derived.dispose');
      // The other way: dispose the base, the derived backend still runs on the shared buffers.
      const d2 = await base.derive(ap.model);
      base.dispose();
      expectAllClose((await d2.forward(ids)).logits, f, { atol: 0, rtol: 0 }, 'derived after base.dispose');
      d2.dispose();
    } finally {
      base.dispose();
      derived.dispose();
      fresh.dispose();
    }
  }, 60_000);

  it('rank plan: GPU (two matmuls) = CPU within 1e-4; factor bytes resident', async () => {
    const plan = { ...head, tensors: { 'blk.0.attn_q': { rank: 4 }, 'blk.2.ffn_down': { rank: 8 }, 'blk.4.attn_v': { rank: 3 }, 'blk.3.ffn_gate': { rank: 1 } } };
    const ap = applyAllocation(model, plan);
    const base = await gpu(model);
    const g = await base.derive(ap.model);
    try {
      const lg = (await g.forward(ids)).logits;
      const lc = (await new CpuBackend(ap.model).forward(ids)).logits;
      expectAllClose(lg, lc, { atol: 1e-4, rtol: 1e-4 });
      // Decode through a session too (M = 1 takes the gemv / single-row paths).
      const s = g.session(ids.length);
      await s.append(ids.slice(0, -1));
      const last = (await s.append(ids.slice(-1))).logits;
      s.dispose();
      expectAllClose(last, lc.subarray((ids.length - 1) * model.spec.vocabSize), { atol: 1e-4, rtol: 1e-4 }, 'decode');
      const want = (64 + 64) * 4 * 4 + (64 + 172) * 8 * 4 + (32 + 64) * 3 * 4 + (172 + 64) * 1 * 4;
      expect(g.residency().ownBytes).toBe(want);
      expect(g.residency().uploadedTensors).toBe(4);
      // What the GPU holds for the modified model is what the size report says (factor bytes included).
      expect(g.info().weightBytes).toBe(ap.size.residentBytes);
      const cmp = await compareModels(base, g, ids, { decodeTokens: 0 });
      expect(cmp.backendBytes).toEqual({ kind: 'gpu', base: ap.size.baseResidentBytes, modified: ap.size.residentBytes, modifiedOwn: want });
    } finally {
      g.dispose();
      base.dispose();
    }
  }, 60_000);
});

describe.skipIf(skipGpu)('K/V cache bits on the GPU', () => {
  it('stories260K with 4-bit K / 3-bit V caches: GPU = CPU', async () => {
    const ap = applyAllocation(model, { ...head, layers: Object.fromEntries([0, 1, 2, 3, 4].map((l) => [l, { kvBits: { k: 4, v: 3 } }])) });
    const base = await gpu(model);
    const g = await base.derive(ap.model);
    try {
      const lg = (await g.forward(ids)).logits;
      const lc = (await new CpuBackend(ap.model).forward(ids)).logits;
      expectAllClose(lg, lc, { atol: 1e-4, rtol: 1e-4 });
      const l0 = (await base.forward(ids)).logits;
      expect(Math.max(...lg.map((x, i) => Math.abs(x - l0[i])))).toBeGreaterThan(1e-3);
      expect(g.residency().uploadedTensors).toBe(0);
    } finally {
      g.dispose();
      base.dispose();
    }
  }, 60_000);
});
