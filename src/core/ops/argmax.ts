// Row-wise argmax reference, x [R, N] -> ids [R] (u32): the index of the largest value of each row.
// Ties go to the lowest index (the greedy rule of core/eval/sampling.ts). NaN never wins a comparison;
// a row that contains any NaN gives ARGMAX_NAN instead of an index (the caller refuses it, as the
// Sampler refuses NaN logits). A row of all -Infinity gives 0. Plain loops, no shader involved.

/** Marker returned for a row that contains NaN. */
export const ARGMAX_NAN = 0xffffffff;

export function argmaxRows(x: Float32Array, R: number, N: number): Uint32Array {
  if (x.length < R * N) throw new Error(`argmaxRows: ${x.length} values for ${R}x${N}`);
  const out = new Uint32Array(R);
  for (let r = 0; r < R; r++) {
    let best = -1;
    let nan = false;
    for (let i = 0; i < N; i++) {
      const v = x[r * N + i];
      if (Number.isNaN(v)) nan = true;
      else if (best < 0 || v > x[r * N + best]) best = i;
    }
    out[r] = nan || best < 0 ? ARGMAX_NAN : best;
  }
  return out;
}
