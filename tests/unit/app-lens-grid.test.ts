// Logit-lens grid data shaping (src/app/lens-grid-data.ts) against a hand-built LensDetail: 2 blocks,
// 3 positions, top-2, SentencePiece-style pieces; expected cells written out by hand.
import { describe, expect, it } from 'vitest';
import type { LensDetail } from '../../src/core/analysis/lens-detail.ts';
import { cellTitle, probColour, shapeLensGrid } from '../../src/app/lens-grid-data.ts';

const lens: LensDetail = {
  k: 2,
  topIds: [
    [[5, 7], [7, 5], [9, 5]],
    [[7, 9], [5, 7], [9, 7]],
  ],
  topProbs: [
    [[0.5, 0.2], [0.4, 0.3], [0.9, 0.05]],
    [[0.6, 0.3], [0.7, 0.1], [0.95, 0.02]],
  ],
  pFinal: [
    [0.2, 0.3, 0.9],
    [0.6, 0.7, 0.95],
  ],
  finalTop1: [7, 5, 9],
  finalTop1Prob: [0.8, 0.75, 0.97],
  pieces: { '5': '▁the', '7': '▁cat', '9': '<b>' },
};
const inputs = ['<s>', '▁A', '▁big'];
const kl = [
  [1.5, 0.25, 0.01],
  [0.1, 0.05, 0],
];

describe('logit-lens grid data', () => {
  it('one cell per block and position with the top piece, probability, top-k, pFinal and KL', () => {
    const g = shapeLensGrid(lens, inputs, { kl });
    expect(g.rows).toEqual(['L0', 'L1']);
    expect(g.inputs).toEqual(['<s>', '·A', '·big']);
    expect(g.positions).toEqual([0, 1, 2]);
    expect(g.cells[0][0].top).toEqual({ id: 5, piece: '·the', prob: 0.5 });
    expect(g.cells[0][0].topK).toEqual([
      { id: 5, piece: '·the', prob: 0.5 },
      { id: 7, piece: '·cat', prob: 0.2 },
    ]);
    expect(g.cells[0][0].agrees).toBe(false);
    expect(g.cells[0][0].kl).toBe(1.5);
    expect(g.cells[0][0].pFinal).toBe(0.2);
    expect(g.cells[1][1].top).toEqual({ id: 5, piece: '·the', prob: 0.7 });
    expect(g.cells[1][1].agrees).toBe(true);
    // A piece that looks like HTML stays text.
    expect(g.cells[1][2].top.piece).toBe('<b>');
    expect(g.final.map((f) => [f.id, f.prob])).toEqual([[7, 0.8], [5, 0.75], [9, 0.97]]);
  });

  it('keeps the first maxCols positions, marks missing pieces by id, KL null without scores', () => {
    const g = shapeLensGrid({ ...lens, pieces: { '5': 'x' } }, inputs, { maxCols: 2 });
    expect(g.positions).toEqual([0, 1]);
    expect(g.cells[0].length).toBe(2);
    expect(g.cells[0][1].top.piece).toBe('#7');
    expect(g.cells[0][1].kl).toBeNull();
  });

  it('rejects a detail whose blocks disagree on the number of positions', () => {
    const bad = { ...lens, topIds: [lens.topIds[0], lens.topIds[1].slice(0, 2)] };
    expect(() => shapeLensGrid(bad, inputs)).toThrow(/block 1/);
  });

  it('tooltip lists the top-k, p(final) and KL; colour darkens with probability', () => {
    const g = shapeLensGrid(lens, inputs, { kl });
    expect(cellTitle(g, 0, 1)).toBe(
      ['block 0, position 1 (input "·A")', '1. "·cat" 40.0%', '2. "·the" 30.0%', 'p(final prediction "·the") = 30.0%', 'KL(final || block) = 0.250 nats'].join('\n'),
    );
    expect(probColour(0).background).toBe('hsl(215 70% 96%)');
    expect(probColour(1)).toEqual({ background: 'hsl(215 70% 30%)', color: '#fff' });
  });
});
