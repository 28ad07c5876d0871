// Strategies (uniform, ranked, reverse, seeded random) on hand-made scores, and the budget solvers:
// the exact DP against brute force over every combination on small random instances (an independent
// check), the Lagrangian bound, budgets never exceeded, hand-computed costs of stories260K block options.
import { describe, expect, it } from 'vitest';
import { readModelBytes } from '../helpers/models.ts';
import { loadModelFromFiles } from '../../src/core/formats/load.ts';
import { mulberry32 } from '../../src/core/tensor.ts';
import type { LayerScores } from '../../src/core/metrics/types.ts';
import { random, randomOrder, ranked, reverse, uniform } from '../../src/core/allocation/strategies.ts';
import {
  blockBits, blockProblem, evaluateChoice, solutionToAllocation, solveExact, solveLagrangian, sensitivityFromAnalysis, type SolveProblem,
} from '../../src/core/allocation/solve.ts';
import { parseWeightFormat, validateAllocation } from '../../src/core/allocation/schema.ts';

const spec = loadModelFromFiles([{ name: 's.gguf', bytes: readModelBytes('stories260K-gguf/stories260K.gguf') }], { contextLength: 512 }).spec;

// perBlock [0.1, 0.5, 0.3, 0.9, 0.2], higher = more important: ranking 3, 1, 2, 4, 0.
const scores: LayerScores = {
  metricId: 'cos', label: 'hand', unit: '', higherIsMoreImportant: true,
  perBlock: [0.1, 0.5, 0.3, 0.9, 0.2], ranking: [3, 1, 2, 4, 0],
};
const formatsOf = (a: ReturnType<typeof uniform>): (string | undefined)[] => [0, 1, 2, 3, 4].map((l) => a.layers?.[String(l)]?.format);
const dropsOf = (a: ReturnType<typeof uniform>): (string | undefined)[] => [0, 1, 2, 3, 4].map((l) => a.layers?.[String(l)]?.drop);

describe('strategies', () => {
  it('uniform puts every block at the format and validates', () => {
    const a = uniform(spec, 'Q4_0');
    expect(formatsOf(a)).toEqual(['Q4_0', 'Q4_0', 'Q4_0', 'Q4_0', 'Q4_0']);
    expect(validateAllocation(a, spec).ok).toBe(true);
    expect(() => uniform(spec, 'Q4_3')).toThrow(/unknown weight format/);
  });

  it('ranked lowers / drops the least important blocks, reverse the most important', () => {
    const r = ranked(spec, scores, { formats: { high: 'Q8_0', low: 'Q4_0', nLow: 2 } });
    expect(formatsOf(r)).toEqual(['Q4_0', 'Q8_0', 'Q8_0', 'Q8_0', 'Q4_0']);
    expect(r.strategy).toMatchObject({ name: 'ranked', metric: 'cos', order: [3, 1, 2, 4, 0] });
    const v = reverse(spec, scores, { formats: { high: 'Q8_0', low: 'Q4_0', nLow: 2 } });
    expect(formatsOf(v)).toEqual(['Q8_0', 'Q4_0', 'Q8_0', 'Q4_0', 'Q8_0']);
    const d = ranked(spec, scores, { drop: { what: 'attn', n: 1 } });
    expect(dropsOf(d)).toEqual(['attn', undefined, undefined, undefined, undefined]);
    const both = reverse(spec, scores, { formats: { high: 'Q8_0', low: 'Q4_0', nLow: 0 }, drop: { what: 'block', n: 2 } });
    expect(dropsOf(both)).toEqual([undefined, 'block', undefined, 'block', undefined]);
    expect(formatsOf(both)).toEqual(['Q8_0', 'Q8_0', 'Q8_0', 'Q8_0', 'Q8_0']);
    expect(validateAllocation(both, spec).ok).toBe(true);
    expect(() => ranked(spec, scores, { formats: { high: 'Q8_0', low: 'Q4_0', nLow: 6 } })).toThrow(/nLow must be an integer in 0\.\.5/);
    expect(() => ranked(spec, { ...scores, perBlock: [1, 2] }, { drop: { what: 'mlp', n: 1 } })).toThrow(/2 block scores/);
  });

  it('random is a seeded Fisher-Yates permutation, the same for the same seed', () => {
    // Hand-run Fisher-Yates with mulberry32(7): i = 4..1, j = floor(u * (i + 1)).
    const rnd = mulberry32(7);
    const want = [0, 1, 2, 3, 4];
    for (let i = 4; i > 0; i--) { const j = Math.floor(rnd() * (i + 1)); [want[i], want[j]] = [want[j], want[i]]; }
    expect(randomOrder(5, 7)).toEqual(want);
    expect(randomOrder(5, 7)).toEqual(randomOrder(5, 7));
    const orders = new Set([1, 2, 3, 4, 5, 6].map((s) => randomOrder(5, s).join(',')));
    expect(orders.size).toBeGreaterThan(1);
    for (const s of [1, 2, 3]) expect(randomOrder(5, s).slice().sort()).toEqual([0, 1, 2, 3, 4]);
    const a = random(spec, 7, { formats: { high: 'Q8_0', low: 'Q2_K', nLow: 2 } });
    expect(a.strategy).toMatchObject({ name: 'random', seed: 7 });
    expect([want[3], want[4]].map((l) => a.layers![String(l)].format)).toEqual(['Q2_K', 'Q2_K']);
    expect(JSON.stringify(random(spec, 7, { drop: { what: 'block', n: 1 } }))).toBe(JSON.stringify(random(spec, 7, { drop: { what: 'block', n: 1 } })));
    expect(() => random(spec, 1.5, { drop: { what: 'block', n: 1 } })).toThrow(/seed/);
  });
});

/** Every combination, the independent reference. */
function bruteForce(p: SolveProblem): { damage: number; cost: number } | null {
  let best: { damage: number; cost: number } | null = null;
  const L = p.options.length;
  const idx = new Array<number>(L).fill(0);
  for (;;) {
    let cost = 0, damage = 0;
    const drops: Record<string, number> = { block: 0, attn: 0, mlp: 0 };
    for (let l = 0; l < L; l++) { const o = p.options[l][idx[l]]; cost += o.cost; damage += o.damage; if (o.drop) drops[o.drop]++; }
    const ok = cost <= p.budget && ['block', 'attn', 'mlp'].every((k) => drops[k] <= (p.maxDrops?.[k as 'block'] ?? Infinity));
    if (ok && (!best || damage < best.damage - 1e-12 || (Math.abs(damage - best.damage) <= 1e-12 && cost < best.cost))) best = { damage, cost };
    let l = 0;
    while (l < L && ++idx[l] === p.options[l].length) idx[l++] = 0;
    if (l === L) return best;
  }
}

function randomProblem(seed: number, withDrops: boolean): SolveProblem {
  const rnd = mulberry32(seed);
  const L = 3 + Math.floor(rnd() * 4);
  const kinds = ['attn', 'mlp', 'block'] as const;
  const options = Array.from({ length: L }, () => {
    const n = 2 + Math.floor(rnd() * 3);
    return Array.from({ length: n }, (_, j) => {
      const o: SolveProblem['options'][number][number] = { label: `o${j}`, cost: Math.floor(rnd() * 20), damage: Math.round(rnd() * 1000) / 100 };
      if (withDrops && rnd() < 0.4) o.drop = kinds[Math.floor(rnd() * 3)];
      return o;
    });
  });
  const maxCost = options.reduce((a, o) => a + Math.max(...o.map((x) => x.cost)), 0);
  const p: SolveProblem = { options, budget: Math.floor(rnd() * maxCost) };
  if (withDrops) p.maxDrops = { attn: Math.floor(rnd() * 2), block: Math.floor(rnd() * 2) };
  return p;
}

describe('budget solvers', () => {
  it('a hand case', () => {
    // b0: (8, 0) (4, 1) (2, 5); b1: (8, 0) (4, 2) (2, 4); budget 10: (4,1)+(4,2) = damage 3 at cost 8 beats
    // (8,0)+(2,4) = 4 and (2,5)+(8,0) = 5.
    const p: SolveProblem = {
      options: [
        [{ label: 'a', cost: 8, damage: 0 }, { label: 'b', cost: 4, damage: 1 }, { label: 'c', cost: 2, damage: 5 }],
        [{ label: 'a', cost: 8, damage: 0 }, { label: 'b', cost: 4, damage: 2 }, { label: 'c', cost: 2, damage: 4 }],
      ],
      budget: 10,
    };
    expect(solveExact(p)).toMatchObject({ feasible: true, choice: [1, 1], damage: 3, cost: 8 });
    expect(solveExact({ ...p, budget: 3 }).feasible).toBe(false);
    expect(solveExact({ ...p, budget: 16 })).toMatchObject({ choice: [0, 0], damage: 0 });
  });

  it('the exact DP finds the brute-force optimum and never exceeds the budget (200 random instances)', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const p = randomProblem(seed, seed % 2 === 0);
      const want = bruteForce(p);
      const got = solveExact(p);
      if (!want) { expect(got.feasible, `seed ${seed}`).toBe(false); continue; }
      expect(got.feasible, `seed ${seed}`).toBe(true);
      expect(got.damage, `seed ${seed}`).toBeCloseTo(want.damage, 9);
      const ev = evaluateChoice(p, got.choice);
      expect(ev.feasible, `seed ${seed}`).toBe(true);
      expect(ev.cost, `seed ${seed}`).toBeLessThanOrEqual(p.budget);
      expect(ev.damage, `seed ${seed}`).toBeCloseTo(got.damage, 9);
      // Lagrangian: feasible, no better than the optimum, and its dual bound below it.
      const lg = solveLagrangian(p);
      if (p.maxDrops) { expect(lg).toBeNull(); continue; }
      expect(lg!.feasible, `seed ${seed}`).toBe(true);
      expect(lg!.cost).toBeLessThanOrEqual(p.budget);
      expect(lg!.damage).toBeGreaterThanOrEqual(got.damage - 1e-9);
      expect(lg!.lowerBound).toBeLessThanOrEqual(got.damage + 1e-9);
    }
  });

  it('is deterministic', () => {
    const p = randomProblem(42, true);
    expect(JSON.stringify(solveExact(p))).toBe(JSON.stringify(solveExact(p)));
  });

  it('costs stories260K block options by hand, with mixed knobs in one problem', () => {
    // Block linear values: attention 12288, gate+up 22016 (rows of 64), ffn_down 11008 (rows of 172 -> F16).
    const q4 = blockBits(spec, 0, parseWeightFormat('Q4_0')!);
    expect(q4).toEqual({ attn: 12288 * 4.5, mlp: 22016 * 4.5 + 11008 * 16, params: { attn: 12288, mlp: 33024 } });
    const q8 = blockBits(spec, 2, parseWeightFormat('Q8_0')!);
    expect(q8.attn + q8.mlp).toBe(58464 * 8);
    const table = { formats: { Q8_0: [0.01, 0.01, 0.01, 0.01, 0.01], Q4_0: [0.5, 0.1, 0.1, 0.1, 0.4] }, drop: { attn: [1, 0.05, 0.06, 0.5, 2], block: [9, 3, 3, 3, 9] } };
    const p = blockProblem(spec, table, { formats: ['Q8_0', 'Q4_0'], drops: ['attn', 'block'], budget: { bitsPerWeight: 6 } });
    expect(p.budget).toBe(6 * 5 * 45312);
    const o1 = p.options[1];
    expect(o1.map((o) => o.label)).toEqual(['Q8_0', 'drop attn + Q8_0', 'Q4_0', 'drop attn + Q4_0', 'drop block']);
    expect(o1[3].cost).toBe(22016 * 4.5 + 11008 * 16);
    expect(o1[3].damage).toBeCloseTo(0.05 + (0.1 * 33024) / 45312, 12);
    expect(o1[4]).toMatchObject({ cost: 0, damage: 3, drop: 'block' });
    const r = solveExact(p);
    expect(r.feasible).toBe(true);
    expect(r.cost).toBeLessThanOrEqual(p.budget);
    expect(r.damage).toBeCloseTo(bruteForce(p)!.damage, 12);
    // Q8_0 is 58464 * 8 / 45312 = 10.32 bits per weight and Q4_0 330496 / 45312 = 7.29 for these blocks, so
    // an average of 6 needs drops: with none allowed there is no plan.
    expect(solveExact({ ...p, maxDrops: { attn: 0, block: 0 } }).feasible).toBe(false);
    expect(bruteForce({ ...p, maxDrops: { attn: 0, block: 0 } })).toBeNull();
    const capped = solveExact({ ...p, maxDrops: { attn: 2, block: 1 } });
    expect(capped.drops.attn).toBeLessThanOrEqual(2);
    expect(capped.drops.block).toBeLessThanOrEqual(1);
    expect(capped.damage).toBeCloseTo(bruteForce({ ...p, maxDrops: { attn: 2, block: 1 } })!.damage, 12);
    const a = solutionToAllocation(spec, p, r);
    expect(validateAllocation(a, spec).ok).toBe(true);
    expect(Object.keys(a.layers!)).toEqual(['0', '1', '2', '3', '4']);
    // Bytes budget: costs in bytes.
    const pb = blockProblem(spec, table, { formats: ['Q8_0'], budget: { bytes: 5 * 58464 } });
    expect(pb.options[0][0].cost).toBe(58464);
    expect(solveExact(pb).feasible).toBe(true);
    expect(solveExact({ ...pb, budget: 5 * 58464 - 1 }).feasible).toBe(false);
  });

  it('reads the damage tables of an analysis', () => {
    const t = sensitivityFromAnalysis({
      scores: [
        { ...scores, metricId: 'quant', extra: { formats: [{ scheme: 'gguf', format: 'Q4_0', blocks: [{ kl: 0.2 }, { kl: 0.1 }] }], plain: [] } as unknown as Record<string, unknown> },
        { ...scores, metricId: 'ablation', perBlock: [3, 4], perSublayer: { attn: [1, 2], mlp: [5, 6] } },
      ],
    });
    expect(t).toEqual({ formats: { Q4_0: [0.2, 0.1] }, drop: { block: [3, 4], attn: [1, 2], mlp: [5, 6] } });
  });
});
