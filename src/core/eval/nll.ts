// Negative log-likelihood of next tokens from logits, in float64.
// nll_t = logsumexp(logits_t) - logits_t[ids[t+1]] (natural log), as the references define it.

/** log-sum-exp of row `r` of a [*, V] logits array, stable, float64. */
export function logSumExp(logits: Float32Array, r: number, V: number): number {
  const o = r * V;
  let m = -Infinity;
  for (let i = 0; i < V; i++) if (logits[o + i] > m) m = logits[o + i];
  if (m === -Infinity) return -Infinity;
  let s = 0;
  for (let i = 0; i < V; i++) s += Math.exp(logits[o + i] - m);
  return m + Math.log(s);
}

/** Per-position NLL of ids[from+1..to] given logits rows from..to-1 (logits row j predicts ids[j+1]). */
export function tokenNll(logits: Float32Array, V: number, ids: number[], from = 0, to = ids.length - 1): number[] {
  const out: number[] = [];
  for (let j = from; j < to; j++) {
    const target = ids[j + 1];
    if (target < 0 || target >= V) throw new Error(`token id ${target} outside the vocabulary (size ${V})`);
    const nll = logSumExp(logits, j, V) - logits[j * V + target];
    // NaN logits (a diverged forward, a broken intervention) would otherwise turn every mean into NaN
    // silently (and JSON prints NaN as null): say where it happened.
    if (Number.isNaN(nll)) throw new Error(`the logits at position ${j} are not finite (NaN): the forward pass diverged, so the NLL is undefined`);
    out.push(nll);
  }
  return out;
}

export function mean(xs: number[]): number {
  if (xs.length === 0) return NaN;
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Index of the largest value in row r (ties: lowest index). */
export function argmaxRow(logits: Float32Array, r: number, V: number): number {
  const o = r * V;
  let best = 0;
  let bv = logits[o];
  for (let i = 1; i < V; i++) if (logits[o + i] > bv) { bv = logits[o + i]; best = i; }
  return best;
}
