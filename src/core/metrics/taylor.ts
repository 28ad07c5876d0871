// First-order Taylor importance of each block and sublayer: Molchanov et al. 2019, "Importance Estimation
// for Neural Network Pruning", arXiv 1906.10771 (the loss change of removing a unit, to first order), applied
// to whole sublayers of the residual stream as layer-pruning work does.
//
// With L the mean next-token cross-entropy over all scored tokens of all calibration texts, and for block l
// at token t (rows of [T, C], gradients from src/core/grad/backward.ts, CPU, float64):
//   attention: a_t = <dL/dh_mid[t],  attn_out[t]>     (h_mid: the residual right after the attention add)
//   MLP:       m_t = <dL/dh_out[t],  mlp_out[t]>      (h_out: the residual right after the MLP add)
//   block:     b_t = <dL/dh_out[t],  out[t] - in[t]>
// Removing a contribution f from the residual everywhere changes the loss by -sum_t <g_t, f_t> + O(f^2),
// so the reported values are
//   perBlock[l]            = |sum_t b_t|      perSublayer.attn[l] = |sum_t a_t|    perSublayer.mlp[l] = |sum_t m_t|
//   perToken[l][t]         = |b_t|            (the estimate for removing the block at token t only)
// and extra.signed holds the signed sums (predicted loss change of removal = -signed). Higher = more
// important. Gradients come from the CPU float64 GradModel (extra.gradientBackend = 'cpu'), or from an
// injected residual-gradient provider (taylorTermsFrom; e.g. the WebGPU backward, 'gpu') with the taps of
// the analysis forward.

import { GradModel, rowDots } from '../grad/backward.ts';
import { scores, type LayerScores, type MetricMeta } from './types.ts';

export const meta: MetricMeta = {
  id: 'taylor',
  label: 'First-order Taylor |<dL/dh, f(h)>|',
  paper: 'Molchanov et al. 2019, Importance Estimation for Neural Network Pruning, arXiv 1906.10771',
  unit: 'nats',
  higherIsMoreImportant: true,
  needs: ['gradients'],
};

export interface GradContext {
  grad: GradModel;
  /** Token ids per calibration text (each run from position 0). */
  ids: number[][];
}

export interface TaylorTerms {
  /** Signed per-token terms, L x T (texts concatenated). */
  block: number[][];
  attn: number[][];
  mlp: number[][];
  /** Mean loss over all scored tokens, and their number. */
  loss: number;
  scored: number;
  /** Where dL/dh came from (default 'cpu'). */
  gradientBackend?: 'cpu' | 'gpu';
}

/** One text's residual gradients (dL/dh at blk.l.mid / blk.l.out, [T, C]) and the taps of its forward. */
export interface TextGrads {
  /** Loss contribution of the text (its share of the mean over all scored tokens). */
  loss: number;
  resid: Record<string, ArrayLike<number>>;
  /** blk.l.in / attn_out / mlp_out / out, [T, C]. */
  taps: Record<string, Float32Array>;
}

/**
 * The same signed terms as taylorTerms from given per-text gradients: `grads(i, denom)` returns text i's
 * dL/dh for the mean loss over `denom` scored tokens (all texts), and the taps of its forward.
 */
export async function taylorTermsFrom(
  nLayers: number,
  dModel: number,
  ids: number[][],
  grads: (i: number, denom: number) => Promise<TextGrads>,
  gradientBackend: 'cpu' | 'gpu',
): Promise<TaylorTerms> {
  const L = nLayers;
  const C = dModel;
  const scored = scoredTokens(ids);
  const out: TaylorTerms = { block: [], attn: [], mlp: [], loss: 0, scored, gradientBackend };
  for (let l = 0; l < L; l++) {
    out.block.push([]);
    out.attn.push([]);
    out.mlp.push([]);
  }
  for (let i = 0; i < ids.length; i++) {
    const T = ids[i].length;
    const r = await grads(i, Math.max(scored, 1));
    out.loss += r.loss;
    for (let l = 0; l < L; l++) {
      const tp = (p: string) => {
        const x = r.taps[`blk.${l}.${p}`];
        if (!x) throw new Error(`taylor: missing tap blk.${l}.${p}`);
        return x;
      };
      const diff = tp('out').map((v, j) => v - tp('in')[j]);
      out.block[l].push(...rowDots(r.resid[`blk.${l}.out`], diff, T, C));
      out.attn[l].push(...rowDots(r.resid[`blk.${l}.mid`], tp('attn_out'), T, C));
      out.mlp[l].push(...rowDots(r.resid[`blk.${l}.out`], tp('mlp_out'), T, C));
    }
  }
  return out;
}

/** Number of next-token targets over the texts. */
export function scoredTokens(ids: number[][]): number {
  return ids.reduce((a, x) => a + Math.max(0, x.length - 1), 0);
}

/** Signed <dL/dh, f> terms per block, sublayer and token (one backward per text, no weight gradients). */
export function taylorTerms(ctx: GradContext): TaylorTerms {
  const { grad, ids } = ctx;
  const L = grad.spec.nLayers;
  const C = grad.spec.dModel;
  const scored = scoredTokens(ids);
  const out: TaylorTerms = { block: [], attn: [], mlp: [], loss: 0, scored };
  for (let l = 0; l < L; l++) {
    out.block.push([]);
    out.attn.push([]);
    out.mlp.push([]);
  }
  for (const x of ids) {
    const T = x.length;
    const r = grad.lossAndGrad(x, { weightGrads: false, lossDenominator: Math.max(scored, 1) });
    out.loss += r.loss;
    for (let l = 0; l < L; l++) {
      const tp = (p: string) => r.taps[`blk.${l}.${p}`];
      const diff = tp('out').map((v, i) => v - tp('in')[i]);
      out.block[l].push(...rowDots(r.resid[`blk.${l}.out`], diff, T, C));
      out.attn[l].push(...rowDots(r.resid[`blk.${l}.mid`], tp('attn_out'), T, C));
      out.mlp[l].push(...rowDots(r.resid[`blk.${l}.out`], tp('mlp_out'), T, C));
    }
  }
  return out;
}

const sum = (a: number[]) => a.reduce((s, v) => s + v, 0);

export function compute(ctx: GradContext, terms: TaylorTerms = taylorTerms(ctx)): LayerScores {
  const signed = { block: terms.block.map(sum), attn: terms.attn.map(sum), mlp: terms.mlp.map(sum) };
  return scores(meta, signed.block.map(Math.abs), {
    perSublayer: { attn: signed.attn.map(Math.abs), mlp: signed.mlp.map(Math.abs) },
    perToken: terms.block.map((row) => row.map(Math.abs)),
    extra: {
      signed,
      perTokenAttn: terms.attn.map((row) => row.map(Math.abs)),
      perTokenMlp: terms.mlp.map((row) => row.map(Math.abs)),
      loss: terms.loss,
      scored: terms.scored,
      gradientBackend: terms.gradientBackend ?? 'cpu',
    },
  });
}
