// The Hugging Face Llama path on the WebGPU backend: stories260K rewritten as an HF checkpoint (rotate-half
// Q/K rows, see tests/unit/hf-llama-fixture.ts) must give llama2.c run.c's logits within 1e-4 and its
// greedy ids; with 4 KV heads (GQA) and expanded to 8 (MHA); on the barrier-free and the tiled kernels.
import { describe, expect, it } from 'vitest';
import { GpuBackend } from '../../src/gpu/gpu-backend.ts';
import type { LoadedModel } from '../../src/core/formats/types.ts';
import { generate } from '../../src/core/eval/generate.ts';
import { expectAllClose } from '../helpers/close.ts';
import { skipGpu, testDevice } from '../helpers/gpu.ts';
import { storiesGreedy, storiesLogits } from '../helpers/parity.ts';
import { loadHfStories, loadStoriesLlama2c } from '../unit/hf-llama-fixture.ts';

async function gpu(model: LoadedModel, kernels?: 'tiled' | 'simple'): Promise<GpuBackend> {
  const device = await testDevice();
  const limits = { maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize, maxBufferSize: device.limits.maxBufferSize };
  return GpuBackend.create({ device, adapter: 'test adapter', software: true, features: [], limits }, model, undefined, { kernels });
}

const src = loadStoriesLlama2c();
const ref = storiesLogits();

describe.skipIf(skipGpu)('stories260K as a Hugging Face Llama checkpoint on the GPU backend', () => {
  it('GQA (4 KV heads): prompt logits within 1e-4 of run.c, 64 greedy ids equal', async () => {
    const hf = loadHfStories(src);
    expect(hf.spec.rope.kind).toBe('half');
    expect(hf.spec.nKvHeads).toBe(4);
    const b = await gpu(hf);
    try {
      const r = await b.forward(ref.ids);
      expectAllClose(r.logits, ref.logits.flat(), { atol: 1e-4, rtol: 0 }, 'HF GQA prompt logits (GPU)');
      const g = storiesGreedy();
      expect((await generate(b, g.prompt_ids, { maxTokens: 64 })).generatedIds).toEqual(g.generated_ids);
    } finally {
      b.dispose();
    }
  });

  it('K/V expanded to 8 heads (MHA): prompt logits within 1e-4', async () => {
    const b = await gpu(loadHfStories(src, { heads: 'mha' }));
    try {
      expectAllClose((await b.forward(ref.ids)).logits, ref.logits.flat(), { atol: 1e-4, rtol: 0 }, 'HF MHA prompt logits (GPU)');
    } finally {
      b.dispose();
    }
  });

  it('tiled (hardware) kernels: prompt logits within 1e-4', async () => {
    const b = await gpu(loadHfStories(src), 'tiled');
    try {
      expectAllClose((await b.forward(ref.ids)).logits, ref.logits.flat(), { atol: 1e-4, rtol: 0 }, 'HF prompt logits (GPU, tiled)');
    } finally {
      b.dispose();
    }
  });
});
