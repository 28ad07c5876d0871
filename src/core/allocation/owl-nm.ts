// OWL order with 2:4 sparsity under a parameter-ratio budget ("params=R"). 2:4 (two of every four
// consecutive weights of a row zeroed, NVIDIA's semi-structured pattern; Mishra et al. 2021, arXiv
// 2104.08378) has a fixed ratio of 1/2, so OWL's per-block sparsities (Yin et al. 2023, arXiv 2310.05175)
// cannot be used as ratios. The OWL idea kept here: blocks with more outliers (higher outlier ratio D_l,
// metrics/weights.ts 'owl') are sparsified last. Rule: sort the blocks by D ascending (ties by block
// index), put every linear weight of the first n blocks at 2:4 (weights whose row length is not a multiple
// of 4 stay dense), n the smallest count whose kept parameters (param-budget.ts sparseParams) are at most
// R of the total; infeasible when all blocks at 2:4 still keep more (R below about 1/2).
// Shapes: L blocks; outlierRatio [L]; the blocks' linear weights W [rows, cols].

import type { ModelSpec } from '../model/spec.ts';
import { emptyAllocation, type TensorEntry } from './schema.ts';
import { blockMatrices, sparseParams, type SparsityPlan } from './param-budget.ts';

export function owlNmAllocation(spec: ModelSpec, outlierRatio: number[], keepRatio: number): SparsityPlan {
  if (!(keepRatio > 0 && keepRatio <= 1)) throw new Error(`params budget: the kept ratio must be in (0, 1], got ${keepRatio}`);
  const L = spec.nLayers;
  if (outlierRatio.length !== L || outlierRatio.some((d) => !Number.isFinite(d))) throw new Error(`owl 2:4: needs ${L} finite outlier ratios (the 'owl' metric), got [${outlierRatio.join(', ')}]`);
  const mats = blockMatrices(spec);
  const total = mats.reduce((a, m) => a + m.rows * m.cols, 0);
  const budget = keepRatio * total;
  const fits = (cols: number) => cols % 4 === 0;
  const order = Array.from({ length: L }, (_, l) => l).sort((a, b) => outlierRatio[a] - outlierRatio[b] || a - b);
  const keptWith = (sparse: Set<number>) => mats.reduce((a, m) => a + (sparse.has(m.layer) && fits(m.cols) ? sparseParams(m.rows, m.cols, 0.5, '2:4') : m.rows * m.cols), 0);
  const sparse = new Set<number>();
  let kept = keptWith(sparse);
  for (const l of order) {
    if (kept <= budget) break;
    sparse.add(l);
    kept = keptWith(sparse);
  }
  if (kept > budget) throw new Error(`owl 2:4: every block at 2:4 keeps ${kept} of ${total} parameters, more than the budget ${keepRatio} (2:4 keeps half: use R >= 0.5, or magnitude / wanda)`);
  const a = emptyAllocation(spec, { name: 'owl', budget: `params=${keepRatio}`, method: '2:4', outlierRatio: outlierRatio.slice(), keptParams: kept, totalParams: total });
  const tensors: Record<string, TensorEntry> = {};
  for (const m of mats) if (sparse.has(m.layer) && fits(m.cols)) tensors[m.name] = { sparsity: { method: '2:4', ratio: 0.5 } };
  if (Object.keys(tensors).length) a.tensors = tensors;
  const sparsity = Array.from({ length: L }, (_, l) => (sparse.has(l) ? 0.5 : 0));
  return { allocation: a, sparsity, keptParams: kept, budgetParams: budget, totalParams: total };
}
