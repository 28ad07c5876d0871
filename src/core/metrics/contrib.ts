// Relative contribution of each block and sublayer to the residual stream: Csordás et al. 2025,
// "Do Language Models Use Their Depth Efficiently?", arXiv 2505.13898.
//
// For block l and token t (rows of [T, C] taps), f(x) a sublayer's output added to the residual x:
//   attention: r_att = ||blk.l.attn_out[t]|| / ||blk.l.in[t]||
//   MLP:       r_mlp = ||blk.l.mlp_out[t]||  / ||blk.l.mid[t]||
//   block:     r_blk = ||blk.l.out[t] - blk.l.in[t]|| / ||blk.l.in[t]||
// each averaged over tokens: perBlock = mean_t r_blk, perSublayer = {attn: mean_t r_att, mlp: mean_t r_mlp},
// perToken = r_blk (L x T). Higher = the block writes more relative to what it reads = more important.
// A token whose residual norm is zero has no defined ratio: it is left out of that mean (perToken
// holds NaN there); a mean over no tokens is NaN. Norms accumulate in float64.

import { requireTap, scores, tapName, type LayerScores, type MetricMeta, type TapsContext } from './types.ts';

export const meta: MetricMeta = {
  id: 'contrib',
  label: 'Relative contribution ||f(x)|| / ||x||',
  paper: 'Csordás et al. 2025, Do Language Models Use Their Depth Efficiently?, arXiv 2505.13898',
  unit: 'ratio',
  higherIsMoreImportant: true,
  needs: ['taps'],
};

/** ||f[t]|| / ||x[t]|| per row (subtractX: ||f[t] - x[t]|| / ||x[t]||); NaN where ||x[t]|| = 0. */
export function normRatios(f: Float32Array, x: Float32Array, T: number, C: number, subtractX = false): Float64Array {
  const out = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    const o = t * C;
    let nf = 0;
    let nx = 0;
    for (let c = 0; c < C; c++) {
      const xv = x[o + c];
      const fv = subtractX ? f[o + c] - xv : f[o + c];
      nf += fv * fv;
      nx += xv * xv;
    }
    out[t] = nx === 0 ? NaN : Math.sqrt(nf / nx);
  }
  return out;
}

/** Mean over the non-NaN entries; NaN when there are none. */
export function nanMean(v: ArrayLike<number>): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < v.length; i++) {
    if (!Number.isNaN(v[i])) {
      s += v[i];
      n++;
    }
  }
  return n ? s / n : NaN;
}

export function compute(ctx: TapsContext): LayerScores {
  const { taps, T, C, nLayers } = ctx;
  const perBlock: number[] = [];
  const perToken: number[][] = [];
  const attn: number[] = [];
  const mlp: number[] = [];
  for (let l = 0; l < nLayers; l++) {
    const hin = requireTap(taps, tapName(l, 'in'), T, C);
    const hmid = requireTap(taps, tapName(l, 'mid'), T, C);
    const hout = requireTap(taps, tapName(l, 'out'), T, C);
    const blk = normRatios(hout, hin, T, C, true);
    perBlock.push(nanMean(blk));
    perToken.push(Array.from(blk));
    attn.push(nanMean(normRatios(requireTap(taps, tapName(l, 'attn_out'), T, C), hin, T, C)));
    mlp.push(nanMean(normRatios(requireTap(taps, tapName(l, 'mlp_out'), T, C), hmid, T, C)));
  }
  return scores(meta, perBlock, { perSublayer: { attn, mlp }, perToken });
}
