// Block Influence by cosine similarity (ShortGPT, Men et al. 2024, arXiv 2403.03853) with the
// attention / MLP split of LLM-Drop ("What Matters in Transformers? Not All Attention is Needed",
// He et al. 2024, arXiv 2406.15786).
//
// For block l and token t, with h_in = blk.l.in[t] and h_out = blk.l.out[t] (rows of [T, C]):
//   cos_{l,t} = <h_in, h_out> / (||h_in|| ||h_out||)
//   BI_l      = 1 - mean_t cos_{l,t}                     -> perBlock (higher = more important)
//   perToken  = 1 - cos_{l,t}                            (L x T heatmap)
//   attention sublayer: 1 - mean_t cos(blk.l.in, blk.l.mid)
//   MLP sublayer:       1 - mean_t cos(blk.l.mid, blk.l.out)  -> perSublayer (same orientation)
// extra: meanCos (all tokens), meanCosNoFirst / biNoFirst (tokens 1..T-1: position 0 often carries
// an attention-sink state whose cosine differs from the rest; NaN when T = 1), angular distance
// mean_t arccos(cos)/pi (in [0, 1]) per block and per sublayer, and the raw sublayer cosine means.
//
// Zero vectors: when either vector has zero norm the cosine is undefined; we define cos = 1 (the
// token counts as "unchanged"), so an all-zero tap reads as an unimportant block rather than NaN.
// Dot products and norms accumulate in float64.

import { mean, requireTap, scores, tapName, type LayerScores, type MetricMeta, type TapsContext } from './types.ts';
import { cosineRowsF64 } from '../ops/cosine.ts';

export const meta: MetricMeta = {
  id: 'cos',
  label: 'Block influence (1 - cos)',
  paper: 'Men et al. 2024, ShortGPT: Layers in Large Language Models are More Redundant Than You Expect, arXiv 2403.03853; He et al. 2024, What Matters in Transformers? Not All Attention is Needed, arXiv 2406.15786',
  unit: '1 - cos',
  higherIsMoreImportant: true,
  needs: ['taps'],
};

/** cos(a[t], b[t]) for every row t of two [T, C] arrays, float64; a zero-norm row gives 1 (src/core/ops/cosine.ts). */
export const cosineRows = cosineRowsF64;

/** Mean of arccos(cos)/pi over the rows. */
function meanAngular(cos: Float64Array): number {
  let s = 0;
  for (const c of cos) s += Math.acos(c) / Math.PI;
  return cos.length ? s / cos.length : NaN;
}

export function compute(ctx: TapsContext): LayerScores {
  const { taps, T, C, nLayers } = ctx;
  const perBlock: number[] = [];
  const perToken: number[][] = [];
  const attn: number[] = [];
  const mlp: number[] = [];
  const meanCos: number[] = [];
  const meanCosNoFirst: number[] = [];
  const angular: number[] = [];
  const attnAngular: number[] = [];
  const mlpAngular: number[] = [];
  const attnCos: number[] = [];
  const mlpCos: number[] = [];
  for (let l = 0; l < nLayers; l++) {
    const hin = requireTap(taps, tapName(l, 'in'), T, C);
    const hmid = requireTap(taps, tapName(l, 'mid'), T, C);
    const hout = requireTap(taps, tapName(l, 'out'), T, C);
    const block = cosineRows(hin, hout, T, C);
    const a = cosineRows(hin, hmid, T, C);
    const m = cosineRows(hmid, hout, T, C);
    const mc = mean(block);
    meanCos.push(mc);
    meanCosNoFirst.push(mean(block, 1));
    perBlock.push(1 - mc);
    perToken.push(Array.from(block, (c) => 1 - c));
    angular.push(meanAngular(block));
    attnCos.push(mean(a));
    mlpCos.push(mean(m));
    attn.push(1 - mean(a));
    mlp.push(1 - mean(m));
    attnAngular.push(meanAngular(a));
    mlpAngular.push(meanAngular(m));
  }
  return scores(meta, perBlock, {
    perSublayer: { attn, mlp },
    perToken,
    extra: {
      meanCos,
      meanCosNoFirst,
      biNoFirst: meanCosNoFirst.map((c) => 1 - c),
      angular,
      attnAngular,
      mlpAngular,
      attnCos,
      mlpCos,
    },
  });
}
