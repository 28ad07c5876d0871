// Mean next-token cross-entropy of a sequence and its gradient w.r.t. the logits (float64).
// logits [T, V], ids [T]: row t predicts ids[t + 1] for t < T - 1 (the last row has no target).
//   loss = (1 / denom) sum_{t < T-1} -log softmax(logits_t)[ids[t+1]],  denom = T - 1 by default
//   dlogits_t = (softmax(logits_t) - onehot(ids[t+1])) / denom,  dlogits_{T-1} = 0.
// `denom` lets several sequences share one mean (the loss over all of them = sum of their terms).

import type { Arr } from './types.ts';

export function nextTokenCrossEntropy(logits: Arr, T: number, V: number, ids: ArrayLike<number>, denom = T - 1): { loss: number; dlogits: Float64Array } {
  const dlogits = new Float64Array(T * V);
  let loss = 0;
  if (T < 2) return { loss: 0, dlogits };
  for (let t = 0; t < T - 1; t++) {
    const o = t * V;
    let m = -Infinity;
    for (let i = 0; i < V; i++) m = Math.max(m, logits[o + i]);
    let z = 0;
    for (let i = 0; i < V; i++) z += Math.exp(logits[o + i] - m);
    const lz = m + Math.log(z);
    const tgt = ids[t + 1];
    loss += lz - logits[o + tgt];
    for (let i = 0; i < V; i++) dlogits[o + i] = Math.exp(logits[o + i] - lz) / denom;
    dlogits[o + tgt] -= 1 / denom;
  }
  return { loss: loss / denom, dlogits };
}
