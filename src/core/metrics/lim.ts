// Layer Input Modification score (LIM) of LayerwiseQuant: Dumitru et al. 2024, "Layer-Wise
// Quantization: A Pragmatic and Effective Method for Quantizing LLMs Beyond Integer Bit-Levels",
// arXiv 2406.17415, §3.1.
//
// For block l with input h_in = blk.l.in[t] and output h_out = blk.l.out[t] (rows of [T, C]):
//   LIM_l = - mean_t <h_in, h_out> / (||h_in|| ||h_out||)        in [-1, 1]
// A block that changes its input more (lower cosine) scores higher: higher = more important.
// perToken = -cos_{l,t}. Zero-norm rows count as cos = 1 (unchanged), as in metrics/cos.ts.
// LIM is an affine map of ShortGPT's BI (LIM = BI - 1), so both rank blocks identically; it is kept
// as its own metric because the paper and its bit allocation use this scale.

import { cosineRows } from './cos.ts';
import { mean, requireTap, scores, tapName, type LayerScores, type MetricMeta, type TapsContext } from './types.ts';

export const meta: MetricMeta = {
  id: 'lim',
  label: 'LIM (-cos in/out)',
  paper: 'Dumitru et al. 2024, Layer-Wise Quantization: A Pragmatic and Effective Method for Quantizing LLMs Beyond Integer Bit-Levels, arXiv 2406.17415',
  unit: '-cos',
  higherIsMoreImportant: true,
  needs: ['taps'],
};

export function compute(ctx: TapsContext): LayerScores {
  const { taps, T, C, nLayers } = ctx;
  const perBlock: number[] = [];
  const perToken: number[][] = [];
  for (let l = 0; l < nLayers; l++) {
    const cos = cosineRows(requireTap(taps, tapName(l, 'in'), T, C), requireTap(taps, tapName(l, 'out'), T, C), T, C);
    perBlock.push(-mean(cos));
    perToken.push(Array.from(cos, (c) => -c));
  }
  return scores(meta, perBlock, { perToken });
}
