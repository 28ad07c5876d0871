// Logit lens (nostalgebraist 2020, "interpreting GPT: the logit lens", LessWrong,
// https://www.lesswrong.com/posts/AcKRB8wDpdaN6v6ru): read every block's output residual through the
// model's own final norm + unembedding, as if the network ended there.
//
// For block l and position t: z_l = unembed(blk.l.out) [T, V], p_l = softmax(z_l[t]) (float64,
// max-subtracted), and the final distribution p_f from the `logits` tap (or, without it, from
// unembed(blk.(L-1).out)). Per position:
//   top-1 token argmax p_l and its probability;  KL(p_f || p_l) in nats;  agree = [argmax p_l == argmax p_f]
// perBlock = mean_t KL(p_f || p_l): lower = the block's output already reads like the final
// prediction. This is a readout, not an ablation importance; its ranking puts the blocks closest to
// the output first (higherIsMoreImportant = false). extra.klDrop[l] = KL_{l-1} - KL_l (KL_{-1} read from
// the embedding blk.0.in when that tap exists) is how far block l moves the prediction toward the
// output, the importance-like view of the same numbers.
// perToken = KL per position (L x T); extra: top1 / top1Prob / agree (L x T), agreement (share per
// block), finalTop1 / finalTop1Prob (T), embedKl, klDrop.

import { requireTap, scores, tapName, type LayerScores, type MetricMeta, type TapsContext } from './types.ts';
import { argmaxRow } from './divergence.ts';

export const meta: MetricMeta = {
  id: 'lens',
  label: 'Logit lens KL(final || block)',
  paper: 'nostalgebraist 2020, interpreting GPT: the logit lens (LessWrong, https://www.lesswrong.com/posts/AcKRB8wDpdaN6v6ru)',
  unit: 'nats',
  higherIsMoreImportant: false,
  needs: ['taps'],
};

export interface LensContext extends TapsContext {
  /** Final norm + unembedding of a residual [T, C] -> logits [T, V]. */
  unembed: (h: Float32Array, T: number) => Float32Array;
}

/** log(sum_v exp(z[row, v])), max-subtracted, float64. */
function rowLse(z: Float32Array, row: number, V: number): number {
  const o = row * V;
  let max = -Infinity;
  for (let v = 0; v < V; v++) if (z[o + v] > max) max = z[o + v];
  let s = 0;
  for (let v = 0; v < V; v++) s += Math.exp(z[o + v] - max);
  return max + Math.log(s);
}

interface LensRow {
  kl: number[];
  top1: number[];
  top1Prob: number[];
  agree: number[];
}

function readLayer(z: Float32Array, zf: Float32Array, lsef: Float64Array, finalTop1: number[], T: number, V: number): LensRow {
  const r: LensRow = { kl: [], top1: [], top1Prob: [], agree: [] };
  for (let t = 0; t < T; t++) {
    const o = t * V;
    const lse = rowLse(z, t, V);
    let kl = 0;
    for (let v = 0; v < V; v++) {
      const lpf = zf[o + v] - lsef[t];
      const pf = Math.exp(lpf);
      if (pf > 0) kl += pf * (lpf - (z[o + v] - lse));
    }
    const top = argmaxRow(z, t, V);
    r.kl.push(Math.max(0, kl));
    r.top1.push(top);
    r.top1Prob.push(Math.exp(z[o + top] - lse));
    r.agree.push(top === finalTop1[t] ? 1 : 0);
  }
  return r;
}

export function compute(ctx: LensContext): LayerScores {
  const { taps, T, C, nLayers, unembed } = ctx;
  if (nLayers < 1) throw new Error('logit lens: the model has no blocks');
  const zf = taps.logits ?? unembed(requireTap(taps, tapName(nLayers - 1, 'out'), T, C), T);
  const V = zf.length / T;
  if (!Number.isInteger(V) || V < 1) throw new Error(`logit lens: final logits have ${zf.length} values, not a multiple of T = ${T}`);
  const lsef = Float64Array.from({ length: T }, (_, t) => rowLse(zf, t, V));
  const finalTop1 = Array.from({ length: T }, (_, t) => argmaxRow(zf, t, V));
  const finalTop1Prob = finalTop1.map((id, t) => Math.exp(zf[t * V + id] - lsef[t]));

  const read = (h: Float32Array): LensRow => {
    const z = unembed(h, T);
    if (z.length !== T * V) throw new Error(`logit lens: unembed returned ${z.length} values, expected T*V = ${T * V}`);
    return readLayer(z, zf, lsef, finalTop1, T, V);
  };
  const meanOf = (a: number[]): number => (a.length ? a.reduce((x, y) => x + y, 0) / a.length : NaN);

  const embedKl = taps[tapName(0, 'in')] ? meanOf(read(requireTap(taps, tapName(0, 'in'), T, C)).kl) : NaN;
  const perBlock: number[] = [];
  const perToken: number[][] = [];
  const top1: number[][] = [];
  const top1Prob: number[][] = [];
  const agree: number[][] = [];
  const agreement: number[] = [];
  const klDrop: number[] = [];
  let prev = embedKl;
  for (let l = 0; l < nLayers; l++) {
    const r = read(requireTap(taps, tapName(l, 'out'), T, C));
    const m = meanOf(r.kl);
    perBlock.push(m);
    perToken.push(r.kl);
    top1.push(r.top1);
    top1Prob.push(r.top1Prob);
    agree.push(r.agree);
    agreement.push(meanOf(r.agree));
    klDrop.push(prev - m);
    prev = m;
  }
  return scores(meta, perBlock, {
    perToken,
    extra: { top1, top1Prob, agree, agreement, finalTop1, finalTop1Prob, embedKl, klDrop, vocabSize: V },
  });
}
