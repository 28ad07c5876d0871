// The CPU reference backend against the independent references (logits within 1e-4, 64 greedy ids).
import { describe, it } from 'vitest';
import { CpuBackend } from '../../src/core/model/cpu-backend.ts';
import { MODELS, checkGreedy, checkPromptLogits } from '../helpers/parity.ts';

describe.each(Object.keys(MODELS))('CPU backend: %s', (name) => {
  const model = MODELS[name]();
  const backend = new CpuBackend(model);
  it('prompt logits match the reference within 1e-4', async () => {
    await checkPromptLogits(backend, model, name);
  });
  it('64 greedy tokens (KV-cache decoding) match the reference', async () => {
    await checkGreedy(backend, name);
  });
});
