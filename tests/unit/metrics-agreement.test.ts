// Rank agreement on textbook examples: Spearman without ties (Wikipedia's IQ / TV hours table,
// rho = 1 - 6*194/(10*99) = -29/165), Spearman with ties (average ranks, hand-computed), Kendall tau-b
// with ties (scipy.stats.kendalltau's documented example, -4/sqrt(72)), plus orientation correction.
import { describe, expect, it } from 'vitest';
import { expectAllClose } from '../helpers/close.ts';
import { averageRanks, kendallTauB, rankAgreement, spearman } from '../../src/core/metrics/agreement.ts';
import { rankBlocks, type LayerScores } from '../../src/core/metrics/types.ts';

const tol = { atol: 1e-12, rtol: 1e-12 };

const ls = (id: string, perBlock: number[], higherIsMoreImportant: boolean): LayerScores => ({
  metricId: id, label: id, unit: '', higherIsMoreImportant, perBlock, ranking: rankBlocks(perBlock, higherIsMoreImportant),
});

describe('spearman', () => {
  it('textbook example without ties', () => {
    const iq = [106, 100, 86, 101, 99, 103, 97, 113, 112, 110];
    const tv = [7, 27, 2, 50, 28, 29, 20, 12, 6, 17];
    expectAllClose([spearman(iq, tv)], [-29 / 165], tol, 'rho');
  });
  it('ties get average ranks', () => {
    expect(averageRanks([10, 20, 20, 40])).toEqual([1, 2.5, 2.5, 4]);
    expect(averageRanks([3, 1, 3, 3])).toEqual([3, 1, 3, 3]);
    // ranks x (1, 2.5, 2.5, 4), y (1, 3, 2, 4): 4.5 / sqrt(4.5 * 5).
    expectAllClose([spearman([1, 2, 2, 4], [1, 3, 2, 4])], [4.5 / Math.sqrt(22.5)], tol, 'rho with ties');
  });
  it('constant input: NaN', () => {
    expect(Number.isNaN(spearman([1, 1, 1], [1, 2, 3]))).toBe(true);
  });
});

describe('kendall tau-b', () => {
  it('scipy example with ties in both variables', () => {
    // nc = 2, nd = 6, ties in x: 2 pairs, in y: 1 pair -> (2 - 6) / sqrt((10 - 2)(10 - 1)).
    expectAllClose([kendallTauB([12, 2, 1, 12, 2], [1, 4, 7, 1, 0])], [-4 / Math.sqrt(72)], tol, 'tau-b');
  });
  it('perfect agreement and reversal', () => {
    expect(kendallTauB([1, 2, 3, 4], [10, 20, 30, 40])).toBe(1);
    expect(kendallTauB([1, 2, 3, 4], [4, 3, 2, 1])).toBe(-1);
  });
});

describe('rankAgreement', () => {
  it('orients scores by higherIsMoreImportant and drops NaN blocks pairwise', () => {
    const a = ls('a', [0.1, 0.5, 0.3, 0.9], true);
    const b = ls('b', [-0.1, -0.5, -0.3, -0.9], false); // same order once oriented
    const c = ls('c', [0.9, 0.3, NaN, 0.1], true); // reversed on the finite blocks 0, 1, 3
    const r = rankAgreement([a, b, c]);
    expect(r.ids).toEqual(['a', 'b', 'c']);
    expectAllClose(r.spearman.flat(), [1, 1, -1, 1, 1, -1, -1, -1, 1], tol, 'spearman');
    expectAllClose(r.kendall.flat(), [1, 1, -1, 1, 1, -1, -1, -1, 1], tol, 'kendall');
  });
  it('rankBlocks: most important first, NaN last, ties by index', () => {
    expect(rankBlocks([0.2, NaN, 0.9, 0.2], true)).toEqual([2, 0, 3, 1]);
    expect(rankBlocks([0.2, NaN, 0.9, 0.2], false)).toEqual([0, 3, 2, 1]);
  });
});
