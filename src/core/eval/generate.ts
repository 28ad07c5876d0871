// Token-by-token generation on any Backend with its KV cache: prefill the prompt once, then append one
// token per step. Stops after `maxTokens` or (optionally) at EOS.

import type { Backend } from '../model/backend.ts';
import { Sampler, type SamplingOptions } from './sampling.ts';
import { checkCancel, type CancelToken, type Progress } from './perplexity.ts';

export interface GenerateOptions extends SamplingOptions {
  maxTokens: number;
  stopAtEos?: boolean;
  eosId?: number | null;
  progress?: Progress;
  cancel?: CancelToken;
  /** Called with each new token id as it is produced (streaming). */
  onToken?: (id: number) => void;
}

export interface GenerateResult {
  promptIds: number[];
  generatedIds: number[];
  /** Wall time of the prompt prefill and of the decode steps, ms. */
  prefillMs: number;
  decodeMs: number;
}

export async function generate(backend: Backend, promptIds: number[], opts: GenerateOptions): Promise<GenerateResult> {
  if (promptIds.length === 0) throw new Error('the prompt is empty: give at least one token (a BOS token counts)');
  if (!Number.isInteger(opts.maxTokens) || opts.maxTokens < 0) throw new Error(`--tokens must be an integer >= 0, got ${opts.maxTokens}`);
  const ctx = backend.spec.contextLength;
  if (promptIds.length + opts.maxTokens > ctx) {
    throw new Error(`prompt (${promptIds.length} tokens) + ${opts.maxTokens} new tokens exceeds the context length ${ctx}`);
  }
  const sampler = new Sampler(opts);
  const session = backend.session(promptIds.length + opts.maxTokens);
  const out: number[] = [];
  try {
    const t0 = performance.now();
    let r = await session.append(promptIds, { logits: 'last' });
    const t1 = performance.now();
    for (let i = 0; i < opts.maxTokens; i++) {
      checkCancel(opts.cancel);
      const V = backend.spec.vocabSize;
      const last = r.logits.subarray(r.logits.length - V);
      const id = sampler.next(last);
      out.push(id);
      opts.onToken?.(id);
      opts.progress?.(i + 1, opts.maxTokens, 'generate');
      if (opts.stopAtEos && opts.eosId !== null && opts.eosId !== undefined && id === opts.eosId) break;
      if (i + 1 < opts.maxTokens) r = await session.append([id], { logits: 'last' });
    }
    const t2 = performance.now();
    return { promptIds, generatedIds: out, prefillMs: t1 - t0, decodeMs: t2 - t1 };
  } finally {
    session.dispose();
  }
}
