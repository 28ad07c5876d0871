// Comparison of a modified model (an applied allocation) with the original on one evaluation text.
// Inputs: two backends over the same spec, the token ids [T] of the text, and the allocation's structural
// interventions (drops) for the modified forward. Both run one prefill of all T ids; row t predicts ids[t+1].
//
//   NLL_t   = -log p(ids[t+1] | ids[..t])   for t = 0..T-2, mean over those rows; ppl = exp(mean NLL)
//   KL_t    = KL(p_base,t || p_mod,t) over every row t = 0..T-1 (nats), mean = kl
//   top-1   = share of rows whose argmax agrees
// (src/core/metrics/divergence.ts compareLogits: the definitions of llama.cpp's `perplexity
// --kl-divergence`). Speed: prefill tokens/s = T / wall time of one full forward; decode tokens/s =
// n / wall time of n single-token session appends after a prefill of the first ids (teacher-forced along
// the text, logits of the last row only), as llama-bench's pp/tg split. Sizes come from the caller
// (apply-weights.ts SizeReport: bytes of the tensors actually resident) and from the two backends
// (info().weightBytes: GPU buffers of the weights, or the CPU's f32 arrays; a GPU backend derived from the
// base also says how many of them it uploaded itself rather than sharing with the base).
// Cancel (opts.cancel, cooperative): checked before and between the two prefills, before the KL pass,
// and before every decode token of the timing loops, so a cancelled comparison stops within one
// forward / one token and throws CancelledError (eval/perplexity.ts); sessions are disposed on the way out.

import type { Backend, Session } from '../model/backend.ts';
import type { Intervention } from '../model/taps.ts';
import { compareLogits } from '../metrics/divergence.ts';
import type { SizeReport } from './apply-weights.ts';
import { checkCancel, type CancelToken } from '../eval/perplexity.ts';

export interface CompareOptions {
  /** Structural interventions of the allocation (skip block / sublayer), applied to the modified model. */
  interventions?: Intervention[];
  /** Bytes / bits per weight of the modified model (from applyAllocation), copied to the result. */
  size?: SizeReport;
  /** Single-token decode steps to time (0 = no timing of decode). Default min(16, T - 1). */
  decodeTokens?: number;
  /** Wall clock in ms (injectable for tests); default performance.now / Date.now. */
  now?: () => number;
  /** Cooperative cancel: checked between the forwards and before every decode token (throws CancelledError). */
  cancel?: CancelToken;
}

export interface ModelSide {
  meanNll: number;
  ppl: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
}

export interface Comparison {
  tokens: number;
  /** Rows with a target (T - 1). */
  scored: number;
  base: ModelSide;
  modified: ModelSide;
  /** modified.meanNll - base.meanNll. */
  nllDiff: number;
  kl: number;
  klPerToken: number[];
  top1: number;
  top1PerToken: boolean[];
  size?: SizeReport;
  /** Weight bytes each backend holds (Backend.info().weightBytes, after the forwards); modifiedOwn: the part the modified backend uploaded itself (GpuBackend.residency(), when it has one). */
  backendBytes: { kind: 'cpu' | 'gpu'; base: number; modified: number; modifiedOwn?: number };
  interventions: Intervention[];
}

const defaultNow = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

async function timeDecode(b: Backend, ids: number[], n: number, ivs: Intervention[] | undefined, now: () => number, cancel?: CancelToken): Promise<number> {
  if (n <= 0) return NaN;
  checkCancel(cancel);
  const s = b.session(ids.length);
  try {
    const start = ids.length - n;
    await s.append(ids.slice(0, start), { interventions: ivs, logits: 'last' });
    const t0 = now();
    for (let i = start; i < ids.length; i++) {
      checkCancel(cancel);
      await s.append([ids[i]], { interventions: ivs, logits: 'last' });
    }
    return n / ((now() - t0) / 1000);
  } finally {
    s.dispose();
  }
}

function backendBytes(base: Backend, modified: Backend): Comparison['backendBytes'] {
  const own = (modified as { residency?: () => { ownBytes: number } }).residency?.().ownBytes;
  const out: Comparison['backendBytes'] = { kind: modified.info().kind, base: base.info().weightBytes, modified: modified.info().weightBytes };
  if (own !== undefined) out.modifiedOwn = own;
  return out;
}

export async function compareModels(base: Backend, modified: Backend, ids: number[], opts: CompareOptions = {}): Promise<Comparison> {
  const T = ids.length;
  if (T < 2) throw new Error(`compare: the evaluation text needs at least 2 tokens, got ${T}`);
  const V = base.spec.vocabSize;
  if (modified.spec.vocabSize !== V) throw new Error(`compare: vocabularies differ (${V} vs ${modified.spec.vocabSize})`);
  const now = opts.now ?? defaultNow;
  const ivs = opts.interventions ?? [];
  const cancel = opts.cancel;
  checkCancel(cancel);
  let t0 = now();
  const rb = await base.forward(ids);
  const prefillBase = T / ((now() - t0) / 1000);
  checkCancel(cancel);
  t0 = now();
  const rm = await modified.forward(ids, { interventions: ivs });
  const prefillMod = T / ((now() - t0) / 1000);
  checkCancel(cancel);
  const d = compareLogits(rb.logits, rm.logits, T, V, ids.slice(1));
  const nDecode = Math.max(0, Math.min(opts.decodeTokens ?? 16, T - 1));
  const decBase = await timeDecode(base, ids, nDecode, undefined, now, cancel);
  const decMod = await timeDecode(modified, ids, nDecode, ivs, now, cancel);
  return {
    tokens: T,
    scored: T - 1,
    base: { meanNll: d.nllBase, ppl: Math.exp(d.nllBase), prefillTokensPerSecond: prefillBase, decodeTokensPerSecond: decBase },
    modified: { meanNll: d.nllMod, ppl: Math.exp(d.nllMod), prefillTokensPerSecond: prefillMod, decodeTokensPerSecond: decMod },
    nllDiff: d.nllDiff,
    kl: d.kl,
    klPerToken: d.klPerToken,
    top1: d.top1Agreement,
    top1PerToken: d.top1PerToken,
    size: opts.size,
    backendBytes: backendBytes(base, modified),
    interventions: ivs,
  };
}

/**
 * The backend with `interventions` added to every forward and session append (for evaluators that take a
 * plain Backend, such as chunkedPerplexity). Disposing the view does not dispose the backend.
 */
export function withInterventions(b: Backend, interventions: readonly Intervention[]): Backend {
  const add = (opts: { interventions?: Intervention[] } | undefined) => ({ ...opts, interventions: [...interventions, ...(opts?.interventions ?? [])] });
  return {
    spec: b.spec,
    info: () => b.info(),
    forward: (ids, opts) => b.forward(ids, add(opts)),
    session: (maxTokens) => {
      const s = b.session(maxTokens);
      const view: Session = {
        get position() { return s.position; },
        append: (ids, opts) => s.append(ids, add(opts)),
        reset: () => s.reset(),
        dispose: () => s.dispose(),
      };
      return view;
    },
    peakBytes: () => b.peakBytes(),
    dispose: () => {},
  };
}

/**
 * First divergence of two generations from one prompt: the smallest index i (0-based, into the generated
 * ids) with a[i] !== b[i]; when one sequence is a strict prefix of the other (a generation stopped early
 * at EOS), the length of the shorter; null when both are identical.
 */
export function firstDivergence(a: readonly number[], b: readonly number[]): number | null {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? null : n;
}

/**
 * The decoded text of `ids` with `marker` inserted where token `at` starts (unchanged when at is null).
 * The marker goes at the length of decode(ids[..at]) inside decode(ids) when that is a prefix of it
 * (tokenizers may drop a leading space of the first piece); otherwise the two halves are decoded apart.
 */
export function markDivergence(ids: readonly number[], at: number | null, decode: (ids: number[]) => string, marker = '|'): string {
  const full = decode(ids.slice());
  if (at === null) return full;
  const head = decode(ids.slice(0, at));
  if (full.startsWith(head)) return full.slice(0, head.length) + marker + full.slice(head.length);
  return head + marker + decode(ids.slice(at));
}
