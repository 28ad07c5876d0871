// Z-score Distribution score (ZD) of LayerwiseQuant: Dumitru et al. 2024, "Layer-Wise Quantization:
// A Pragmatic and Effective Method for Quantizing LLMs Beyond Integer Bit-Levels", arXiv 2406.17415,
// §3.1.
//
// For block l, pool all of its linear weights w (blk.l.attn_q/k/v or attn_qkv, attn_output,
// ffn_gate/up/down; norms and biases excluded) into one population of N values:
//   mu = mean(w), sigma = sqrt(mean((w - mu)^2))      (population std, float64, two passes)
//   z_i = (w_i - mu) / sigma
//   ZD_l = #{ i : |z_i| > 1 } / N                      -> perBlock, a share in [0, 1]
// sigma = 0 (constant weights) gives ZD = 0; a block without linear weights gives NaN.
//
// Our reading of the paper, stated because the sources differ:
// - Pooled per layer vs per matrix: the paper defines ZD over "the weights of a layer" with the
//   mean and std of that layer, so mu and sigma are pooled over all of the block's linear weights.
//   Public re-implementations differ (one concatenates a block's weights, another averages
//   per-matrix ratios), so perTensor holds each matrix's own ZD (its own mu, sigma) and
//   extra.perMatrixMean the plain average of those, for comparison.
// - |z| > 1 (both tails), strictly greater.
// - Orientation: the abstract ranks layers by "the number of layer weights that are much larger than
//   average (smaller is better)": a smaller ZD means more important. This matches the intuition that a
//   heavy-tailed block (most weights near the mean, a few outliers) has fewer values beyond one sigma
//   than a Gaussian (31.7%) and is harder to quantize. So higherIsMoreImportant = false.
// We could not read the paper's full text through our sources (only its abstract and third-party
// implementations); the choices above are documented so they can be revisited.

import { layerLinears, scores, type LayerScores, type MetricMeta, type WeightLookup } from './types.ts';

export const meta: MetricMeta = {
  id: 'zd',
  label: 'ZD (share of |z| > 1)',
  paper: 'Dumitru et al. 2024, Layer-Wise Quantization: A Pragmatic and Effective Method for Quantizing LLMs Beyond Integer Bit-Levels, arXiv 2406.17415',
  unit: 'share',
  higherIsMoreImportant: false,
  needs: ['weights'],
};

export interface WeightsContext {
  nLayers: number;
  /** Dequantized f32 matrices by canonical name (blk.l.attn_q, ...). */
  weight: WeightLookup;
}

/** Share of values with |x - mu| > threshold * sigma over the concatenation of `parts` (pooled mu, sigma). */
export function zScoreShare(parts: readonly Float32Array[], threshold = 1): number {
  let n = 0;
  let s = 0;
  for (const p of parts) {
    n += p.length;
    for (const v of p) s += v;
  }
  if (n === 0) return NaN;
  const mu = s / n;
  let ss = 0;
  for (const p of parts) for (const v of p) ss += (v - mu) * (v - mu);
  const sigma = Math.sqrt(ss / n);
  if (sigma === 0) return 0;
  const lim = threshold * sigma;
  let count = 0;
  for (const p of parts) for (const v of p) if (Math.abs(v - mu) > lim) count++;
  return count / n;
}

export function compute(ctx: WeightsContext): LayerScores {
  const perBlock: number[] = [];
  const perTensor: Record<string, number> = {};
  const perMatrixMean: number[] = [];
  for (let l = 0; l < ctx.nLayers; l++) {
    const mats = layerLinears(ctx.weight, l);
    perBlock.push(zScoreShare(mats.map(([, w]) => w.data)));
    let s = 0;
    for (const [name, w] of mats) {
      const z = zScoreShare([w.data]);
      perTensor[name] = z;
      s += z;
    }
    perMatrixMean.push(mats.length ? s / mats.length : NaN);
  }
  return scores(meta, perBlock, { perTensor, extra: { perMatrixMean } });
}
