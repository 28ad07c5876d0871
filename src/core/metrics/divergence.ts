// Divergence between two next-token predictions, for ablation-type metrics (skip a block, quantize a
// layer, ...) and for the eval code: base and modified logits [T, V] row-major, row t predicting the
// token after position t.
//
//   log p = log_softmax(z) = z - max(z) - log(sum exp(z - max(z)))            (float64, stable)
//   KL(base || mod)_t = sum_v p_b(v) (log p_b(v) - log p_m(v))      (nats; terms with p_b(v) = 0 are 0)
//   NLL_t = -log p(target_t)                                           (nats)
//   top-1 agreement_t = [argmax z_b == argmax z_m]                    (first index wins a tie)
// Means are over the rows; NLL only over rows with a target (targets[t] >= 0, t < targets.length).
// This is the standard definition used by llama.cpp's `perplexity --kl-divergence` (mean KL of the
// base vs the quantized model's token distributions, and "same top p").

export interface Divergence {
  T: number;
  /** Mean over scored rows of NLL under each model, and mod - base. NaN without targets. */
  nllBase: number;
  nllMod: number;
  nllDiff: number;
  /** Mean KL(base || mod) over all rows, nats. */
  kl: number;
  klPerToken: number[];
  /** Share of rows whose argmax agrees. */
  top1Agreement: number;
  top1PerToken: boolean[];
}

/** log_softmax of row `row` of z [*, V] into out (length V), float64. Returns out. */
export function logSoftmaxRow(z: ArrayLike<number>, row: number, V: number, out = new Float64Array(V)): Float64Array {
  const o = row * V;
  let max = -Infinity;
  for (let v = 0; v < V; v++) if (z[o + v] > max) max = z[o + v];
  if (max === -Infinity || Number.isNaN(max)) {
    // All -inf (or NaN): no distribution; propagate NaN so the caller sees it.
    out.fill(NaN);
    return out;
  }
  let s = 0;
  for (let v = 0; v < V; v++) s += Math.exp(z[o + v] - max);
  const lse = max + Math.log(s);
  for (let v = 0; v < V; v++) out[v] = z[o + v] - lse;
  return out;
}

/** KL(P || Q) in nats from log-probabilities; terms where P = 0 contribute 0. */
export function klFromLogProbs(logP: ArrayLike<number>, logQ: ArrayLike<number>): number {
  let kl = 0;
  for (let v = 0; v < logP.length; v++) {
    const lp = logP[v];
    if (lp === -Infinity) continue;
    kl += Math.exp(lp) * (lp - logQ[v]);
  }
  return kl;
}

/** Index of the largest value of row `row` of z [*, V] (first index on ties). */
export function argmaxRow(z: ArrayLike<number>, row: number, V: number): number {
  const o = row * V;
  let best = 0;
  for (let v = 1; v < V; v++) if (z[o + v] > z[o + best]) best = v;
  return best;
}

export function compareLogits(base: ArrayLike<number>, mod: ArrayLike<number>, T: number, V: number, targets: ArrayLike<number> = []): Divergence {
  if (base.length !== T * V || mod.length !== T * V) throw new Error(`compareLogits: expected two [${T}, ${V}] arrays, got ${base.length} and ${mod.length} values`);
  if (targets.length > T) throw new Error(`compareLogits: ${targets.length} targets for ${T} rows`);
  const lb = new Float64Array(V);
  const lm = new Float64Array(V);
  const klPerToken: number[] = [];
  const top1PerToken: boolean[] = [];
  let nllB = 0;
  let nllM = 0;
  let scored = 0;
  let agree = 0;
  for (let t = 0; t < T; t++) {
    logSoftmaxRow(base, t, V, lb);
    logSoftmaxRow(mod, t, V, lm);
    klPerToken.push(klFromLogProbs(lb, lm));
    const same = argmaxRow(base, t, V) === argmaxRow(mod, t, V);
    top1PerToken.push(same);
    if (same) agree++;
    if (t < targets.length && targets[t] >= 0) {
      const y = targets[t];
      if (!Number.isInteger(y) || y >= V) throw new Error(`compareLogits: target ${y} at row ${t} is outside the vocabulary of ${V}`);
      nllB -= lb[y];
      nllM -= lm[y];
      scored++;
    }
  }
  const nllBase = scored ? nllB / scored : NaN;
  const nllMod = scored ? nllM / scored : NaN;
  const kl = T ? klPerToken.reduce((a, b) => a + b, 0) / T : NaN;
  return { T, nllBase, nllMod, nllDiff: nllMod - nllBase, kl, klPerToken, top1Agreement: T ? agree / T : NaN, top1PerToken };
}
