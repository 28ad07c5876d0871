// The Allocation panel's slice: the knob, strategy, budget slider and brush the user picked, the plan
// (an Allocation JSON, layerlab.allocation/1, src/core/allocation/schema.ts) with its undo / redo
// history, and the pure edits the plan grid makes (paint a format, toggle a drop, set a rank, a
// sparsity ratio or K/V bits on a cell). Everything is plain data; every edit returns a new Allocation
// (the old one is kept in the history untouched).
//
// The live size estimate (estimatePlanSize) is computed in the page from the model's tensor table and
// the plan's resolution (validateAllocation: formats with llama-quantize's fallbacks): stored bytes of
// each weight in its format (GGUF block geometry; plain intN as N bits plus its f16 scale / zero per
// group), rank-r factors as r (rows + cols) f32 values, every other tensor as loaded. The bytes the
// engine actually makes resident are reported by the comparison (apply-weights.ts SizeReport).

import type { StoreApi } from 'zustand/vanilla';
import type { ModelSpec } from '../core/model/spec.ts';
import {
  ALLOCATION_SCHEMA, allocatableTensors, blockOf, emptyAllocation, formatBitsPerWeight, validateAllocation,
  type Allocation, type AllocationError, type DropKind, type LayerEntry, type TensorEntry,
} from '../core/allocation/schema.ts';
import { ranked, reverse, random, randomOrder, uniform, type OrderOptions } from '../core/allocation/strategies.ts';
import { KV_BITS, type SparsityMethod } from '../core/allocation/schema.ts';
import { blockMatrices, breakEvenRank, drankAllocation, owlAllocation, rankParams, sparseParams } from '../core/allocation/param-budget.ts';
import { owlNmAllocation } from '../core/allocation/owl-nm.ts';
import type { LayerScores } from '../core/metrics/types.ts';
import type { AllocateRequest, StrategyName } from '../worker/engine-allocation.ts';
import type { ProgressState, UserError, WorkbenchState } from './state.ts';

/** What the strategy and the slider act on. */
export type AllocationKnob = 'format' | 'drop-block' | 'drop-attn' | 'drop-mlp' | 'rank' | 'sparsity' | 'kv' | 'mixed';
export const ALLOCATION_KNOBS: readonly { id: AllocationKnob; label: string }[] = [
  { id: 'format', label: 'weight format' },
  { id: 'drop-block', label: 'drop blocks' },
  { id: 'drop-attn', label: 'drop attention' },
  { id: 'drop-mlp', label: 'drop MLP' },
  { id: 'rank', label: 'rank (SVD)' },
  { id: 'sparsity', label: 'sparsity' },
  { id: 'kv', label: 'KV cache bits' },
  { id: 'mixed', label: 'mixed: drops + formats + ranks (one solver)' },
];

/** The strategies offered for each knob (the engine runs format / drop / mixed and drank / owl; uniform / ranked / reverse / random of rank, sparsity and KV bits are painted in the page). */
export function strategiesFor(knob: AllocationKnob): StrategyName[] {
  switch (knob) {
    case 'format': return ['uniform', 'ranked', 'reverse', 'random', 'solve'];
    case 'rank': return ['uniform', 'ranked', 'reverse', 'random', 'drank'];
    case 'sparsity': return ['uniform', 'ranked', 'reverse', 'random', 'owl'];
    case 'kv': return ['uniform', 'ranked', 'reverse', 'random'];
    case 'mixed': return ['solve'];
    default: return ['ranked', 'reverse', 'random'];
  }
}

/** One line "what is this" and the paper, per strategy (and knob where it differs). */
export function strategyInfo(knob: AllocationKnob, strategy: StrategyName): string {
  const what = knob === 'format' ? 'bits' : knob === 'rank' ? 'rank' : knob === 'sparsity' ? 'weights (lower sparsity)' : knob === 'kv' ? 'K/V cache bits' : 'their sublayers';
  switch (strategy) {
    case 'uniform': return knob.startsWith('drop-') ? '' : 'Every block gets the same value: the baseline every ordering is measured against.';
    case 'ranked': return knob.startsWith('drop-')
      ? 'The metric\'s order: the least important blocks are dropped first (ShortGPT, arXiv 2403.03853; attention first as in LLM-Drop, arXiv 2406.15786).'
      : `The metric's order: the most important blocks keep the most ${what} (Layer-Wise Quantization, arXiv 2406.17415${knob === 'kv' ? '; per-layer KV bits as KVTuner, arXiv 2502.04420' : ''}).`;
    case 'reverse': return 'The metric\'s order reversed: a control that should do worse than ranked if the metric means anything.';
    case 'random': return 'A seeded random order: the baseline a metric must beat (Layer-Wise Quantization, arXiv 2406.17415, averages several seeds).';
    case 'solve': return knob === 'mixed'
      ? 'One exact knapsack over keep / drop attention / drop MLP / drop block / formats / ranks per block under one budget (bits per weight or parameter ratio), each option\'s damage measured as KL on the calibration text: exllamav2 / llama.cpp target-bpw for bits, D-Rank (arXiv 2509.25622) for ranks.'
      : 'An exact knapsack over per-block formats that minimises the measured KL under an average bits-per-weight budget, as exllamav2\'s and llama.cpp\'s target-bpw quantization.';
    case 'drank': return 'Ranks from each matrix\'s effective rank under a parameter ratio: information-dense matrices keep more rank (D-Rank, arXiv 2509.25622).';
    case 'owl': return 'Layerwise sparsity from outlier ratios under a parameter ratio: blocks with more outlier weights keep more (OWL, arXiv 2310.05175); lambda bounds the spread around the mean sparsity.';
    default: return '';
  }
}

/** What a click or a drag over the grid does to a cell. */
export type Brush =
  | { kind: 'format'; format: string }
  | { kind: 'drop' }
  | { kind: 'rank'; rank: number }
  | { kind: 'sparsity'; ratio: number; method?: SparsityMethod }
  | { kind: 'kv'; bits: number }
  | { kind: 'clear' };

/** The grid's columns: one per linear weight of a block (suffix after "blk.N."), then the sublayer / block columns. */
export type GridColumn = { kind: 'tensor'; suffix: string } | { kind: 'attn' } | { kind: 'mlp' } | { kind: 'block' } | { kind: 'kv' };

export interface AllocationState {
  knob: AllocationKnob;
  strategy: StrategyName;
  /** Metric id (from the importance results) ordering ranked / reverse. */
  metric: string;
  /** Uniform format, or the format of the blocks kept high. */
  highFormat: string;
  /** The lower format the slider moves blocks to. */
  lowFormat: string;
  /** The slider: blocks moved / dropped (format, drop knobs with an order), bits per weight (solve), rank, sparsity %, KV bits. */
  budget: number;
  seed: number;
  brush: Brush;
  /** Ordered rank / sparsity / KV knobs: the spread around the slider's value, 0 (all equal) .. 1 (most important block at twice, least at zero). */
  spread: number;
  /** Sparsity method of the sparsity knob and owl (2:4 has a fixed ratio: the slider then counts blocks). */
  sparsityMethod: SparsityMethod;
  /** owl: lambda, the half-width of the sparsity spread. */
  lambda: number;
  /** mixed (solve): budget kind, candidate formats, rank options (fractions of the break-even rank, comma-separated) and drop kinds. */
  solveBudget: 'bpw' | 'params';
  solveFormats: string[];
  solveRanks: string;
  solveDrops: DropKind[];
  plan: Allocation | null;
  /** Model serial the plan was made for. */
  planSerial: number;
  past: Allocation[];
  future: Allocation[];
  /** The plan as the user typed it into the JSON box (null: in sync with plan). */
  draft: string | null;
  running: boolean;
  progress: ProgressState | null;
  error: UserError | null;
  /** Provenance line of the last strategy run (metric measured / reused). */
  note: string | null;
}

export const HISTORY_LIMIT = 200;

export function initialAllocationState(): AllocationState {
  return {
    knob: 'format',
    strategy: 'uniform',
    metric: 'cos',
    highFormat: 'Q8_0',
    lowFormat: 'Q2_K',
    budget: 2,
    seed: 0,
    brush: { kind: 'format', format: 'Q4_0' },
    spread: 0.5,
    sparsityMethod: 'magnitude',
    lambda: 0.08,
    solveBudget: 'params',
    solveFormats: ['Q8_0', 'Q4_0'],
    solveRanks: '0.5',
    solveDrops: ['attn', 'mlp'],
    plan: null,
    planSerial: 0,
    past: [],
    future: [],
    draft: null,
    running: false,
    progress: null,
    error: null,
    note: null,
  };
}

// ---- pure plan edits ----------------------------------------------------------------------------------

function clone(a: Allocation): Allocation {
  return JSON.parse(JSON.stringify(a)) as Allocation;
}

function tidy(a: Allocation): Allocation {
  for (const [k, e] of Object.entries(a.layers ?? {})) if (Object.keys(e).length === 0) delete a.layers![k];
  for (const [k, e] of Object.entries(a.tensors ?? {})) if (Object.keys(e).length === 0) delete a.tensors![k];
  if (a.layers && Object.keys(a.layers).length === 0) delete a.layers;
  if (a.tensors && Object.keys(a.tensors).length === 0) delete a.tensors;
  return a;
}

function layerEntry(a: Allocation, layer: number): LayerEntry {
  a.layers ??= {};
  return (a.layers[String(layer)] ??= {});
}

function tensorEntry(a: Allocation, name: string): TensorEntry {
  a.tensors ??= {};
  return (a.tensors[name] ??= {});
}

/** The same allocation edited by hand: strategy provenance says so. */
function edited(a: Allocation): Allocation {
  const s = a.strategy ?? {};
  if (s.edited !== true) a.strategy = { ...s, edited: true };
  return a;
}

/** An empty plan for the model (no interventions). */
export function blankPlan(spec: ModelSpec): Allocation {
  return emptyAllocation(spec, { name: 'manual' });
}

/** The block linear weights of the grid's columns, in model order (suffixes such as "attn_q"). */
export function gridColumns(spec: ModelSpec): GridColumn[] {
  const suffixes: string[] = [];
  for (const name of allocatableTensors(spec).keys()) {
    const m = /^blk\.0\.(.+)$/.exec(name);
    if (m) suffixes.push(m[1]);
  }
  return [...suffixes.map((suffix) => ({ kind: 'tensor' as const, suffix })), { kind: 'attn' }, { kind: 'mlp' }, { kind: 'block' }, { kind: 'kv' }];
}

export function columnLabel(c: GridColumn): string {
  return c.kind === 'tensor' ? c.suffix : c.kind === 'kv' ? 'KV bits' : `${c.kind} (drop)`;
}

/** Whether painting `brush` on the cell would set something (true) or clear it (false): the first cell of a drag decides for the whole stroke. */
export function strokeSets(a: Allocation, layer: number, col: GridColumn, brush: Brush): boolean {
  if (brush.kind === 'clear') return false;
  if (brush.kind === 'drop') {
    const what: DropKind = col.kind === 'attn' ? 'attn' : col.kind === 'mlp' ? 'mlp' : col.kind === 'tensor' ? (/^attn_/.test(col.suffix) ? 'attn' : 'mlp') : 'block';
    return a.layers?.[String(layer)]?.drop !== what;
  }
  return true;
}

/**
 * Paints one cell: `set` true applies the brush, false clears what the brush sets.
 * format  -> tensor column: tensors[blk.L.x].format; block column: layers[L].format (every weight of the block)
 * drop    -> attn / mlp / block column (or a tensor column: its sublayer): layers[L].drop
 * rank    -> tensor column: tensors[blk.L.x].rank (block column: every weight of the block)
 * sparsity-> tensor column: tensors[blk.L.x].sparsity magnitude at ratio (block column: every weight)
 * kv      -> layers[L].kvBits {k, v} (any column of the row)
 * clear   -> removes the cell's own entries
 * Returns a new allocation (the input is not changed).
 */
export function paintCell(a: Allocation, spec: ModelSpec, layer: number, col: GridColumn, brush: Brush, set = true): Allocation {
  if (!Number.isInteger(layer) || layer < 0 || layer >= spec.nLayers) throw new Error(`no block ${layer} (the model has ${spec.nLayers})`);
  const out = paintRaw(clone(a), spec, layer, col, brush, set);
  // an edit that changes nothing returns the input itself (no history entry, no "edited" mark)
  return JSON.stringify(out) === JSON.stringify(a) ? a : edited(out);
}

function paintRaw(out: Allocation, spec: ModelSpec, layer: number, col: GridColumn, brush: Brush, set: boolean): Allocation {
  const names = [...allocatableTensors(spec).keys()].filter((n) => blockOf(n) === layer);
  const cellTensors = col.kind === 'tensor' ? [`blk.${layer}.${col.suffix}`] : col.kind === 'block' ? names : [];
  const b = brush;
  if (b.kind === 'drop' || (b.kind === 'clear' && (col.kind === 'attn' || col.kind === 'mlp' || col.kind === 'block'))) {
    const what: DropKind = col.kind === 'attn' ? 'attn' : col.kind === 'mlp' ? 'mlp' : col.kind === 'tensor' ? (/^attn_/.test(col.suffix) ? 'attn' : 'mlp') : 'block';
    const e = layerEntry(out, layer);
    if (set && b.kind === 'drop') e.drop = what;
    else if (e.drop === what || (b.kind === 'clear' && col.kind === 'block')) delete e.drop;
    if (b.kind === 'clear' && col.kind === 'block') delete e.format;
    return tidy(out);
  }
  if (b.kind === 'kv' || (b.kind === 'clear' && col.kind === 'kv')) {
    const e = layerEntry(out, layer);
    if (set && b.kind === 'kv') e.kvBits = { k: b.bits, v: b.bits };
    else delete e.kvBits;
    return tidy(out);
  }
  if (b.kind === 'format' && col.kind === 'block') {
    const e = layerEntry(out, layer);
    if (set && b.format) e.format = b.format;
    else delete e.format;
    // a block format replaces the tensor formats of the block (what the user sees painted)
    for (const n of names) if (out.tensors?.[n]) delete out.tensors[n].format;
    return tidy(out);
  }
  for (const n of cellTensors) {
    const e = tensorEntry(out, n);
    if (b.kind === 'format') {
      if (set && b.format) e.format = b.format;
      else delete e.format;
    } else if (b.kind === 'rank') {
      if (set && b.rank > 0) e.rank = b.rank;
      else delete e.rank;
    } else if (b.kind === 'sparsity') {
      if (set && b.method === '2:4') e.sparsity = { method: '2:4', ratio: 0.5 };
      else if (set && b.ratio > 0) e.sparsity = { method: b.method ?? 'magnitude', ratio: b.ratio };
      else delete e.sparsity;
    } else {
      delete e.format;
      delete e.rank;
      delete e.sparsity;
    }
  }
  return tidy(out);
}

/** What a cell shows: the effective format (tensor entry over block entry), rank, sparsity, drop, KV bits. */
export interface CellView {
  format: string | null;
  /** The format came from the block's entry, not the tensor's own. */
  inherited: boolean;
  rank: number | null;
  sparsity: number | null;
  dropped: boolean;
  kvBits: number | null;
  /** The format actually stored after llama-quantize's fallback, when different. */
  fallback: string | null;
}

export function cellView(a: Allocation | null, layer: number, col: GridColumn, fallbacks?: ReadonlyMap<string, string>): CellView {
  const le = a?.layers?.[String(layer)];
  const drop = le?.drop;
  const v: CellView = { format: null, inherited: false, rank: null, sparsity: null, dropped: false, kvBits: le?.kvBits ? le.kvBits.k : null, fallback: null };
  if (col.kind === 'tensor') {
    const name = `blk.${layer}.${col.suffix}`;
    const te = a?.tensors?.[name];
    v.format = te?.format ?? le?.format ?? null;
    v.inherited = !te?.format && !!le?.format;
    v.rank = te?.rank ?? null;
    v.sparsity = te?.sparsity ? (te.sparsity.ratio ?? 0.5) : null;
    v.dropped = drop === 'block' || (drop === 'attn' && /^attn_/.test(col.suffix)) || (drop === 'mlp' && /^ffn_/.test(col.suffix));
    v.fallback = fallbacks?.get(name) ?? null;
  } else if (col.kind === 'block') {
    v.format = le?.format ?? null;
    v.dropped = drop === 'block';
  } else if (col.kind === 'attn' || col.kind === 'mlp') {
    v.dropped = drop === col.kind || drop === 'block';
  }
  return v;
}

// ---- live size estimate ------------------------------------------------------------------------------

export interface SizeEstimate {
  /** Bytes of every tensor after the plan (dropped parts removed, as an export prunes them). */
  bytes: number;
  baseBytes: number;
  /** Stored bits per weight over the 2-D matrices that remain. */
  bitsPerWeight: number;
  baseBitsPerWeight: number;
  /** Parameters of the dropped parts. */
  droppedParams: number;
  /**
   * Parameters the blocks' linear weights keep (param-budget.ts counting: dense rows*cols, rank k
   * (rows+cols)*k, sparse its non-zeros, dropped 0) over their dense total: the "params=R" of rank and
   * sparsity plans (formats change bytes, not parameters).
   */
  paramsKept: number;
  paramsTotal: number;
  paramRatio: number;
  errors: AllocationError[];
  fallbacks: { name: string; from: string; to: string; reason: string }[];
}

/**
 * The plan's size from the model's tensor table (name, shape, bytes as loaded): see the file comment.
 * Cheap: no weights are touched. An invalid plan returns the base size and the errors.
 */
export function estimatePlanSize(spec: ModelSpec, tensors: readonly { name: string; shape: readonly number[]; bytes: number }[], plan: Allocation | null): SizeEstimate {
  let baseBytes = 0, baseMBits = 0, baseMVals = 0;
  for (const t of tensors) {
    baseBytes += t.bytes;
    if (t.shape.length === 2) { baseMBits += t.bytes * 8; baseMVals += t.shape[0] * t.shape[1]; }
  }
  const mats = blockMatrices(spec);
  const paramsTotal = mats.reduce((x, m) => x + m.rows * m.cols, 0);
  const base: SizeEstimate = {
    bytes: baseBytes, baseBytes, bitsPerWeight: (baseMBits / baseMVals) || 0, baseBitsPerWeight: (baseMBits / baseMVals) || 0, droppedParams: 0,
    paramsKept: paramsTotal, paramsTotal, paramRatio: 1, errors: [], fallbacks: [],
  };
  if (!plan) return base;
  const v = validateAllocation(plan, spec);
  if (!v.ok) return { ...base, errors: v.errors };
  const p = v.plan!;
  const planned = new Map(p.tensors.map((t) => [t.name, t]));
  const drop = new Map(p.interventions.map((iv) => [iv.layer, iv.kind]));
  let bytes = 0, mBits = 0, mVals = 0, droppedParams = 0;
  for (const t of tensors) {
    const n = t.shape.reduce((x, y) => x * y, 1);
    const l = blockOf(t.name);
    const kind = l === null ? undefined : drop.get(l);
    const gone = kind === 'skip-block' || (kind === 'skip-attn' && /\.attn_/.test(t.name)) || (kind === 'skip-mlp' && /\.ffn_/.test(t.name));
    if (gone) { droppedParams += n; continue; }
    let b = t.bytes;
    const pt = planned.get(t.name);
    if (pt?.format) b = (formatBitsPerWeight(pt.format) * n) / 8;
    else if (pt?.rank !== undefined && pt.rank > 0) b = pt.rank * (pt.shape[0] + pt.shape[1]) * 4;
    else if (pt?.sparsity) b = n * 4;
    bytes += b;
    if (t.shape.length === 2) { mBits += b * 8; mVals += n; }
  }
  let paramsKept = 0;
  for (const m of mats) {
    const kind = drop.get(m.layer);
    if (kind === 'skip-block' || (kind === 'skip-attn' && /\.attn_/.test(m.name)) || (kind === 'skip-mlp' && /\.ffn_/.test(m.name))) continue;
    const pt = planned.get(m.name);
    if (pt?.rank !== undefined && pt.rank > 0) paramsKept += rankParams(m.rows, m.cols, pt.rank);
    else if (pt?.sparsity) paramsKept += sparseParams(m.rows, m.cols, pt.sparsity.method === '2:4' ? 0.5 : (pt.sparsity.ratio ?? 0.5), pt.sparsity.method);
    else paramsKept += m.rows * m.cols;
  }
  return {
    bytes, baseBytes, bitsPerWeight: mVals ? mBits / mVals : 0, baseBitsPerWeight: base.baseBitsPerWeight, droppedParams,
    paramsKept, paramsTotal, paramRatio: paramsTotal ? paramsKept / paramsTotal : 1, errors: [], fallbacks: p.fallbacks,
  };
}

// ---- the strategy controls -> an engine request, and the page's preview of it ------------------------

/** Whether the knob and strategy run in the engine (formats, drops, mixed solve, drank, owl) or are painted in the page (rank, sparsity, KV bits: uniform or in an order). */
export function knobUsesStrategy(knob: AllocationKnob, strategy?: StrategyName): boolean {
  return knob === 'format' || knob === 'mixed' || knob.startsWith('drop-') || strategy === 'drank' || strategy === 'owl';
}

/** Whether the knob and strategy take a parameter-ratio budget (params=R): drank, owl, mixed solve with a params budget. */
export function usesParamsBudget(st: Pick<AllocationState, 'knob' | 'strategy' | 'solveBudget'>): boolean {
  return st.strategy === 'drank' || st.strategy === 'owl' || (st.knob === 'mixed' && st.solveBudget === 'params');
}

/** Smallest min(rows, cols) over the block matrices (a larger rank is not a rank of every one). */
function maxBlockRank(spec: ModelSpec): number {
  let max = Infinity;
  for (const [name, [r, c]] of allocatableTensors(spec)) if (blockOf(name) !== null) max = Math.min(max, r, c);
  return Number.isFinite(max) ? max : 1;
}

/** The slider's range and meaning for the knob and strategy. */
export function sliderSpec(st: Pick<AllocationState, 'knob' | 'strategy'> & Partial<Pick<AllocationState, 'solveBudget' | 'sparsityMethod'>>, spec: ModelSpec): { min: number; max: number; step: number; label: string } {
  const L = spec.nLayers;
  const ordered = st.strategy === 'ranked' || st.strategy === 'reverse' || st.strategy === 'random';
  if (usesParamsBudget({ knob: st.knob, strategy: st.strategy, solveBudget: st.solveBudget ?? 'bpw' })) {
    return { min: 0.05, max: 1, step: 0.05, label: "budget: parameter ratio kept (the blocks' linear weights)" };
  }
  if (st.knob === 'format' || st.knob === 'mixed') {
    if (st.strategy === 'solve') return { min: 2, max: 8.5, step: 0.25, label: 'budget: bits per weight' };
    if (st.strategy === 'uniform') return { min: 0, max: 0, step: 1, label: 'uniform: every block at the format' };
    return { min: 0, max: L, step: 1, label: 'blocks moved to the low format' };
  }
  if (st.knob.startsWith('drop-')) return { min: 0, max: L, step: 1, label: `${st.knob.slice(5)} sublayers dropped` };
  if (st.knob === 'rank') return { min: 1, max: maxBlockRank(spec), step: 1, label: ordered ? 'mean rank of the block matrices (more for the important blocks)' : 'rank of every block matrix' };
  if (st.knob === 'sparsity') {
    if (st.sparsityMethod === '2:4') return ordered ? { min: 0, max: L, step: 1, label: 'blocks at 2:4 (the least important first)' } : { min: 0, max: 0, step: 1, label: 'every block at 2:4' };
    return { min: 0, max: 95, step: 5, label: ordered ? `mean sparsity % (${st.sparsityMethod ?? 'magnitude'}; less for the important blocks)` : `sparsity % (${st.sparsityMethod ?? 'magnitude'}) of every block matrix` };
  }
  return { min: 2, max: 16, step: 1, label: ordered ? 'mean K/V cache bits (more for the important blocks)' : 'K/V cache bits of every block' };
}

/** The slider's starting value when the knob or strategy changes. */
export function defaultBudget(st: Pick<AllocationState, 'knob' | 'strategy' | 'solveBudget' | 'sparsityMethod' | 'budget'>, spec: ModelSpec): number {
  if (usesParamsBudget(st)) return 0.7;
  const sl = sliderSpec(st, spec);
  if ((st.knob === 'format' || st.knob === 'mixed') && st.strategy === 'solve') return 4.5;
  if (st.knob === 'rank') return Math.max(1, Math.round(sl.max / 2));
  if (st.knob === 'sparsity') return st.sparsityMethod === '2:4' ? Math.min(2, sl.max) : 50;
  if (st.knob === 'kv') return 4;
  return Math.max(sl.min, Math.min(st.budget, sl.max, 2));
}

/** The engine request for the engine-run knobs and strategies; `scores` from the importance results are passed for reuse. */
export function allocateRequestOf(st: AllocationState, scores: readonly LayerScores[] | null, text: string, maxTokens: number): AllocateRequest {
  const base = { text, maxTokens, ...(scores ? { analysis: { scores: scores.slice() } } : {}) };
  if (st.strategy === 'drank' && st.knob === 'rank') return { ...base, strategy: 'drank', budget: `params=${st.budget}` };
  if (st.strategy === 'owl' && st.knob === 'sparsity') return { ...base, strategy: 'owl', budget: `params=${st.budget}`, lambda: st.lambda, sparsityMethod: st.sparsityMethod };
  if (st.knob === 'mixed') {
    const ranks = st.solveRanks.split(',').map((x) => x.trim()).filter(Boolean).join(',');
    return {
      ...base,
      strategy: 'solve',
      budget: `${st.solveBudget}=${st.budget}`,
      formats: st.solveFormats.slice(),
      ...(ranks ? { ranks } : {}),
      ...(st.solveDrops.length ? { dropKinds: st.solveDrops.join(',') } : {}),
    };
  }
  if (st.knob === 'format') {
    if (st.strategy === 'uniform') return { ...base, strategy: 'uniform', format: st.highFormat };
    if (st.strategy === 'solve') return { ...base, strategy: 'solve', budget: `bpw=${st.budget}` };
    return { ...base, strategy: st.strategy, format: st.highFormat, low: st.lowFormat, n: Math.round(st.budget), metric: st.metric, seed: st.seed };
  }
  if (st.knob.startsWith('drop-')) {
    const what = st.knob.slice(5) as DropKind;
    if (st.strategy === 'uniform' || st.strategy === 'solve') throw new Error(`dropping ${what} sublayers needs an order: choose ranked, reverse or random`);
    return { ...base, strategy: st.strategy, drop: { what, n: Math.round(st.budget) }, metric: st.metric, seed: st.seed };
  }
  throw new Error(`the ${st.knob} knob with strategy ${st.strategy} is painted in the page, not run by the engine`);
}

/** The value painted on every block for the rank / sparsity / KV knobs (strategy uniform). */
export function knobBrush(st: Pick<AllocationState, 'knob' | 'budget'> & Partial<Pick<AllocationState, 'sparsityMethod'>>): Brush {
  if (st.knob === 'rank') return { kind: 'rank', rank: Math.max(1, Math.round(st.budget)) };
  if (st.knob === 'sparsity') return { kind: 'sparsity', ratio: Math.min(0.95, Math.max(0, st.budget / 100)), method: st.sparsityMethod ?? 'magnitude' };
  return { kind: 'kv', bits: Math.round(st.budget) };
}

/** The knob's value on every block of `base` (rank / sparsity: every block matrix; KV: every block). */
export function paintEveryBlock(base: Allocation, spec: ModelSpec, brush: Brush): Allocation {
  let a = base;
  for (let l = 0; l < spec.nLayers; l++) a = paintCell(a, spec, l, brush.kind === 'kv' ? { kind: 'kv' } : { kind: 'block' }, brush, true);
  return a;
}

/** Nearest allowed K/V bits (ties to the larger). */
function snapKvBits(b: number): number {
  let best: number = KV_BITS[0];
  for (const k of KV_BITS) if (Math.abs(k - b) <= Math.abs(best - b)) best = k;
  return best;
}

/**
 * The block order of an ordered strategy, most important first: ranked = the metric's ranking, reverse =
 * its reverse, random = randomOrder(L, seed) (strategies.ts, the same order the engine's random uses).
 */
export function blockOrder(st: Pick<AllocationState, 'strategy' | 'seed'>, L: number, scores: LayerScores | null): number[] {
  if (st.strategy === 'random') return randomOrder(L, st.seed);
  const r = scores?.ranking?.length === L ? scores.ranking.slice() : Array.from({ length: L }, (_, i) => i);
  return st.strategy === 'reverse' ? r.reverse() : r;
}

/**
 * Per-block values of the rank / sparsity / KV knobs in metric order: the block at position i of the order
 * (0 = most important) gets v * (1 + s t_i) with t_i = 1 - 2 i / (L - 1) in [-1, 1] (s the spread), so the
 * values average the slider's v before rounding. Sparsity runs the other way (the important blocks keep
 * more weights: ratio p (1 - s t_i)). Ranks are rounded and clamped to [1, max]; sparsity clamped to
 * [0, 0.95]; KV bits snapped to the allowed values. 2:4 sparsity: the last round(v) blocks of the order.
 * Returns block -> brush.
 */
export function orderedBrushes(st: Pick<AllocationState, 'knob' | 'budget' | 'spread' | 'sparsityMethod'>, spec: ModelSpec, order: readonly number[]): Brush[] {
  const L = spec.nLayers;
  const out: Brush[] = new Array<Brush>(L);
  const s = Math.max(0, Math.min(1, st.spread));
  order.forEach((layer, i) => {
    const t = L > 1 ? 1 - (2 * i) / (L - 1) : 0;
    if (st.knob === 'rank') out[layer] = { kind: 'rank', rank: Math.max(1, Math.min(maxBlockRank(spec), Math.round(st.budget * (1 + s * t)))) };
    else if (st.knob === 'sparsity') {
      if (st.sparsityMethod === '2:4') out[layer] = i >= L - Math.round(st.budget) ? { kind: 'sparsity', ratio: 0.5, method: '2:4' } : { kind: 'clear' };
      else out[layer] = { kind: 'sparsity', ratio: Math.min(0.95, Math.max(0, Math.round((st.budget / 100) * (1 - s * t) * 1000) / 1000)), method: st.sparsityMethod };
    } else out[layer] = { kind: 'kv', bits: snapKvBits(st.budget * (1 + s * t)) };
  });
  return out;
}

/** The page-painted plan of the rank / sparsity / KV knobs: one value on every block (uniform) or values in the order (ranked / reverse / random). */
export function paintedPlan(st: AllocationState, spec: ModelSpec, base: Allocation, scores: readonly LayerScores[] | null): Allocation {
  if (st.strategy === 'uniform') {
    if (st.knob === 'sparsity' && st.sparsityMethod === '2:4') return paintEveryBlock(base, spec, { kind: 'sparsity', ratio: 0.5, method: '2:4' });
    return paintEveryBlock(base, spec, knobBrush(st));
  }
  const s = scores?.find((x) => x.metricId === st.metric) ?? null;
  const brushes = orderedBrushes(st, spec, blockOrder(st, spec.nLayers, s));
  let a = base;
  for (let l = 0; l < spec.nLayers; l++) {
    const col: GridColumn = st.knob === 'kv' ? { kind: 'kv' } : { kind: 'block' };
    const b = brushes[l];
    // 'clear' on a block column would clear the block's format and drop too: clear only what the knob sets
    a = b.kind === 'clear' ? paintCell(a, spec, l, col, { kind: 'sparsity', ratio: 0 }, false) : paintCell(a, spec, l, col, b, true);
  }
  return a;
}

/**
 * The plan the controls would make, computed in the page for the live size readout (the same core
 * strategies the engine runs; ranked / reverse need the metric's scores, else the size is shown for
 * the identity order, which has the same size when every block has the same shapes; drank / owl need the
 * importance results' erank / owl scores of the 'weights' metric). Solve: null (its size is its budget).
 */
export function previewPlan(st: AllocationState, spec: ModelSpec, scores: readonly LayerScores[] | null): Allocation | null {
  try {
    if (st.strategy === 'drank') {
      const e = scores?.find((x) => x.metricId === 'erank')?.perTensor;
      return e ? drankAllocation(spec, e, st.budget).allocation : null;
    }
    if (st.strategy === 'owl') {
      const o = scores?.find((x) => x.metricId === 'owl')?.perBlock;
      if (!o) return null;
      return st.sparsityMethod === '2:4' ? owlNmAllocation(spec, o, st.budget).allocation : owlAllocation(spec, o, st.budget, { lambda: st.lambda, method: st.sparsityMethod }).allocation;
    }
    if (!knobUsesStrategy(st.knob, st.strategy)) return paintedPlan(st, spec, st.plan ?? blankPlan(spec), scores);
    if (st.knob === 'format' && st.strategy === 'uniform') return uniform(spec, st.highFormat);
    if (st.strategy === 'solve') return null;
    if (st.knob !== 'format' && st.strategy === 'uniform') return null;
    const opts: OrderOptions = st.knob === 'format'
      ? { formats: { high: st.highFormat, low: st.lowFormat, nLow: Math.round(st.budget) } }
      : { drop: { what: st.knob.slice(5) as DropKind, n: Math.round(st.budget) } };
    if (st.strategy === 'random') return random(spec, st.seed, opts);
    const s = scores?.find((x) => x.metricId === st.metric) ?? {
      metricId: 'identity', perBlock: Array.from({ length: spec.nLayers }, (_, i) => spec.nLayers - i), ranking: Array.from({ length: spec.nLayers }, (_, i) => i),
    } as unknown as LayerScores;
    return st.strategy === 'ranked' ? ranked(spec, s, opts) : reverse(spec, s, opts);
  } catch {
    return null;
  }
}

/** Break-even rank of a [rows, cols] matrix (re-exported for the panel's hints). */
export const rankBreakEven = breakEvenRank;

// ---- history ----------------------------------------------------------------------------------------

type Api = StoreApi<WorkbenchState>;

export function patchAllocation(s: Api, p: Partial<AllocationState>): void {
  s.setState((st) => ({ allocation: { ...st.allocation, ...p } }));
}

/** Replaces the plan and records the old one for undo (redo history is cleared). A plan equal to the current one records nothing. */
export function commitPlan(s: Api, next: Allocation | null, serial?: number): void {
  s.setState((st) => {
    const a = st.allocation;
    if (JSON.stringify(next) === JSON.stringify(a.plan)) return {};
    const past = a.plan ? [...a.past, a.plan].slice(-HISTORY_LIMIT) : a.past;
    return { allocation: { ...a, plan: next, past, future: [], draft: null, planSerial: serial ?? a.planSerial } };
  });
}

/** A drag stroke: the plan before the stroke goes to the history once; paints during the stroke replace the plan only. */
export function beginStroke(s: Api): void {
  s.setState((st) => {
    const a = st.allocation;
    if (!a.plan) return {};
    return { allocation: { ...a, past: [...a.past, a.plan].slice(-HISTORY_LIMIT), future: [] } };
  });
}

export function strokePaint(s: Api, next: Allocation): void {
  s.setState((st) => ({ allocation: { ...st.allocation, plan: next, draft: null } }));
}

/** Ends a stroke; a stroke that changed nothing leaves no history entry. */
export function endStroke(s: Api): void {
  s.setState((st) => {
    const a = st.allocation;
    const last = a.past[a.past.length - 1];
    if (last && JSON.stringify(last) === JSON.stringify(a.plan)) return { allocation: { ...a, past: a.past.slice(0, -1) } };
    return {};
  });
}

export function undoPlan(s: Api): void {
  s.setState((st) => {
    const a = st.allocation;
    if (a.past.length === 0) return {};
    const prev = a.past[a.past.length - 1];
    return { allocation: { ...a, plan: prev, past: a.past.slice(0, -1), future: a.plan ? [a.plan, ...a.future] : a.future, draft: null } };
  });
}

export function redoPlan(s: Api): void {
  s.setState((st) => {
    const a = st.allocation;
    if (a.future.length === 0) return {};
    const next = a.future[0];
    return { allocation: { ...a, plan: next, past: a.plan ? [...a.past, a.plan] : a.past, future: a.future.slice(1), draft: null } };
  });
}

/** Parses a typed / loaded allocation JSON text: the object, or the parse error as text (never rendered as HTML). */
export function parsePlanText(text: string): { plan: Allocation } | { error: string } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return { error: `not JSON: ${(e as Error).message}` };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { error: `an allocation is a JSON object ({"schema": "${ALLOCATION_SCHEMA}", ...})` };
  // field errors are reported by validateAllocation (estimatePlanSize), each with what is allowed
  return { plan: v as Allocation };
}
