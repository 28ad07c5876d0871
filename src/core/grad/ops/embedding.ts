// Embedding gather backward (float64): forward out[t] = table[ids[t]] (+ pos[t]) (src/core/ops/embedding.ts);
// backward scatter-adds: dTable[ids[t]] += dy[t], dPos[t] += dy[t]. dy [T, C].

import type { Arr } from './types.ts';

/** Adds the token-table gradient into dTable [rows, C] (rows hit several times accumulate). */
export function embeddingBackward(dy: Arr, ids: ArrayLike<number>, C: number, dTable: Float64Array, dPos?: Float64Array, pos0 = 0): void {
  for (let t = 0; t < ids.length; t++) {
    const r = ids[t] * C;
    for (let c = 0; c < C; c++) {
      dTable[r + c] += dy[t * C + c];
      if (dPos) dPos[(pos0 + t) * C + c] += dy[t * C + c];
    }
  }
}
