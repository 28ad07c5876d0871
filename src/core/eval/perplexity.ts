// Mean NLL of a text and llama.cpp-compatible chunked perplexity, on any Backend.
//
// Chunked perplexity follows llama.cpp's `llama-perplexity` (examples/perplexity, perplexity()):
// the token stream (tokenized with the model's default BOS handling) is cut into n_chunk =
// floor(n_tokens / n_ctx) chunks of n_ctx tokens; each chunk is evaluated from a fresh context with
// its first token replaced by BOS when the model's tokenizer adds BOS; only the second half is scored:
// positions j = n_ctx/2 .. n_ctx-2 predict tokens j+1. PPL = exp(mean NLL over all scored tokens).
// llama.cpp refuses fewer than 2 * n_ctx tokens; so do we, with the same advice.

import type { Backend } from '../model/backend.ts';
import { mean, tokenNll } from './nll.ts';

export interface Progress {
  (done: number, total: number, what: string): void;
}

export interface CancelToken {
  cancelled: boolean;
}

export class CancelledError extends Error {
  constructor() {
    super('cancelled');
    this.name = 'CancelledError';
  }
}

export function checkCancel(c?: CancelToken): void {
  if (c?.cancelled) throw new CancelledError();
}

export interface NllResult {
  /** Mean NLL in nats per scored token. */
  meanNll: number;
  perplexity: number;
  /** Number of tokens scored. */
  scored: number;
  /** Per-token NLL, one per scored token (see `positions`). */
  tokenNll: number[];
  /** Index in ids of the token each tokenNll entry predicts (1..n-1 for one window; a window's first token is not scored). */
  positions: number[];
  /** Number of tokens in the text (scored or not). */
  tokens: number;
  /** Windows used when the text exceeds the context. */
  windows: number;
}

/**
 * Mean NLL of ids: every position predicts the next. Texts longer than `ctx` (default the model's
 * context length) are cut into consecutive windows of ctx tokens, each evaluated from a fresh context
 * and scoring its own positions (the first token of each window after the first is thus predicted by
 * nothing and not scored).
 */
export async function nllOfIds(backend: Backend, ids: number[], opts: { ctx?: number; progress?: Progress; cancel?: CancelToken } = {}): Promise<NllResult> {
  if (ids.length < 2) throw new Error(`need at least 2 tokens to score a text, got ${ids.length}: give a longer text`);
  if (opts.ctx !== undefined && !(Number.isInteger(opts.ctx) && opts.ctx >= 2)) {
    throw new Error(`--ctx must be an integer >= 2 (a window must hold a token and its successor), got ${opts.ctx}`);
  }
  const ctx = Math.min(opts.ctx ?? backend.spec.contextLength, backend.spec.contextLength);
  const V = backend.spec.vocabSize;
  const all: number[] = [];
  const positions: number[] = [];
  let windows = 0;
  for (let start = 0; start < ids.length - 1; start += ctx) {
    checkCancel(opts.cancel);
    const win = ids.slice(start, start + ctx);
    if (win.length < 2) break;
    const r = await backend.forward(win);
    all.push(...tokenNll(r.logits, V, win));
    for (let j = 1; j < win.length; j++) positions.push(start + j);
    windows++;
    opts.progress?.(Math.min(start + ctx, ids.length), ids.length, 'nll');
  }
  const m = mean(all);
  return { meanNll: m, perplexity: Math.exp(m), scored: all.length, tokenNll: all, positions, tokens: ids.length, windows };
}

export interface PerplexityResult {
  perplexity: number;
  meanNll: number;
  /** Standard error of the mean NLL (as llama.cpp prints "+/-" for PPL via the delta method). */
  nllStdErr: number;
  chunks: number;
  ctx: number;
  scored: number;
  /** Running PPL after each chunk, as llama-perplexity prints [1]x,[2]y,... */
  perChunk: number[];
}

export async function chunkedPerplexity(
  backend: Backend,
  ids: number[],
  opts: { ctx: number; bosId: number | null; addBos: boolean; progress?: Progress; cancel?: CancelToken },
): Promise<PerplexityResult> {
  const nCtx = opts.ctx;
  if (!Number.isInteger(nCtx) || nCtx < 4) throw new Error(`--ctx must be an integer >= 4, got ${nCtx}`);
  if (nCtx > backend.spec.contextLength) {
    throw new Error(`--ctx ${nCtx} exceeds the model's context length ${backend.spec.contextLength}`);
  }
  if (ids.length < 2 * nCtx) {
    throw new Error(`the text has ${ids.length} tokens but perplexity with --ctx ${nCtx} needs at least ${2 * nCtx} (2 * ctx, as llama-perplexity): use a longer file or a smaller --ctx`);
  }
  const nChunk = Math.floor(ids.length / nCtx);
  const first = Math.floor(nCtx / 2);
  const V = backend.spec.vocabSize;
  const nlls: number[] = [];
  const perChunk: number[] = [];
  for (let i = 0; i < nChunk; i++) {
    checkCancel(opts.cancel);
    const chunk = ids.slice(i * nCtx, (i + 1) * nCtx);
    if (opts.addBos && opts.bosId !== null) chunk[0] = opts.bosId;
    const r = await backend.forward(chunk);
    nlls.push(...tokenNll(r.logits, V, chunk, first, nCtx - 1));
    perChunk.push(Math.exp(mean(nlls)));
    opts.progress?.(i + 1, nChunk, 'perplexity');
  }
  const m = mean(nlls);
  let v = 0;
  for (const x of nlls) v += (x - m) ** 2;
  const stderr = nlls.length > 1 ? Math.sqrt(v / (nlls.length - 1) / nlls.length) : NaN;
  return { perplexity: Math.exp(m), meanNll: m, nllStdErr: stderr, chunks: nChunk, ctx: nCtx, scored: nlls.length, perChunk };
}
