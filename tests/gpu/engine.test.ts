// The WebGPU backend (Node, Dawn) against the independent references: prompt logits within 1e-4 and
// 64 greedy ids with the KV cache, on stories260K (llama2.c and GGUF) and kjv-gpt2-8L (safetensors
// and GGUF); taps and interventions equal the CPU reference's. On a software adapter the backend uses
// the barrier-free kernels; the tiled (hardware) kernels are run through a whole forward as well.
import { describe, it, expect } from 'vitest';
import { GpuBackend } from '../../src/gpu/gpu-backend.ts';
import { CpuBackend } from '../../src/core/model/cpu-backend.ts';
import { allBlockTaps } from '../../src/core/model/taps.ts';
import { MODELS, checkGreedy, checkPromptLogits } from '../helpers/parity.ts';
import { skipGpu, testDevice } from '../helpers/gpu.ts';
import { expectAllClose } from '../helpers/close.ts';

async function gpuBackend(name: string, kernels?: 'tiled' | 'simple') {
  const device = await testDevice();
  const limits = { maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize, maxBufferSize: device.limits.maxBufferSize };
  const acquired = { device, adapter: 'test adapter', software: true, features: [], limits };
  const model = MODELS[name]();
  return { model, backend: await GpuBackend.create(acquired, model, undefined, { kernels }) };
}

describe.skipIf(skipGpu).each(Object.keys(MODELS))('GPU backend: %s', (name) => {
  it('prompt logits match the reference within 1e-4', async () => {
    const { model, backend } = await gpuBackend(name);
    await checkPromptLogits(backend, model, name);
    backend.dispose();
  });
  it('64 greedy tokens (KV-cache decoding) match the reference', async () => {
    const { backend } = await gpuBackend(name);
    await checkGreedy(backend, name);
    backend.dispose();
  });
  it('taps, interventions and last-position logits agree with the CPU reference', async () => {
    const { model, backend } = await gpuBackend(name);
    const cpu = new CpuBackend(model);
    const ids = model.tokenizer.encode(name.startsWith('stories') ? 'Once upon a time, there was' : 'And God said, Let there be light');
    const taps = [...allBlockTaps(model.spec.nLayers), 'final_norm'];
    const interventions = [
      { kind: 'skip-attn' as const, layer: 1 },
      { kind: 'scale' as const, layer: 2, sublayer: 'mlp' as const, factor: 0.5 },
      { kind: 'skip-block' as const, layer: 3 },
    ];
    const g = await backend.forward(ids, { taps, interventions });
    const c = await cpu.forward(ids, { taps, interventions });
    expect(Object.keys(g.taps).sort()).toEqual(taps.slice().sort());
    for (const t of taps) expectAllClose(g.taps[t], c.taps[t], { atol: 2e-4, rtol: 1e-4 }, `tap ${t}`);
    expectAllClose(g.logits, c.logits, { atol: 2e-4, rtol: 1e-4 }, 'logits with interventions');
    const last = await backend.forward(ids, { logits: 'last' });
    const full = await cpu.forward(ids);
    const V = model.spec.vocabSize;
    expectAllClose(last.logits, full.logits.subarray((ids.length - 1) * V), { atol: 2e-4, rtol: 1e-4 }, 'last-position logits');
    backend.dispose();
  });
});

describe.skipIf(skipGpu)('GPU backend with the tiled (hardware) kernels', () => {
  it.each(['stories260K (GGUF)', 'kjv-gpt2-8L (safetensors)'])('%s: prompt logits match the reference within 1e-4', async (name) => {
    const { model, backend } = await gpuBackend(name, 'tiled');
    await checkPromptLogits(backend, model, name);
    backend.dispose();
  });
});

describe.skipIf(skipGpu)('GPU backend refuses a model the device cannot hold', () => {
  it('names the tensor, the bytes it needs and what the adapter allows', async () => {
    const device = await testDevice();
    const model = MODELS['stories260K (llama2.c)']();
    // An adapter whose storage bindings hold 64 KiB: token_embd (512 x 64 f32 = 128 KiB) cannot fit.
    const acquired = { device, adapter: 'small test adapter', software: true, features: [], limits: { maxStorageBufferBindingSize: 65536, maxBufferSize: 65536 } };
    const err = await GpuBackend.create(acquired, model).then(() => null, (e: Error & { hint?: string }) => e);
    expect(err).not.toBeNull();
    expect(err!.message).toMatch(/token_embd/);
    expect(err!.message).toContain('needs 131,072 bytes (0.13 MiB) in one buffer');
    expect(err!.message).toMatch(/small test adapter/);
    expect(err!.message).toContain('allows 65,536 bytes (0.063 MiB) per storage buffer');
    expect(err!.hint).toMatch(/quantized|smaller model/);
  });
});
