// Pure helpers behind the charts: finite extents, per-row min-max normalisation, ranks within a row
// (1 = most important, by the row's orientation; NaN unranked), and a compact number format.

import { format as d3format } from 'd3';

/** [min, max] of the finite values, or null when there are none. */
export function finiteExtent(values: Iterable<number>): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi ? [lo, hi] : null;
}

/**
 * Values mapped to [0, 1] for colouring: per row ('row') or over the whole matrix ('none' keeps the
 * raw scale, mapped by the global extent). A constant row maps to 0.5; NaN stays NaN.
 */
export function normalise(values: number[][], mode: 'row' | 'none'): number[][] {
  const global = finiteExtent(values.flat());
  return values.map((row) => {
    const ext = mode === 'row' ? finiteExtent(row) : global;
    return row.map((v) => {
      if (!Number.isFinite(v) || !ext) return NaN;
      const [lo, hi] = ext;
      return hi > lo ? (v - lo) / (hi - lo) : 0.5;
    });
  });
}

/**
 * Rank of each value within its row: 1 for the most important (largest when higherIsMore, else the
 * smallest); ties share the better rank; NaN values get NaN.
 */
export function rowRanks(row: number[], higherIsMore = true): number[] {
  return row.map((v) => {
    if (!Number.isFinite(v)) return NaN;
    let better = 0;
    for (const w of row) if (Number.isFinite(w) && (higherIsMore ? w > v : w < v)) better++;
    return better + 1;
  });
}

const fmtSig = d3format('.4~g');
const fmtExp = d3format('.3~e');

/** A short, exact-enough display of a number (4 significant digits; exponent for tiny/huge). */
export function shortNumber(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '-∞';
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return fmtExp(v);
  return fmtSig(v);
}

/** Which of n labels to print so that at most `max` are shown (every k-th). */
export function labelStride(n: number, max: number): number {
  return max <= 0 ? n : Math.max(1, Math.ceil(n / max));
}
