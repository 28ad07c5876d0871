// Zeroth-order (forward-only) sensitivity of each block and sublayer, the cheap gradient-free estimate that
// ECoFLaP uses (Sung, Yoon & Bansal 2023, "ECoFLaP: Efficient Coarse-to-Fine Layer-wise Pruning for
// Vision-Language Models", arXiv 2310.02998): a directional derivative from two forwards,
//   d_l = (L(1 + eps) - L(1 - eps)) / (2 eps),
// where L(s) is the mean next-token cross-entropy over all scored calibration tokens with the sublayer's
// output scaled by s at its residual add (the 'scale' intervention of src/core/model/taps.ts), i.e. the
// derivative of the loss along f_l (ECoFLaP perturbs along random directions; here the direction is the
// sublayer's own output, so d_l estimates exactly the first-order Taylor term of ./taylor.ts):
//   attention: d/ds at s = 1 = sum_t <dL/dh_mid[t], attn_out[t]>,   MLP: sum_t <dL/dh_out[t], mlp_out[t]>
//   block: both sublayers scaled together: d/ds = attention term + MLP term (the total derivative).
// Reported: perBlock = |d_block|, perSublayer = |d_attn|, |d_mlp| (higher = more important), and in extra
// the signed estimates, the exact values from the backward (extra.exact: the CPU float64 GradModel, or the
// injected GPU residual gradients of ./taylor.ts taylorTermsFrom) and the relative errors
// |d - exact| / |exact| (extra.relErr; extra.maxRelErr over all), eps, and which backends did what.
// Cost: 6 L forwards per text (on the analysis backend), one backward per text (extra.gradientBackend).

import type { Backend } from '../model/backend.ts';
import type { Intervention } from '../model/taps.ts';
import { scores, type LayerScores, type MetricMeta } from './types.ts';
import { scoredTokens, type TaylorTerms } from './taylor.ts';

export const meta: MetricMeta = {
  id: 'zo',
  label: 'Zeroth-order directional derivative (two forwards)',
  paper: 'Sung et al. 2023, ECoFLaP: Efficient Coarse-to-Fine Layer-wise Pruning for Vision-Language Models, arXiv 2310.02998',
  unit: 'nats',
  higherIsMoreImportant: true,
  needs: ['gradients', 'ablation'],
};

export const DEFAULT_EPS = 1e-2;

export type LossFn = (interventions: Intervention[]) => Promise<number>;

/** Mean next-token NLL over all scored tokens of the texts, from a backend's logits (float64 log-softmax). */
export function backendLoss(backend: Backend, ids: number[][]): LossFn {
  const scored = scoredTokens(ids);
  const V = backend.spec.vocabSize;
  return async (interventions) => {
    let s = 0;
    for (const x of ids) {
      if (x.length < 2) continue;
      const z = (await backend.forward(x, { interventions })).logits;
      for (let t = 0; t + 1 < x.length; t++) {
        const o = t * V;
        let m = -Infinity;
        for (let i = 0; i < V; i++) m = Math.max(m, z[o + i]);
        let e = 0;
        for (let i = 0; i < V; i++) e += Math.exp(z[o + i] - m);
        s += m + Math.log(e) - z[o + x[t + 1]];
      }
    }
    return scored ? s / scored : NaN;
  };
}

export interface ZoContext {
  nLayers: number;
  loss: LossFn;
  /** Exact per-token terms (./taylor.ts taylorTerms) to compare with. */
  exact: TaylorTerms;
  eps?: number;
  forwardBackend?: string;
  /** Called after each forward pair. */
  onProbe?: () => void;
}

export async function compute(ctx: ZoContext): Promise<LayerScores> {
  const eps = ctx.eps ?? DEFAULT_EPS;
  if (!(eps > 0 && eps < 1)) throw new Error(`zo: eps must be in (0, 1), got ${eps}`);
  const L = ctx.nLayers;
  const sum = (a: number[]) => a.reduce((s, v) => s + v, 0);
  const exAttn = ctx.exact.attn.map(sum);
  const exMlp = ctx.exact.mlp.map(sum);
  const exact = { attn: exAttn, mlp: exMlp, block: exAttn.map((a, l) => a + exMlp[l]) };
  const probe = async (l: number, subs: ('attn' | 'mlp')[]) => {
    const at = (f: number) => ctx.loss(subs.map((sublayer) => ({ kind: 'scale', layer: l, sublayer, factor: f })));
    const d = ((await at(1 + eps)) - (await at(1 - eps))) / (2 * eps);
    ctx.onProbe?.();
    return d;
  };
  const est = { attn: [] as number[], mlp: [] as number[], block: [] as number[] };
  for (let l = 0; l < L; l++) {
    est.attn.push(await probe(l, ['attn']));
    est.mlp.push(await probe(l, ['mlp']));
    est.block.push(await probe(l, ['attn', 'mlp']));
  }
  const rel = (a: number[], b: number[]) => a.map((v, i) => Math.abs(v - b[i]) / Math.abs(b[i]));
  const relErr = { attn: rel(est.attn, exact.attn), mlp: rel(est.mlp, exact.mlp), block: rel(est.block, exact.block) };
  const all = [...relErr.attn, ...relErr.mlp, ...relErr.block].filter(Number.isFinite);
  return scores(meta, est.block.map(Math.abs), {
    perSublayer: { attn: est.attn.map(Math.abs), mlp: est.mlp.map(Math.abs) },
    extra: {
      eps,
      signed: est,
      exact,
      relErr,
      maxRelErr: all.length ? Math.max(...all) : NaN,
      gradientBackend: ctx.exact.gradientBackend ?? 'cpu',
      forwardBackend: ctx.forwardBackend ?? 'unknown',
    },
  });
}
