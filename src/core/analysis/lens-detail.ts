// Logit lens with per-token detail (issue 3, metric 9): runs src/core/metrics/lens.ts (KL(final || block)
// per block and position, top-1 and agreement) and, in the same pass over the unembedded block outputs,
// collects for every block l and position t:
//   top-k tokens of p_l = softmax(unembed(blk.l.out)[t]) with their probabilities (float64 softmax,
//   max-subtracted; ties to the lower id), and pFinal = p_l(final top-1 token), the probability the
//   block's readout gives to the model's final prediction at t.
// The detail is gathered by wrapping the unembed function: lens.compute calls it once per block output
// tap (identified by array identity), so the costly T x C x V unembedding runs once per block.

import { compute as lensCompute } from '../metrics/lens.ts';
import { argmaxRow } from '../metrics/divergence.ts';
import { tapName } from '../model/taps.ts';
import type { LayerScores } from '../metrics/types.ts';

export interface LensDetail {
  k: number;
  /** L x T x k token ids, most probable first. */
  topIds: number[][][];
  /** L x T x k probabilities of those tokens. */
  topProbs: number[][][];
  /** L x T: probability of the final prediction (argmax of the model's logits at t) under block l's readout. */
  pFinal: number[][];
  /** T: the model's final top-1 token and its probability. */
  finalTop1: number[];
  finalTop1Prob: number[];
  /** Vocabulary piece of every id above (filled by analyze from the model's tokenizer). */
  pieces?: Record<string, string>;
}

/** Top-k ids and probabilities of each row of z [T, V], plus p(target[t]) per row. */
export function rowTopK(z: Float32Array, T: number, V: number, k: number, target: number[]): { ids: number[][]; probs: number[][]; pTarget: number[] } {
  const ids: number[][] = [];
  const probs: number[][] = [];
  const pTarget: number[] = [];
  const kk = Math.min(k, V);
  for (let t = 0; t < T; t++) {
    const o = t * V;
    let max = -Infinity;
    for (let v = 0; v < V; v++) if (z[o + v] > max) max = z[o + v];
    let s = 0;
    for (let v = 0; v < V; v++) s += Math.exp(z[o + v] - max);
    const lse = max + Math.log(s);
    // Insertion into a sorted list of the k best (value desc, id asc).
    const best: number[] = [];
    for (let v = 0; v < V; v++) {
      const x = z[o + v];
      if (best.length === kk && !(x > z[o + best[kk - 1]])) continue;
      let i = best.length;
      while (i > 0 && x > z[o + best[i - 1]]) i--;
      best.splice(i, 0, v);
      if (best.length > kk) best.pop();
    }
    ids.push(best);
    probs.push(best.map((v) => Math.exp(z[o + v] - lse)));
    pTarget.push(Math.exp(z[o + target[t]] - lse));
  }
  return { ids, probs, pTarget };
}

export function lensWithDetail(
  taps: Record<string, Float32Array>,
  T: number,
  C: number,
  nLayers: number,
  unembed: (h: Float32Array, T: number) => Float32Array,
  k: number,
): { scores: LayerScores; detail: LensDetail } {
  const logits = taps.logits;
  if (!logits) throw new Error('logit lens needs the final logits');
  const V = logits.length / T;
  const finalTop1 = Array.from({ length: T }, (_, t) => argmaxRow(logits, t, V));
  const fin = rowTopK(logits, T, V, 1, finalTop1);
  const layerOf = new Map<Float32Array, number>();
  for (let l = 0; l < nLayers; l++) {
    const h = taps[tapName(l, 'out')];
    if (h) layerOf.set(h, l);
  }
  const topIds: number[][][] = new Array(nLayers);
  const topProbs: number[][][] = new Array(nLayers);
  const pFinal: number[][] = new Array(nLayers);
  const wrapped = (h: Float32Array, n: number): Float32Array => {
    const z = unembed(h, n);
    const l = layerOf.get(h);
    if (l !== undefined) {
      const r = rowTopK(z, n, V, k, finalTop1);
      topIds[l] = r.ids;
      topProbs[l] = r.probs;
      pFinal[l] = r.pTarget;
    }
    return z;
  };
  const scores = lensCompute({ taps, T, C, nLayers, unembed: wrapped });
  return { scores, detail: { k, topIds, topProbs, pFinal, finalTop1, finalTop1Prob: fin.pTarget } };
}
