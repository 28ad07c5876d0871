// Budget solvers: choose one option per block (keep at format f, drop attention + f on the MLP, drop the
// block, ...) to minimize the predicted damage sum_l d_l(option) under a cost budget
// sum_l c_l(option) <= B (average bits -> B = bpw x params in bits; total bytes -> B in bytes) and
// optional caps on the number of dropped blocks / attention / MLP sublayers. The damage of a plan is
// predicted as the sum of per-block measured damages (e.g. mean KL of quantizing only that block,
// metrics/quant-sensitivity.ts; KL of skipping it, metrics/ablation.ts): the additive model that
// exllamav2's and llama.cpp's target-bpw searches and HAWQ's ILP use.
//
// exact:      multiple-choice knapsack by dynamic programming over Pareto frontiers: after block l the
//             states are the non-dominated (cost, damage) pairs per drop-count tuple; costs need not be
//             integers, so the result is exact for any cost unit. Ties: lower damage, then lower cost,
//             then the earliest options (block order, option order). Deterministic.
// Budgets: average bits per weight, total bytes, or a parameter ratio (params=R: the blocks' linear weights
// keep at most R of their parameters; a dropped part keeps 0, a rank option its factors; param-budget.ts).
// Rank options (fractions of each matrix's break-even rank, param-budget.ts) sit next to formats and drops,
// so drop + format + rank is one problem with one budget.
//
// lagrangian: for lambda >= 0 every block independently takes argmin d + lambda c; the smallest lambda
//             whose choice fits is found by bisection. Gives a feasible plan and the dual bound
//             g(lambda) = sum_l min_j (d_lj + lambda c_lj) - lambda B <= optimum (weak duality), a check on
//             the exact solver. Drop caps are not part of the relaxation (it reports null then).

import type { ModelSpec } from '../model/spec.ts';
import type { LayerScores } from '../metrics/types.ts';
import type { QuantExtra } from '../metrics/quant-sensitivity.ts';
import type { AnalysisResult } from '../analysis/types.ts';
import { allocatableTensors, emptyAllocation, formatBitsPerWeight, parseWeightFormat, resolveGgufFormat, sublayerOf, type Allocation, type DropKind, type WeightFormat } from './schema.ts';
import { GGMLType, TYPE_INFO } from '../quant/types.ts';
import { blockMatrices, rankKey, rankOptionRanks, rankParams } from './param-budget.ts';

export interface SolveOption {
  label: string;
  cost: number;
  damage: number;
  /** Structural drop this option makes (counted against maxDrops). */
  drop?: DropKind;
  /** Weight format of the kept weights. */
  format?: string;
  /** Rank option: fraction of each matrix's break-even rank (param-budget.ts rankOptionRanks). */
  rank?: number;
}

export interface SolveProblem {
  /** options[l] = the choices of block l (at least one). */
  options: SolveOption[][];
  budget: number;
  maxDrops?: Partial<Record<DropKind, number>>;
}

export interface SolveResult {
  feasible: boolean;
  /** Index into options[l] per block (empty when infeasible). */
  choice: number[];
  damage: number;
  cost: number;
  drops: Record<DropKind, number>;
}

export interface LagrangianResult extends SolveResult {
  lambda: number;
  /** Weak-duality lower bound on the optimum damage. */
  lowerBound: number;
}

const KINDS: DropKind[] = ['block', 'attn', 'mlp'];

function checkProblem(p: SolveProblem): void {
  if (p.options.length === 0) throw new Error('solve: no blocks');
  p.options.forEach((o, l) => {
    if (o.length === 0) throw new Error(`solve: block ${l} has no options`);
    o.forEach((x, j) => {
      if (!Number.isFinite(x.cost) || x.cost < 0) throw new Error(`solve: block ${l} option ${j} (${x.label}) has cost ${x.cost}; costs are finite and >= 0`);
      if (!Number.isFinite(x.damage)) throw new Error(`solve: block ${l} option ${j} (${x.label}) has damage ${x.damage}; measure it or leave the option out`);
    });
  });
  if (!(p.budget >= 0)) throw new Error(`solve: budget ${p.budget}`);
}

interface State { cost: number; damage: number; drops: number[]; prev: State | null; opt: number }

/** Exact multiple-choice knapsack (Pareto-frontier DP). */
export function solveExact(p: SolveProblem, maxStates = 2_000_000): SolveResult {
  checkProblem(p);
  const caps = KINDS.map((k) => p.maxDrops?.[k] ?? Infinity);
  const eps = 1e-9 * Math.max(1, Math.abs(p.budget));
  let frontier = new Map<string, State[]>([['0,0,0', [{ cost: 0, damage: 0, drops: [0, 0, 0], prev: null, opt: -1 }]]]);
  for (const opts of p.options) {
    const next = new Map<string, State[]>();
    for (const states of frontier.values()) {
      for (const s of states) {
        opts.forEach((o, j) => {
          const cost = s.cost + o.cost;
          if (cost > p.budget + eps) return;
          const drops = s.drops.slice();
          if (o.drop) { const k = KINDS.indexOf(o.drop); drops[k]++; if (drops[k] > caps[k]) return; }
          const key = drops.join(',');
          let list = next.get(key);
          if (!list) next.set(key, (list = []));
          list.push({ cost, damage: s.damage + o.damage, drops, prev: s, opt: j });
        });
      }
    }
    let total = 0;
    for (const [key, list] of next) {
      // Stable sort by cost then damage; keep strictly improving damage (the Pareto frontier).
      list.sort((a, b) => a.cost - b.cost || a.damage - b.damage);
      const kept: State[] = [];
      for (const s of list) if (kept.length === 0 || s.damage < kept[kept.length - 1].damage) kept.push(s);
      next.set(key, kept);
      total += kept.length;
    }
    if (total > maxStates) throw new Error(`solve: ${total} Pareto states, more than ${maxStates}; use solveLagrangian for a problem this size`);
    frontier = next;
  }
  let best: State | null = null;
  for (const key of [...frontier.keys()].sort()) {
    for (const s of frontier.get(key)!) {
      if (!best || s.damage < best.damage || (s.damage === best.damage && s.cost < best.cost)) best = s;
    }
  }
  if (!best) return { feasible: false, choice: [], damage: NaN, cost: NaN, drops: { block: 0, attn: 0, mlp: 0 } };
  const choice: number[] = [];
  for (let s: State | null = best; s && s.opt >= 0; s = s.prev) choice.push(s.opt);
  choice.reverse();
  return { feasible: true, choice, damage: best.damage, cost: best.cost, drops: { block: best.drops[0], attn: best.drops[1], mlp: best.drops[2] } };
}

/** Evaluates a choice (for tests and reports). */
export function evaluateChoice(p: SolveProblem, choice: readonly number[]): SolveResult {
  let cost = 0, damage = 0;
  const drops = { block: 0, attn: 0, mlp: 0 };
  choice.forEach((j, l) => { const o = p.options[l][j]; cost += o.cost; damage += o.damage; if (o.drop) drops[o.drop]++; });
  const feasible = cost <= p.budget + 1e-9 * Math.max(1, Math.abs(p.budget)) && KINDS.every((k) => drops[k] <= (p.maxDrops?.[k] ?? Infinity));
  return { feasible, choice: choice.slice(), damage, cost, drops };
}

function pick(p: SolveProblem, lambda: number): number[] {
  return p.options.map((opts) => {
    let bj = 0;
    for (let j = 1; j < opts.length; j++) {
      const v = opts[j].damage + lambda * opts[j].cost;
      const b = opts[bj].damage + lambda * opts[bj].cost;
      if (v < b || (v === b && opts[j].cost < opts[bj].cost)) bj = j;
    }
    return bj;
  });
}

/** Lagrangian relaxation of the cost budget (see the file comment); null when drop caps are set. */
export function solveLagrangian(p: SolveProblem, iterations = 200): LagrangianResult | null {
  checkProblem(p);
  if (p.maxDrops && KINDS.some((k) => p.maxDrops![k] !== undefined)) return null;
  const dual = (lambda: number): number => p.options.reduce((acc, o) => acc + Math.min(...o.map((x) => x.damage + lambda * x.cost)), 0) - lambda * p.budget;
  const fits = (lambda: number): SolveResult => evaluateChoice(p, pick(p, lambda));
  let lo = 0;
  let at = fits(0);
  if (at.feasible) return { ...at, lambda: 0, lowerBound: dual(0) };
  let hi = 1;
  let bound = dual(0);
  for (let i = 0; i < 200 && !fits(hi).feasible; i++) { bound = Math.max(bound, dual(hi)); hi *= 2; }
  at = fits(hi);
  if (!at.feasible) return { ...at, feasible: false, lambda: hi, lowerBound: bound };
  for (let i = 0; i < iterations; i++) {
    const mid = (lo + hi) / 2;
    if (mid === lo || mid === hi) break;
    if (fits(mid).feasible) hi = mid; else lo = mid;
  }
  bound = Math.max(bound, dual(lo), dual(hi));
  return { ...fits(hi), lambda: hi, lowerBound: bound };
}

// ---- Problems from a model and measured sensitivities -----------------------------------------------

/** Per-block measured damages: formats[name][l], and the drop damages (ablation KL). */
export interface SensitivityTable {
  formats: Record<string, number[]>;
  drop?: Partial<Record<DropKind, number[]>>;
  /** Rank options keyed by rankKey(fraction) ("rank0.5"), one measured damage per block (measureRankSensitivity). */
  rank?: Record<string, number[]>;
}

/**
 * The tables an analysis measured: GGUF formats from the 'quant' metric (mean KL of quantizing only block
 * l; its plain bits are per-row absmax, not an allocation format, so they are left out), skip-block /
 * skip-attn / skip-mlp KL from 'ablation'.
 */
export function sensitivityFromAnalysis(analysis: Pick<AnalysisResult, 'scores'>): SensitivityTable {
  const t: SensitivityTable = { formats: {} };
  const q = analysis.scores.find((s: LayerScores) => s.metricId === 'quant');
  if (q?.extra) {
    const x = q.extra as unknown as QuantExtra;
    for (const f of x.formats ?? []) if (f.format) t.formats[f.format.toUpperCase()] = f.blocks.map((b) => b.kl);
  }
  const a = analysis.scores.find((s: LayerScores) => s.metricId === 'ablation');
  if (a) {
    t.drop = { block: a.perBlock.slice() };
    if (a.perSublayer) { t.drop.attn = a.perSublayer.attn.slice(); t.drop.mlp = a.perSublayer.mlp.slice(); }
  }
  return t;
}

/** Stored bits of block l's linear weights at `format` (per-tensor fallbacks resolved), split by sublayer. */
export function blockBits(spec: ModelSpec, layer: number, format: WeightFormat): { attn: number; mlp: number; params: { attn: number; mlp: number } } {
  const out = { attn: 0, mlp: 0, params: { attn: 0, mlp: 0 } };
  for (const [name, [rows, cols]] of allocatableTensors(spec)) {
    if (!name.startsWith(`blk.${layer}.`)) continue;
    const sub = sublayerOf(name);
    if (!sub) continue;
    let bpw: number;
    if (format.kind === 'gguf') {
      const r = resolveGgufFormat(format.name, cols);
      const info = TYPE_INFO[GGMLType[r.name]]!;
      bpw = (info.typeSize * 8) / info.blockSize;
    } else bpw = formatBitsPerWeight(format);
    out[sub] += bpw * rows * cols;
    out.params[sub] += rows * cols;
  }
  return out;
}

export interface BlockProblemOptions {
  /** Candidate formats (keys of table.formats). */
  formats: string[];
  /** Allow 'drop attn + format on the MLP' and 'drop block' options where the table has their damage. */
  drops?: DropKind[];
  /** Budget: average bits per weight over the blocks' linear weights, total bytes of them, or the ratio of their parameters kept. */
  budget: { bitsPerWeight: number } | { bytes: number } | { params: number };
  maxDrops?: Partial<Record<DropKind, number>>;
  /** Rank options: fractions of each matrix's break-even rank (damage from table.rank[rankKey(f)]); factors stored F32. */
  ranks?: number[];
  /** Add a 'keep' option (weights unchanged, damage 0, costed as F32). */
  keep?: boolean;
}

/**
 * One problem with mixed knobs: per block one of {keep at f, drop attn + f on the MLP, drop mlp + f on
 * the attention, drop block}. Costs are stored bits (or bytes) of the block's linear weights, a dropped
 * part costing 0 (a pruned export removes it). Damage of "drop attn + f" = drop-attn damage +
 * d_f x (MLP share of the block's params): the block's measured format damage split by parameter share,
 * an assumption (the analysis measures formats on whole blocks).
 */
export function blockProblem(spec: ModelSpec, table: SensitivityTable, o: BlockProblemOptions): SolveProblem {
  const bytes = 'bytes' in o.budget;
  const byParams = 'params' in o.budget;
  const unit = bytes ? 8 : 1;
  // Cost of a part of a block: its stored bits (/ 8 for bytes), or its parameters for a params budget.
  const cost = (bits: number, params: number): number => (byParams ? params : bits / unit);
  const options: SolveOption[][] = [];
  let params = 0;
  for (let l = 0; l < spec.nLayers; l++) {
    const opts: SolveOption[] = [];
    const formatOptions: { name: string; d: number; f: WeightFormat }[] = [];
    if (o.keep) formatOptions.push({ name: 'keep', d: 0, f: { kind: 'gguf', name: 'F32', type: GGMLType.F32 } });
    for (const name of o.formats) {
      const f = parseWeightFormat(name);
      const d = table.formats[name]?.[l];
      if (!f) throw new Error(`blockProblem: unknown format "${name}"`);
      if (d === undefined) throw new Error(`blockProblem: no measured damage for ${name} at block ${l}`);
      if (Number.isFinite(d)) formatOptions.push({ name, d, f });
    }
    for (const { name, d, f } of formatOptions) {
      const b = blockBits(spec, l, f);
      const tot = b.params.attn + b.params.mlp;
      const format = name === 'keep' ? undefined : name;
      opts.push({ label: name, format, cost: cost(b.attn + b.mlp, tot), damage: d });
      for (const k of o.drops ?? []) {
        const dd = table.drop?.[k]?.[l];
        if (dd === undefined || !Number.isFinite(dd) || k === 'block') continue;
        const kept = k === 'attn' ? 'mlp' : 'attn';
        opts.push({ label: `drop ${k} + ${name}`, format, drop: k, cost: cost(b[kept], b.params[kept]), damage: dd + (d * b.params[kept]) / tot });
      }
    }
    for (const fr of o.ranks ?? []) {
      const d = table.rank?.[rankKey(fr)]?.[l];
      if (d === undefined) throw new Error(`blockProblem: no measured damage for rank option ${fr} at block ${l}`);
      if (!Number.isFinite(d)) continue;
      const ranks = rankOptionRanks(spec, l, fr);
      let p = 0;
      for (const m of blockMatrices(spec)) if (m.layer === l) p += rankParams(m.rows, m.cols, ranks[m.name]);
      opts.push({ label: `${rankKey(fr)}`, rank: fr, cost: cost(32 * p, p), damage: d });
    }
    const db = table.drop?.block?.[l];
    if (o.drops?.includes('block') && db !== undefined && Number.isFinite(db)) opts.push({ label: 'drop block', drop: 'block', cost: 0, damage: db });
    if (opts.length === 0) throw new Error(`blockProblem: block ${l} has no option with a measured damage`);
    options.push(opts);
    const b0 = blockBits(spec, l, { kind: 'gguf', name: 'F32', type: GGMLType.F32 });
    params += b0.params.attn + b0.params.mlp;
  }
  let budget: number;
  if ('bytes' in o.budget) budget = o.budget.bytes;
  else if ('params' in o.budget) {
    if (!(o.budget.params > 0 && o.budget.params <= 1)) throw new Error(`blockProblem: params budget must be in (0, 1], got ${o.budget.params}`);
    budget = o.budget.params * params;
  } else budget = o.budget.bitsPerWeight * params;
  return { options, budget, maxDrops: o.maxDrops };
}

/** The allocation of a solved block problem (layers entries: format and drop). */
export function solutionToAllocation(spec: ModelSpec, p: SolveProblem, r: SolveResult, strategy: Record<string, unknown> = {}): Allocation {
  if (!r.feasible) throw new Error('solutionToAllocation: the problem has no feasible plan under its budget');
  const a = emptyAllocation(spec, { name: 'solve', budget: p.budget, predictedDamage: r.damage, cost: r.cost, ...strategy });
  a.layers = {};
  r.choice.forEach((j, l) => {
    const o = p.options[l][j];
    const e: { format?: string; drop?: DropKind } = {};
    if (o.format) e.format = o.format;
    if (o.drop) e.drop = o.drop;
    if (o.rank !== undefined) {
      a.tensors ??= {};
      for (const [n, k] of Object.entries(rankOptionRanks(spec, l, o.rank))) a.tensors[n] = { rank: k };
    }
    if (Object.keys(e).length) a.layers![String(l)] = e;
  });
  return a;
}
