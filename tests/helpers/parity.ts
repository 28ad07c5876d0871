// Parity checks of an engine backend against the independent references in ../shared/refs:
// stories260K (llama2.c run.c and llama.cpp agree) and kjv-gpt2-8L (PyTorch float64).
import { expect } from 'vitest';
import type { Backend } from '../../src/core/model/backend.ts';
import type { LoadedModel } from '../../src/core/formats/types.ts';
import { loadModelFromFiles } from '../../src/core/formats/load.ts';
import { generate } from '../../src/core/eval/generate.ts';
import { expectAllClose } from './close.ts';
import { readModelBytes, readRef } from './models.ts';

export interface LogitsRef { ids: number[]; logits: number[][] }
export interface GreedyRef { prompt_ids: number[]; generated_ids: number[] }

export const storiesLogits = () => readRef<LogitsRef>('stories260K/logits_prompt.json');
export const storiesGreedy = () => readRef<GreedyRef>('stories260K/greedy.json');
export const kjvLogits = () => {
  const r = readRef<{ prompt_ids: number[]; float64: number[][] }>('kjv-gpt2-8L/logits_prompt.json');
  return { ids: r.prompt_ids, logits: r.float64 };
};
export const kjvGreedy = () => {
  const r = readRef<{ prompt_ids: number[]; float64: { generated_ids: number[] } }>('kjv-gpt2-8L/greedy.json');
  return { prompt_ids: r.prompt_ids, generated_ids: r.float64.generated_ids };
};

export const MODELS: Record<string, () => LoadedModel> = {
  'stories260K (llama2.c)': () =>
    loadModelFromFiles([
      { name: 'stories260K.bin', bytes: readModelBytes('stories260K/stories260K.bin') },
      { name: 'tok512.bin', bytes: readModelBytes('stories260K/tok512.bin') },
    ]),
  'stories260K (GGUF)': () =>
    loadModelFromFiles([{ name: 'stories260K.gguf', bytes: readModelBytes('stories260K-gguf/stories260K.gguf') }], { contextLength: 512 }),
  'kjv-gpt2-8L (safetensors)': () =>
    loadModelFromFiles(
      ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'].map((f) => ({ name: f, bytes: readModelBytes(`kjv-gpt2-8L/${f}`) })),
    ),
  'kjv-gpt2-8L (GGUF)': () => loadModelFromFiles([{ name: 'kjv-gpt2-8L.gguf', bytes: readModelBytes('kjv-gpt2-8L/kjv-gpt2-8L.gguf') }]),
};

export function refsFor(name: string): { logits: LogitsRef; greedy: GreedyRef; prompt: string } {
  return name.startsWith('stories')
    ? { logits: storiesLogits(), greedy: storiesGreedy(), prompt: 'Once upon a time' }
    : { logits: kjvLogits(), greedy: kjvGreedy(), prompt: 'In the beginning' };
}

/** Prompt logits within atol of the reference at every position (1e-4: the refs' stated f32 tolerance). */
export async function checkPromptLogits(backend: Backend, model: LoadedModel, name: string, atol = 1e-4): Promise<void> {
  const { logits, prompt } = refsFor(name);
  expect(model.tokenizer.encode(prompt)).toEqual(logits.ids);
  const r = await backend.forward(logits.ids);
  expectAllClose(r.logits, logits.logits.flat(), { atol, rtol: 0 }, `${name} prompt logits`);
}

/** 64 greedy tokens with the KV cache equal the reference ids. */
export async function checkGreedy(backend: Backend, name: string): Promise<void> {
  const { greedy } = refsFor(name);
  const r = await generate(backend, greedy.prompt_ids, { maxTokens: greedy.generated_ids.length });
  expect(r.generatedIds).toEqual(greedy.generated_ids);
}
