// Parameter-ratio budgets (param-budget.ts, solve.ts) on stories260K's shapes:
// - D-Rank-style ranks: the factors never keep more parameters than the budget (counted here from the
//   applied model's factor shapes), equal effective ranks give equal ranks for equal shapes, a higher
//   effective rank never gets a lower rank, and a loose budget leaves everything dense;
// - OWL sparsity: hand-computed layerwise sparsities for given outlier ratios (min-max to [0, 2 lambda],
//   mean-centred around 1 - R), and the applied model's non-zeros never exceed the budget;
// - the mixed problem (keep / formats / drop attn, mlp, block / rank options) under params=R: solveExact
//   equals brute force over every combination and never exceeds the budget; its allocation applies.
import { describe, expect, it } from 'vitest';
import { readModelBytes } from '../helpers/models.ts';
import { expectAllClose } from '../helpers/close.ts';
import { loadModelFromFiles } from '../../src/core/formats/load.ts';
import { mulberry32 } from '../../src/core/tensor.ts';
import { tensorToF32 } from '../../src/core/model/weights.ts';
import { lowRankOf } from '../../src/core/model/forward.ts';
import { CpuBackend } from '../../src/core/model/cpu-backend.ts';
import { applyAllocation } from '../../src/core/allocation/apply-weights.ts';
import { validateAllocation } from '../../src/core/allocation/schema.ts';
import { blockProblem, evaluateChoice, solutionToAllocation, solveExact, type SensitivityTable } from '../../src/core/allocation/solve.ts';
import { blockMatrices, drankAllocation, measureRankSensitivity, owlAllocation, rankKey } from '../../src/core/allocation/param-budget.ts';

const model = loadModelFromFiles([{ name: 's.gguf', bytes: readModelBytes('stories260K-gguf/stories260K.gguf') }], { contextLength: 512 });
const spec = model.spec;
const mats = blockMatrices(spec);
const TOTAL = 5 * 45312; // 5 blocks x (4096 + 2 * 2048 + 4096 + 3 * 11008)

/** Parameters the applied model keeps in the blocks' linear weights: factor sizes, or non-zeros. */
function keptParams(m: typeof model): number {
  let n = 0;
  for (const x of mats) {
    const t = m.tensors.get(x.name)!;
    const f = lowRankOf(t);
    if (f) n += f.a.shape[0] * f.a.shape[1] + f.b.shape[0] * f.b.shape[1];
    else n += tensorToF32(t).reduce((a, v) => a + (v !== 0 ? 1 : 0), 0);
  }
  return n;
}

describe('D-Rank-style ranks under params=R', () => {
  it('shapes: 35 matrices, 226,560 parameters', () => {
    expect(mats.length).toBe(35);
    expect(mats.reduce((a, m) => a + m.rows * m.cols, 0)).toBe(TOTAL);
  });

  for (const R of [0.2, 0.35, 0.5]) {
    it(`R = ${R}: within budget, monotone in effective rank`, () => {
      const rnd = mulberry32(Math.round(R * 100));
      const erank = Object.fromEntries(mats.map((m) => [m.name, 2 + 40 * rnd()]));
      const p = drankAllocation(spec, erank, R);
      expect(validateAllocation(p.allocation, spec).ok).toBe(true);
      const ap = applyAllocation(model, p.allocation);
      const kept = keptParams(ap.model);
      expect(kept).toBe(p.keptParams);
      expect(kept).toBeLessThanOrEqual(R * TOTAL);
      // Same shape: a higher effective rank never gets a lower rank (dense counts as the largest).
      for (const a of mats) for (const b of mats) {
        if (a.rows !== b.rows || a.cols !== b.cols || erank[a.name] <= erank[b.name]) continue;
        expect(p.ranks[a.name] ?? Infinity).toBeGreaterThanOrEqual(p.ranks[b.name] ?? Infinity);
      }
    });
  }

  it('equal effective ranks: equal ranks per shape; a loose budget stays dense; too tight throws', () => {
    const erank = Object.fromEntries(mats.map((m) => [m.name, 10]));
    const p = drankAllocation(spec, erank, 0.3);
    const byShape = new Map<string, Set<number>>();
    for (const m of mats) {
      const k = `${m.rows}x${m.cols}`;
      if (!byShape.has(k)) byShape.set(k, new Set());
      byShape.get(k)!.add(p.ranks[m.name]);
    }
    for (const s of byShape.values()) expect(s.size).toBe(1);
    expect(Object.keys(drankAllocation(spec, erank, 1).ranks)).toEqual([]);
    expect(() => drankAllocation(spec, erank, 0.005)).toThrow(/rank 1 everywhere/);
  });
});

describe('OWL sparsity under params=R', () => {
  it('hand-computed layerwise sparsities; non-zeros within budget', () => {
    // D = [0.01, 0.05, 0.03, 0.03, 0.01], lambda 0.1: normalised [0, 0.2, 0.1, 0.1, 0] (mean 0.08, equal
    // block sizes); keep = n - 0.08 + 0.5 = [0.42, 0.62, 0.52, 0.52, 0.42]; sparsity = 1 - keep, then c
    // lowered a little so that the floors of applySparsity still fit the budget.
    const p = owlAllocation(spec, [0.01, 0.05, 0.03, 0.03, 0.01], 0.5, { lambda: 0.1, method: 'magnitude' });
    expectAllClose(p.sparsity, [0.58, 0.38, 0.48, 0.48, 0.58], { atol: 2e-4, rtol: 0 });
    expect(p.sparsity[1] - p.sparsity[0]).toBeCloseTo(-0.2, 9);
    const ap = applyAllocation(model, p.allocation);
    expect(keptParams(ap.model)).toBeLessThanOrEqual(0.5 * TOTAL);
    expect(keptParams(ap.model)).toBeGreaterThan(0.499 * TOTAL);
  });

  it('equal outlier ratios give uniform sparsity; wanda counts per row', () => {
    const p = owlAllocation(spec, [0.02, 0.02, 0.02, 0.02, 0.02], 0.7);
    for (const s of p.sparsity) expect(s).toBeCloseTo(p.sparsity[0], 12);
    expect(p.sparsity[0]).toBeGreaterThanOrEqual(0.3);
    expect(p.sparsity[0]).toBeLessThan(0.32);
    const ap = applyAllocation(model, p.allocation);
    expect(keptParams(ap.model)).toBeLessThanOrEqual(0.7 * TOTAL);
  });
});

describe('mixed knobs under one params budget', () => {
  const formats = ['Q8_0', 'Q4_0'];
  const ranks = [0.25, 0.5];
  const table = (seed: number): SensitivityTable => {
    const rnd = mulberry32(seed);
    const row = (s: number) => Array.from({ length: 5 }, () => s * rnd());
    return {
      formats: { Q8_0: row(0.01), Q4_0: row(0.1) },
      drop: { block: row(2), attn: row(0.8), mlp: row(1) },
      rank: { [rankKey(0.25)]: row(0.9), [rankKey(0.5)]: row(0.4) },
    };
  };

  for (const [seed, R] of [[1, 0.6], [2, 0.4], [3, 0.25], [4, 0.8]] as const) {
    it(`seed ${seed}, params=${R}: exact = brute force, within budget`, () => {
      const p = blockProblem(spec, table(seed), { formats, ranks, keep: true, drops: ['attn', 'mlp', 'block'], budget: { params: R } });
      expect(p.budget).toBeCloseTo(R * TOTAL, 6);
      let best = Infinity;
      const n = p.options.map((o) => o.length);
      const choice = [0, 0, 0, 0, 0];
      for (;;) {
        const e = evaluateChoice(p, choice);
        if (e.feasible && e.damage < best) best = e.damage;
        let i = 0;
        while (i < 5 && ++choice[i] === n[i]) choice[i++] = 0;
        if (i === 5) break;
      }
      const r = solveExact(p);
      expect(r.feasible).toBe(true);
      expect(r.cost).toBeLessThanOrEqual(p.budget);
      expect(r.damage).toBeCloseTo(best, 12);
      const a = solutionToAllocation(spec, p, r);
      expect(validateAllocation(a, spec).ok).toBe(true);
      const ap = applyAllocation(model, a);
      // Parameters that run: dropped parts keep none.
      const dropped = new Set(ap.plan.tensors.filter((t) => t.dropped).map((t) => t.name));
      let kept = 0;
      for (const m of mats) {
        if (dropped.has(m.name)) continue;
        const f = lowRankOf(ap.model.tensors.get(m.name));
        kept += f ? (m.rows + m.cols) * f.rank : m.rows * m.cols;
      }
      expect(kept).toBe(r.cost);
    });
  }

  it('measured rank damages: finite, and a quarter of the break-even rank hurts more than half', async () => {
    const ids = model.tokenizer.encode('Once upon a time, there was a little girl named Lily.', { addBos: true });
    const base = new CpuBackend(model);
    const t = await measureRankSensitivity(base, model, async (m) => new CpuBackend(m), ids, [0.25, 0.5]);
    const q = t[rankKey(0.25)];
    const h = t[rankKey(0.5)];
    expect(q.length).toBe(5);
    for (const v of [...q, ...h]) expect(Number.isFinite(v) && v > 0).toBe(true);
    expect(q.reduce((a, b) => a + b, 0)).toBeGreaterThan(h.reduce((a, b) => a + b, 0));
  }, 60_000);
});
