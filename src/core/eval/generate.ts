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
    // Greedy decoding (temperature 0) asks the session for the argmax only (Session.step with
    // wantLogits: false: the GPU backend reads back 4 bytes per token instead of the logits row).
    const greedy = (opts.temperature ?? 0) === 0 && session.step !== undefined;
    const V = backend.spec.vocabSize;
    let nextId = -1;
    let last: Float32Array | null = null;
    const advance = async (ids: number[]) => {
      if (greedy) nextId = (await session.step!(ids, { wantLogits: false })).id;
      else {
        const r = await session.append(ids, { logits: 'last' });
        last = r.logits.subarray(r.logits.length - V);
      }
    };
    await advance(promptIds);
    const t1 = performance.now();
    for (let i = 0; i < opts.maxTokens; i++) {
      checkCancel(opts.cancel);
      const id = greedy ? nextId : sampler.next(last!);
      out.push(id);
      opts.onToken?.(id);
      opts.progress?.(i + 1, opts.maxTokens, 'generate');
      if (opts.stopAtEos && opts.eosId !== null && opts.eosId !== undefined && id === opts.eosId) break;
      if (i + 1 < opts.maxTokens) await advance([id]);
    }
    const t2 = performance.now();
    return { promptIds, generatedIds: out, prefillMs: t1 - t0, decodeMs: t2 - t1 };
  } finally {
    session.dispose();
  }
}
