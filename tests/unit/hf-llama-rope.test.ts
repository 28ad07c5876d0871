// The Hugging Face Llama path (safetensors + config.json, rotate-half RoPE, GQA) against independent
// references: stories260K rewritten in memory as an HF checkpoint (see hf-llama-fixture.ts for the
// permutation and its derivation) must reproduce llama2.c run.c's logits (within 1e-4) and greedy ids.
// Negative controls show the check has teeth: the unpermuted checkpoint and a wrong GQA head mapping
// both move the logits far outside the tolerance.
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/core/model/cpu-backend.ts';
import { generate } from '../../src/core/eval/generate.ts';
import { expectAllClose } from '../helpers/close.ts';
import { storiesGreedy, storiesLogits } from '../helpers/parity.ts';
import { expandKvHeads, llamaCppPermute, loadHfStories, loadStoriesLlama2c, metaToHf } from './hf-llama-fixture.ts';

const src = loadStoriesLlama2c();
const ref = storiesLogits();
const greedy = storiesGreedy();

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('the Meta -> Hugging Face Q/K permutation', () => {
  it('one head of 4 rows by hand: pairs (0,1), (2,3) become (0,2), (1,3)', () => {
    // rows r0..r3 of 2 columns; HF order = [r0, r2, r1, r3]
    const w = new Float32Array([0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5]);
    expect(Array.from(metaToHf(w, 1, 4, 2))).toEqual([0, 0.5, 2, 2.5, 1, 1.5, 3, 3.5]);
    // two heads of 4: each head is permuted on its own
    const w2 = new Float32Array(8).map((_, i) => i);
    expect(Array.from(metaToHf(w2, 2, 4, 1))).toEqual([0, 2, 1, 3, 4, 6, 5, 7]);
    // D = 8: evens then odds
    expect(Array.from(metaToHf(new Float32Array(8).map((_, i) => i), 1, 8, 1))).toEqual([0, 2, 4, 6, 1, 3, 5, 7]);
  });

  it('llama.cpp\'s convert permute (HF -> GGUF) undoes it', () => {
    const w = new Float32Array(64 * 3).map((_, i) => i * 0.25);
    for (const [heads, D] of [[8, 8], [4, 16], [2, 32]]) {
      expect(Array.from(llamaCppPermute(metaToHf(w, heads, D, 3), heads, D, 3))).toEqual(Array.from(w));
    }
  });

  it('the GQA expansion copies KV head floor(h / 2) to query head h', () => {
    // 2 KV heads of D = 1, C = 1 -> 4 query heads [g0, g0, g1, g1]
    expect(Array.from(expandKvHeads(new Float32Array([7, 9]), 4, 2, 1, 1))).toEqual([7, 7, 9, 9]);
  });
});

describe('stories260K as a Hugging Face Llama checkpoint (rotate-half RoPE), CPU backend', () => {
  const hf = loadHfStories(src);

  it('loads with the HF spec: rope half over the whole head, 8 heads / 4 KV heads (GQA) as the source', () => {
    expect(src.spec.nHeads).toBe(8);
    expect(src.spec.nKvHeads).toBe(4);
    expect(src.spec.rope.kind).toBe('adjacent');
    expect(hf.format).toBe('safetensors');
    expect(hf.spec).toMatchObject({
      arch: 'llama', nLayers: 5, dModel: 64, nHeads: 8, nKvHeads: 4, headDim: 8, dFF: 172, vocabSize: 512,
      contextLength: 512, rope: { kind: 'half', theta: 10000, dim: 8 }, tiedEmbeddings: true, norm: { kind: 'rms', eps: 1e-5 },
    });
    expect(hf.tensors.get('blk.0.attn_k')!.shape).toEqual([32, 64]);
    expect(hf.tokenizer.encode('Once upon a time')).toEqual(ref.ids);
  });

  it('prompt logits equal llama2.c run.c\'s within 1e-4', async () => {
    const r = await new CpuBackend(hf).forward(ref.ids);
    expectAllClose(r.logits, ref.logits.flat(), { atol: 1e-4, rtol: 0 }, 'HF (rotate-half) prompt logits');
  });

  it('64 greedy ids with the KV cache equal the reference', async () => {
    const r = await generate(new CpuBackend(hf), greedy.prompt_ids, { maxTokens: 64 });
    expect(r.generatedIds).toEqual(greedy.generated_ids);
  });

  it('K/V expanded to 8 heads (num_key_value_heads 8, plain MHA) gives the same logits', async () => {
    const mha = loadHfStories(src, { heads: 'mha' });
    expect(mha.spec.nKvHeads).toBe(8);
    const r = await new CpuBackend(mha).forward(ref.ids);
    expectAllClose(r.logits, ref.logits.flat(), { atol: 1e-4, rtol: 0 }, 'HF MHA-expanded prompt logits');
  });

  it('lm_head untied, old rotary_emb.inv_freq buffers present: same logits', async () => {
    const m = loadHfStories(src, { untied: true, invFreq: true });
    expect(m.spec.tiedEmbeddings).toBe(false);
    const r = await new CpuBackend(m).forward(ref.ids);
    expectAllClose(r.logits, ref.logits.flat(), { atol: 1e-4, rtol: 0 }, 'HF untied prompt logits');
  });

  it('negative controls: no permutation, or query heads mapped to KV heads h mod 4, are far off', async () => {
    const flat = ref.logits.flat();
    const unperm = await new CpuBackend(loadHfStories(src, { skipPermute: true })).forward(ref.ids);
    expect(maxAbsDiff(unperm.logits, flat)).toBeGreaterThan(0.05);
    const wrongGqa = await new CpuBackend(loadHfStories(src, { heads: 'mha', kvMap: (h) => h % 4 })).forward(ref.ids);
    expect(maxAbsDiff(wrongGqa.logits, flat)).toBeGreaterThan(0.05);
  });
});
