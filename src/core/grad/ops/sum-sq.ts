// Sum of squares of a vector in float64: sum_i x[offset + i]^2 over n values (default: all). The
// reduction behind the Fisher-style score (src/core/metrics/fisher.ts: per tensor, the sum over its
// entries of the squared loss gradient); the reference of shaders/grad-sumsq.wgsl.

import type { Arr } from './types.ts';

export function sumSq(x: Arr, offset = 0, n = x.length - offset): number {
  let s = 0;
  for (let i = 0; i < n; i++) {
    const v = x[offset + i];
    s += v * v;
  }
  return s;
}
