// Parameter-ratio budgets ("params=R": keep at most R of the parameters of the blocks' linear weights,
// R in (0, 1]) for rank plans and sparsity plans, and the rank options of the mixed block problem.
// Shapes: L blocks; each block's linear weights W_i [rows_i, cols_i] (allocatableTensors of the block).
//
// Counting parameters: a dense W_i keeps rows_i * cols_i; rank k keeps its two factors,
// (rows_i + cols_i) * k (apply-weights.ts stores exactly these); a sparse W_i keeps its non-zeros
// (rows*cols - floor(p * rows * cols) for magnitude, rows * (cols - floor(p * cols)) for Wanda and 2:4,
// the counts applySparsity zeroes). A rank is only worth storing below the break-even rank
// b_i = floor((rows_i cols_i - 1) / (rows_i + cols_i)) (where the factors hold fewer values than W).
//
// drank (ranks): D-Rank (Mi et al. 2025, "Layer-wise dynamic rank for compressing large language
//   models", arXiv 2509.25622) measures each matrix's information density by its effective rank
//   (Roy & Vetterli 2007; metrics/weights.ts 'erank') and gives matrices with a higher effective rank
//   more rank under one compression ratio through a Lagrange multiplier. Rule implemented here: one
//   multiplier mu for every matrix, k_i(mu) = clamp(floor(mu * erank_i), 1, b_i); a matrix whose
//   floor(mu * erank_i) passes b_i stays dense (no rank entry). The total kept parameters are
//   non-decreasing in mu, so the largest mu that fits is found by bisection (64 steps); infeasible when
//   rank 1 everywhere already exceeds the budget. Simplifications against the paper: erank of W itself
//   (no activation whitening S_g W_g, no grouping of matrices across layers, no attention rebalancing).
//
// owl (sparsity): OWL (Yin et al. 2023, "Outlier Weighed Layerwise Sparsity", arXiv 2310.05175, §3.3)
//   gives block l a sparsity that falls with its outlier ratio D_l (metrics/weights.ts 'owl': share of
//   Wanda scores above M x their block mean). As in the authors' code: D is min-max normalised to
//   [0, 2 lambda], keep_l = n_l - mean(n) + c with c = 1 - S (S the target sparsity, here 1 - R), so the
//   sparsities average S and span 2 lambda (OWL's [S - lambda, S + lambda] when the mean of n is lambda);
//   sparsity_l = 1 - keep_l, a higher outlier ratio keeping more weights. Here c is then lowered by bisection (64 steps) until the kept count,
//   with applySparsity's floors, is at most R of the parameters, and sparsities are clamped to
//   [0, 0.99]. Equal D everywhere gives uniform sparsity S. Every linear weight of block l gets
//   sparsity_l with the chosen method (Wanda by default, as OWL).
//
// Mixed knobs: solve.ts's blockProblem takes { params: R } as its budget and rank options (fractions f
// of each matrix's break-even rank, k_i = max(1, round(f b_i))) next to formats and drops, so one exact
// knapsack chooses drop / format / rank per block under one budget. Their damage is measured like the
// formats' (measureRankSensitivity: mean KL of putting only block l at that rank).

import type { ModelSpec } from '../model/spec.ts';
import type { Backend } from '../model/backend.ts';
import type { LoadedModel } from '../formats/types.ts';
import { compareLogits } from '../metrics/divergence.ts';
import { allocatableTensors, emptyAllocation, sublayerOf, type Allocation, type SparsityMethod, type TensorEntry } from './schema.ts';
import { applyAllocation } from './apply-weights.ts';

export interface BlockMatrix {
  name: string;
  layer: number;
  rows: number;
  cols: number;
}

/** The linear weights of every block (attention and MLP matrices), in block order. */
export function blockMatrices(spec: ModelSpec): BlockMatrix[] {
  const out: BlockMatrix[] = [];
  for (const [name, [rows, cols]] of allocatableTensors(spec)) {
    const m = /^blk\.(\d+)\./.exec(name);
    if (m && sublayerOf(name)) out.push({ name, layer: Number(m[1]), rows, cols });
  }
  return out.sort((a, b) => a.layer - b.layer);
}

/** Largest rank whose two factors hold fewer values than the dense matrix. */
export function breakEvenRank(rows: number, cols: number): number {
  return Math.floor((rows * cols - 1) / (rows + cols));
}

/** Parameters a matrix keeps at rank k (factors), or dense when k is undefined. */
export function rankParams(rows: number, cols: number, k?: number): number {
  return k === undefined ? rows * cols : (rows + cols) * k;
}

/** Non-zeros a matrix keeps at sparsity p with applySparsity's counting. */
export function sparseParams(rows: number, cols: number, p: number, method: SparsityMethod): number {
  if (method === 'magnitude') return rows * cols - Math.floor(p * rows * cols);
  const per = method === '2:4' ? cols / 2 : Math.floor(p * cols);
  return rows * (cols - per);
}

function checkRatio(r: number): void {
  if (!(r > 0 && r <= 1)) throw new Error(`params budget: the kept ratio must be in (0, 1], got ${r}`);
}

export interface RankPlan {
  allocation: Allocation;
  /** Rank per factorized matrix (matrices left dense are absent). */
  ranks: Record<string, number>;
  keptParams: number;
  budgetParams: number;
  totalParams: number;
  mu: number;
}

/** D-Rank-style ranks under a params budget (see the file comment). erank: effective rank per matrix name. */
export function drankAllocation(spec: ModelSpec, erank: Record<string, number>, keepRatio: number): RankPlan {
  checkRatio(keepRatio);
  const mats = blockMatrices(spec);
  for (const m of mats) {
    const e = erank[m.name];
    if (!(typeof e === 'number' && Number.isFinite(e) && e >= 0)) throw new Error(`drank: no effective rank for ${m.name} (got ${String(e)}); measure the 'erank' metric`);
  }
  const total = mats.reduce((a, m) => a + m.rows * m.cols, 0);
  const budget = keepRatio * total;
  const ranksAt = (mu: number): { ranks: Record<string, number>; kept: number } => {
    const ranks: Record<string, number> = {};
    let kept = 0;
    for (const m of mats) {
      const b = breakEvenRank(m.rows, m.cols);
      const k = Math.max(1, Math.floor(mu * erank[m.name]));
      if (k > b || b < 1) kept += m.rows * m.cols;
      else { ranks[m.name] = k; kept += rankParams(m.rows, m.cols, k); }
    }
    return { ranks, kept };
  };
  if (ranksAt(0).kept > budget) throw new Error(`drank: even rank 1 everywhere keeps ${ranksAt(0).kept} of ${total} parameters, more than the budget ${keepRatio} (${Math.floor(budget)})`);
  let lo = 0;
  // At hi every matrix with a positive effective rank is past its break-even rank (dense).
  const pos = mats.map((m) => erank[m.name]).filter((e) => e > 0);
  let hi = pos.length ? (Math.max(...mats.map((m) => Math.min(m.rows, m.cols))) + 1) / Math.min(...pos) : 1;
  if (ranksAt(hi).kept <= budget) lo = hi;
  else for (let i = 0; i < 64; i++) { const mid = (lo + hi) / 2; if (ranksAt(mid).kept <= budget) lo = mid; else hi = mid; }
  const { ranks, kept } = ranksAt(lo);
  const a = emptyAllocation(spec, { name: 'drank', budget: `params=${keepRatio}`, keptParams: kept, budgetParams: Math.floor(budget), totalParams: total, mu: lo });
  const tensors: Record<string, TensorEntry> = {};
  for (const [n, k] of Object.entries(ranks)) tensors[n] = { rank: k };
  a.tensors = tensors;
  return { allocation: a, ranks, keptParams: kept, budgetParams: budget, totalParams: total, mu: lo };
}

export interface SparsityPlan {
  allocation: Allocation;
  /** Sparsity of block l's linear weights. */
  sparsity: number[];
  keptParams: number;
  budgetParams: number;
  totalParams: number;
}

/**
 * OWL layerwise sparsities (see the file comment) for outlier ratios D[l] under a params budget.
 * Returns per-block sparsities and the kept count with applySparsity's floors.
 */
export function owlSparsities(spec: ModelSpec, outlierRatio: number[], keepRatio: number, opts: { lambda?: number; method?: SparsityMethod } = {}): { sparsity: number[]; kept: number; budget: number; total: number } {
  checkRatio(keepRatio);
  const L = spec.nLayers;
  if (outlierRatio.length !== L || outlierRatio.some((d) => !Number.isFinite(d))) throw new Error(`owl: needs ${L} finite outlier ratios (the 'owl' metric, which needs activation norms), got [${outlierRatio.join(', ')}]`);
  const lambda = opts.lambda ?? 0.08;
  if (!(lambda >= 0 && lambda <= 0.5)) throw new Error(`owl: lambda must be in [0, 0.5], got ${lambda}`);
  const method = opts.method ?? 'wanda';
  if (method === '2:4') throw new Error('owl: 2:4 sparsity has a fixed ratio; use magnitude or wanda');
  const mats = blockMatrices(spec);
  const n = Array.from({ length: L }, (_, l) => mats.filter((m) => m.layer === l).reduce((a, m) => a + m.rows * m.cols, 0));
  const total = n.reduce((a, b) => a + b, 0);
  const budget = keepRatio * total;
  const mn = Math.min(...outlierRatio);
  const mx = Math.max(...outlierRatio);
  const norm = outlierRatio.map((d) => (mx > mn ? ((d - mn) / (mx - mn)) * 2 * lambda : 0));
  const meanNorm = norm.reduce((a, b, l) => a + b * n[l], 0) / total;
  const at = (c: number) => {
    const sparsity = norm.map((v) => Math.min(0.99, Math.max(0, 1 - (v - meanNorm + c))));
    let kept = 0;
    for (const m of mats) kept += sparseParams(m.rows, m.cols, sparsity[m.layer], method);
    return { sparsity, kept };
  };
  let c = keepRatio;
  let r = at(c);
  if (r.kept > budget) {
    let lo = -1; // keep - 1 <= 0: every block at the 0.99 cap
    if (at(lo).kept > budget) throw new Error(`owl: even sparsity 0.99 everywhere keeps ${at(lo).kept} of ${total} parameters, more than the budget ${keepRatio}`);
    let hi = c;
    for (let i = 0; i < 64; i++) { const mid = (lo + hi) / 2; if (at(mid).kept <= budget) lo = mid; else hi = mid; }
    c = lo;
    r = at(c);
  }
  return { sparsity: r.sparsity, kept: r.kept, budget, total };
}

/** The OWL sparsity allocation: every linear weight of block l at sparsity_l (method wanda or magnitude). */
export function owlAllocation(spec: ModelSpec, outlierRatio: number[], keepRatio: number, opts: { lambda?: number; method?: SparsityMethod } = {}): SparsityPlan {
  const method = opts.method ?? 'wanda';
  const s = owlSparsities(spec, outlierRatio, keepRatio, opts);
  const a = emptyAllocation(spec, { name: 'owl', budget: `params=${keepRatio}`, lambda: opts.lambda ?? 0.08, method, outlierRatio: outlierRatio.slice(), keptParams: s.kept, totalParams: s.total });
  const tensors: Record<string, TensorEntry> = {};
  for (const m of blockMatrices(spec)) if (s.sparsity[m.layer] > 0) tensors[m.name] = { sparsity: { method, ratio: s.sparsity[m.layer] } };
  a.tensors = tensors;
  return { allocation: a, sparsity: s.sparsity, keptParams: s.kept, budgetParams: s.budget, totalParams: s.total };
}

/** Ranks of block l's matrices for a rank option f in (0, 1]: max(1, round(f * break-even rank)). */
export function rankOptionRanks(spec: ModelSpec, layer: number, fraction: number): Record<string, number> {
  if (!(fraction > 0 && fraction <= 1)) throw new Error(`rank option: fraction must be in (0, 1], got ${fraction}`);
  const out: Record<string, number> = {};
  for (const m of blockMatrices(spec)) if (m.layer === layer) out[m.name] = Math.max(1, Math.round(fraction * breakEvenRank(m.rows, m.cols)));
  return out;
}

/** Key of a rank option in SensitivityTable.rank and in option labels: "rank0.5". */
export function rankKey(fraction: number): string {
  return `rank${fraction}`;
}

/**
 * Measured damage of each rank option: mean KL(base || modified) over the rows of `ids` when only block l's
 * matrices are at rankOptionRanks(l, f) (the same additive model the format sensitivities use).
 * Returns table.rank entries keyed by rankKey(f), one value per block.
 */
export async function measureRankSensitivity(
  base: Backend,
  model: LoadedModel,
  makeBackend: (m: LoadedModel) => Promise<Backend>,
  ids: number[],
  fractions: number[],
  progress?: (done: number, total: number) => void,
): Promise<Record<string, number[]>> {
  const spec = model.spec;
  const V = spec.vocabSize;
  const ref = (await base.forward(ids)).logits;
  const out: Record<string, number[]> = {};
  let done = 0;
  for (const f of fractions) {
    const row: number[] = [];
    for (let l = 0; l < spec.nLayers; l++) {
      const a = emptyAllocation(spec);
      a.tensors = Object.fromEntries(Object.entries(rankOptionRanks(spec, l, f)).map(([n, k]) => [n, { rank: k }]));
      const ap = applyAllocation(model, a);
      const b = await makeBackend(ap.model);
      try {
        const lg = (await b.forward(ids)).logits;
        row.push(compareLogits(ref, lg, ids.length, V).kl);
      } finally {
        b.dispose();
      }
      progress?.(++done, fractions.length * spec.nLayers);
    }
    out[rankKey(f)] = row;
  }
  return out;
}
