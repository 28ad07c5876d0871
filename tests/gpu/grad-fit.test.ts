// GpuGrad's fit check (src/gpu/grad-backend.ts gpuGradFitError / gpuGradProviders): with device limits
// too small for its buffers the providers return null (analyze() then uses the CPU gradient) and log the
// reason once; with the real limits they return the GPU gradient. Sizes hand-computed for stories260K
// (GGUF: V 512, C 64, 8 heads): token_embd f32 = 512 * 64 * 4 = 131,072 bytes; P [H, T, T] for T = 200
// = 8 * 200 * 200 * 4 = 1,280,000 bytes; logits [T, V] for T = 200 = 409,600 bytes.
import { describe, expect, it } from 'vitest';
import { gpuGradFitError, gpuGradProviders } from '../../src/gpu/grad-backend.ts';
import { skipGpu } from '../helpers/gpu.ts';
import { MODELS } from '../helpers/parity.ts';
import { testContext } from './harness.ts';

const model = MODELS['stories260K (GGUF)']();
const ids = [1, 403, 407, 261, 378, 285, 309, 1, 267, 344, 400, 46, 13];

describe('gpuGradFitError', () => {
  it('names the largest buffer above the limit, or null when all fit', () => {
    const s = model.spec;
    expect(gpuGradFitError(s, 13, { maxStorageBufferBindingSize: 2 ** 27, maxBufferSize: 2 ** 28 }, true, model)).toBeNull();
    const small = gpuGradFitError(s, 13, { maxStorageBufferBindingSize: 65536, maxBufferSize: 2 ** 28 }, false, model);
    expect(small).toContain('131,072 bytes (weight token_embd (f32))');
    expect(small).toContain('65,536 bytes');
    // 1 MiB: the weights fit, T = 200 makes P [H, T, T] too large (logits [T, V] still fit).
    const lim = { maxStorageBufferBindingSize: 2 ** 20, maxBufferSize: 2 ** 20 };
    expect(gpuGradFitError(s, 13, lim, true, model)).toBeNull();
    expect(gpuGradFitError(s, 200, lim, false, model)).toContain('1,280,000 bytes (attention probabilities [H, T, T])');
  });
});

describe.skipIf(skipGpu)('gpuGradProviders', () => {
  it('fake small limit: null from both providers, the reason logged once; real limits: GPU results', async () => {
    const ctx = await testContext();
    const logged: string[] = [];
    const small = gpuGradProviders(ctx, model, { limits: { maxStorageBufferBindingSize: 65536, maxBufferSize: 65536 }, log: (m) => logged.push(m) });
    expect(await small.residGrad(model, ids)).toBeNull();
    expect(await small.residGrad(model, ids)).toBeNull();
    expect(await small.weightGradSq(model, ids)).toBeNull();
    small.dispose();
    expect(logged.length).toBe(2);
    expect(logged[0]).toMatch(/^taylor\/zo gradients on the CPU: .*token_embd/);
    expect(logged[1]).toMatch(/^fisher gradients on the CPU: .*token_embd/);

    const real = gpuGradProviders(ctx, model, { log: (m) => logged.push(m) });
    const r = await real.residGrad(model, ids);
    expect(r).not.toBeNull();
    expect(r!.loss).toBeGreaterThan(0);
    const w = await real.weightGradSq(model, ids);
    expect(w!['blk.0.attn_q']).toBeGreaterThan(0);
    // another model than the one the providers were made for: null
    expect(await real.residGrad(MODELS['stories260K (GGUF)'](), ids)).toBeNull();
    real.dispose();
    expect(logged.length).toBe(2);
  });
});
