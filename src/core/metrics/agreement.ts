// Rank agreement between metrics: do two importance metrics order the blocks the same way?
//
// Each LayerScores' perBlock is first oriented so that larger = more important (negated when
// higherIsMoreImportant is false). Then, for every pair of metrics, over the blocks where both are
// finite (NaN blocks are dropped pairwise):
//   Spearman rho = Pearson correlation of the ranks, ties given their average rank
//                  (Spearman 1904; the tie-corrected form used by scipy.stats.spearmanr);
//   Kendall tau-b = (n_c - n_d) / sqrt((n_0 - n_1)(n_0 - n_2)), n_0 = n(n-1)/2, n_c / n_d the
//                  concordant / discordant pairs, n_1 / n_2 the pairs tied in the first / second
//                  variable (Kendall 1945, "The treatment of ties in ranking problems"; scipy's default).
// Both are NaN when fewer than 2 blocks remain or a side is constant. O(n^2) Kendall, fine for L <= 1000.

import type { LayerScores } from './types.ts';

/** Ranks 1..n with ties given their average rank. */
export function averageRanks(x: readonly number[]): number[] {
  const idx = x.map((_, i) => i).sort((a, b) => x[a] - x[b]);
  const r = new Array<number>(x.length);
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && x[idx[j + 1]] === x[idx[i]]) j++;
    const avg = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) r[idx[k]] = avg;
    i = j + 1;
  }
  return r;
}

export function pearson(x: readonly number[], y: readonly number[]): number {
  const n = x.length;
  if (n < 2 || y.length !== n) return NaN;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) { mx += x[i]; my += y[i]; }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - mx;
    const dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : NaN;
}

export function spearman(x: readonly number[], y: readonly number[]): number {
  return pearson(averageRanks(x), averageRanks(y));
}

export function kendallTauB(x: readonly number[], y: readonly number[]): number {
  const n = x.length;
  if (n < 2 || y.length !== n) return NaN;
  let nc = 0;
  let nd = 0;
  let tx = 0;
  let ty = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const dx = Math.sign(x[j] - x[i]);
      const dy = Math.sign(y[j] - y[i]);
      if (dx === 0) tx++;
      if (dy === 0) ty++;
      if (dx !== 0 && dy !== 0) {
        if (dx === dy) nc++;
        else nd++;
      }
    }
  }
  const n0 = (n * (n - 1)) / 2;
  const den = Math.sqrt((n0 - tx) * (n0 - ty));
  return den > 0 ? (nc - nd) / den : NaN;
}

/** perBlock oriented so that larger = more important. */
export function oriented(s: LayerScores): number[] {
  return s.higherIsMoreImportant ? [...s.perBlock] : s.perBlock.map((v) => -v);
}

export interface Agreement {
  ids: string[];
  spearman: number[][];
  kendall: number[][];
}

export function rankAgreement(all: readonly LayerScores[]): Agreement {
  const n = all.length;
  const o = all.map(oriented);
  const sp = Array.from({ length: n }, () => new Array<number>(n).fill(NaN));
  const kt = Array.from({ length: n }, () => new Array<number>(n).fill(NaN));
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      if (o[i].length !== o[j].length) throw new Error(`rank agreement: ${all[i].metricId} has ${o[i].length} blocks, ${all[j].metricId} has ${o[j].length}`);
      const keep = o[i].map((_, b) => b).filter((b) => Number.isFinite(o[i][b]) && Number.isFinite(o[j][b]));
      const x = keep.map((b) => o[i][b]);
      const y = keep.map((b) => o[j][b]);
      sp[i][j] = sp[j][i] = spearman(x, y);
      kt[i][j] = kt[j][i] = kendallTauB(x, y);
    }
  }
  return { ids: all.map((s) => s.metricId), spearman: sp, kendall: kt };
}
