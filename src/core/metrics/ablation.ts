// Ablation importance (issue 3, metric 6): run the calibration texts with one block, or only its
// attention or only its MLP, skipped, and measure how far the next-token predictions move from the
// unmodified model's. Layer removal as in Gromov et al. 2024, "The Unreasonable Ineffectiveness of the
// Deeper Layers", arXiv 2403.17887, and Men et al. 2024 (ShortGPT), arXiv 2403.03853; attention / MLP
// drop as in He et al. 2024, "What Matters in Transformers? Not All Attention is Needed", arXiv 2406.15786.
//
// Interventions (src/core/model/taps.ts): skip-block l (the residual passes through block l unchanged),
// skip-attn l (the attention output counts as zero), skip-mlp l. For each, over every calibration text
// (token ids x_0..x_{T-1}, base logits z [T, V] from the unmodified model, ablated logits z'):
//   KL_t   = KL(softmax z_t || softmax z'_t)                     (nats; divergence.ts compareLogits)
//   NLL_t  = -log softmax(z_t)[x_{t+1}]   for t < T-1            (the same under z')
//   top1_t = [argmax z_t == argmax z'_t]
// pooled over all rows of all texts (token-weighted, as if the texts were one concatenated batch of
// independent sequences):
//   kl   = mean_t KL_t                     (all rows, the last included)
//   dNll = mean_t NLL'_t - mean_t NLL_t    (rows with a target)
//   top1 = mean_t top1_t
// perBlock = kl of skip-block (higher = more important); perSublayer = kl of skip-attn / skip-mlp;
// perToken = KL_t of skip-block (L x total tokens, texts concatenated). extra.block / .attn / .mlp hold
// {dNll, kl, top1, nllMod} per block, extra.nllBase the base model's mean NLL.
// Cost: 3 L forward passes per text on the given backend (no weights are touched).

import type { Backend } from '../model/backend.ts';
import type { Intervention } from '../model/taps.ts';
import { checkCancel, type CancelToken } from '../eval/perplexity.ts';
import { compareLogits } from './divergence.ts';
import { scores, type LayerScores, type MetricMeta } from './types.ts';

export const meta: MetricMeta = {
  id: 'ablation',
  label: 'Ablation KL(base || skipped)',
  paper: 'Gromov et al. 2024, The Unreasonable Ineffectiveness of the Deeper Layers, arXiv 2403.17887; He et al. 2024, What Matters in Transformers? Not All Attention is Needed, arXiv 2406.15786',
  unit: 'nats',
  higherIsMoreImportant: true,
  needs: ['ablation'],
};

/** The calibration texts and the unmodified model's logits on them. */
export interface Calibration {
  /** Token ids per text. */
  ids: number[][];
  /** Base logits per text, [T_i, V] row-major. */
  baseLogits: Float32Array[];
  vocabSize: number;
}

/** One modified model (or intervention) against the base, pooled over the calibration texts. */
export interface DivergenceSummary {
  /** Mean NLL of the base / modified model over the scored rows (nats/token); NaN with no targets. */
  nllBase: number;
  nllMod: number;
  /** nllMod - nllBase. */
  dNll: number;
  /** Mean KL(base || modified) over all rows, nats. */
  kl: number;
  /** Share of rows whose argmax agrees with the base. */
  top1: number;
  /** Rows (tokens) and scored rows (tokens with a target) pooled. */
  tokens: number;
  scored: number;
  /** KL per row, texts concatenated. */
  klPerToken: number[];
}

/** A summary of "no measurement" (every value NaN): used where nothing could be modified. */
export function nanSummary(tokens: number): DivergenceSummary {
  return { nllBase: NaN, nllMod: NaN, dNll: NaN, kl: NaN, top1: NaN, tokens, scored: 0, klPerToken: new Array<number>(tokens).fill(NaN) };
}

/**
 * Run every calibration text on `backend` (with `interventions`) and compare with the base logits.
 * `onForward` is called after each forward (progress); `cancel` is checked before each.
 */
export async function measureDivergence(
  backend: Backend,
  calib: Calibration,
  interventions: Intervention[] = [],
  opts: { cancel?: CancelToken; onForward?: () => void } = {},
): Promise<DivergenceSummary> {
  const V = calib.vocabSize;
  let nllB = 0;
  let nllM = 0;
  let scored = 0;
  let klSum = 0;
  let agree = 0;
  let tokens = 0;
  const klPerToken: number[] = [];
  for (let i = 0; i < calib.ids.length; i++) {
    checkCancel(opts.cancel);
    const ids = calib.ids[i];
    const T = ids.length;
    const r = await backend.forward(ids, { interventions });
    opts.onForward?.();
    const d = compareLogits(calib.baseLogits[i], r.logits, T, V, ids.slice(1));
    const s = T - 1;
    if (s > 0) {
      nllB += d.nllBase * s;
      nllM += d.nllMod * s;
      scored += s;
    }
    for (const k of d.klPerToken) {
      klSum += k;
      klPerToken.push(k);
    }
    for (const a of d.top1PerToken) if (a) agree++;
    tokens += T;
  }
  const nllBase = scored ? nllB / scored : NaN;
  const nllMod = scored ? nllM / scored : NaN;
  return {
    nllBase,
    nllMod,
    dNll: nllMod - nllBase,
    kl: tokens ? klSum / tokens : NaN,
    top1: tokens ? agree / tokens : NaN,
    tokens,
    scored,
    klPerToken,
  };
}

export interface AblationContext {
  backend: Backend;
  calib: Calibration;
  nLayers: number;
  cancel?: CancelToken;
  /** Called after every forward pass with a description (progress). */
  onForward?: (what: string) => void;
}

/** Per-block measures of one kind of ablation. */
export interface AblationSeries {
  dNll: number[];
  kl: number[];
  top1: number[];
  nllMod: number[];
}

export const ABLATIONS = ['skip-block', 'skip-attn', 'skip-mlp'] as const;

export async function compute(ctx: AblationContext): Promise<LayerScores> {
  const series = (): AblationSeries => ({ dNll: [], kl: [], top1: [], nllMod: [] });
  const out = { 'skip-block': series(), 'skip-attn': series(), 'skip-mlp': series() };
  const perToken: number[][] = [];
  let nllBase = NaN;
  for (let l = 0; l < ctx.nLayers; l++) {
    for (const kind of ABLATIONS) {
      const s = await measureDivergence(ctx.backend, ctx.calib, [{ kind, layer: l }], {
        cancel: ctx.cancel,
        onForward: () => ctx.onForward?.(`ablation: block ${l} ${kind}`),
      });
      nllBase = s.nllBase;
      const o = out[kind];
      o.dNll.push(s.dNll);
      o.kl.push(s.kl);
      o.top1.push(s.top1);
      o.nllMod.push(s.nllMod);
      if (kind === 'skip-block') perToken.push(s.klPerToken);
    }
  }
  return scores(meta, out['skip-block'].kl, {
    perSublayer: { attn: out['skip-attn'].kl, mlp: out['skip-mlp'].kl },
    perToken,
    extra: { block: out['skip-block'], attn: out['skip-attn'], mlp: out['skip-mlp'], nllBase },
  });
}
