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
import { ranked, reverse, random, uniform, type OrderOptions } from '../core/allocation/strategies.ts';
import type { LayerScores } from '../core/metrics/types.ts';
import type { AllocateRequest, StrategyName } from '../worker/engine-allocation.ts';
import type { ProgressState, UserError, WorkbenchState } from './state.ts';

/** What the strategy and the slider act on. */
export type AllocationKnob = 'format' | 'drop-block' | 'drop-attn' | 'drop-mlp' | 'rank' | 'sparsity' | 'kv';
export const ALLOCATION_KNOBS: readonly { id: AllocationKnob; label: string }[] = [
  { id: 'format', label: 'weight format' },
  { id: 'drop-block', label: 'drop blocks' },
  { id: 'drop-attn', label: 'drop attention' },
  { id: 'drop-mlp', label: 'drop MLP' },
  { id: 'rank', label: 'rank (SVD)' },
  { id: 'sparsity', label: 'sparsity' },
  { id: 'kv', label: 'KV cache bits' },
];

/** What a click or a drag over the grid does to a cell. */
export type Brush =
  | { kind: 'format'; format: string }
  | { kind: 'drop' }
  | { kind: 'rank'; rank: number }
  | { kind: 'sparsity'; ratio: number }
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
      if (set && b.ratio > 0) e.sparsity = { method: 'magnitude', ratio: b.ratio };
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
  const base: SizeEstimate = { bytes: baseBytes, baseBytes, bitsPerWeight: (baseMBits / baseMVals) || 0, baseBitsPerWeight: (baseMBits / baseMVals) || 0, droppedParams: 0, errors: [], fallbacks: [] };
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
  return { bytes, baseBytes, bitsPerWeight: mVals ? mBits / mVals : 0, baseBitsPerWeight: base.baseBitsPerWeight, droppedParams, errors: [], fallbacks: p.fallbacks };
}

// ---- the strategy controls -> an engine request, and the page's preview of it ------------------------

/** Whether the knob is run by the engine's strategies (formats, drops) or painted on every block in the page (rank, sparsity, KV bits). */
export function knobUsesStrategy(knob: AllocationKnob): boolean {
  return knob === 'format' || knob.startsWith('drop-');
}

/** The slider's range and meaning for the knob and strategy. */
export function sliderSpec(st: Pick<AllocationState, 'knob' | 'strategy'>, spec: ModelSpec): { min: number; max: number; step: number; label: string } {
  const L = spec.nLayers;
  if (st.knob === 'format') {
    if (st.strategy === 'solve') return { min: 2, max: 8.5, step: 0.25, label: 'budget: bits per weight' };
    if (st.strategy === 'uniform') return { min: 0, max: 0, step: 1, label: 'uniform: every block at the format' };
    return { min: 0, max: L, step: 1, label: 'blocks moved to the low format' };
  }
  if (st.knob.startsWith('drop-')) return { min: 0, max: L, step: 1, label: `${st.knob.slice(5)} sublayers dropped` };
  if (st.knob === 'rank') {
    // at most the smallest min(rows, cols) of the block matrices (a larger rank is not a rank of every one)
    let max = Infinity;
    for (const [name, [r, c]] of allocatableTensors(spec)) if (blockOf(name) !== null) max = Math.min(max, r, c);
    return { min: 1, max: Number.isFinite(max) ? max : 1, step: 1, label: 'rank of every block matrix' };
  }
  if (st.knob === 'sparsity') return { min: 0, max: 95, step: 5, label: 'sparsity % (magnitude) of every block matrix' };
  return { min: 2, max: 16, step: 1, label: 'K/V cache bits of every block' };
}

/** The engine request for the strategy controls (format and drop knobs); `scores` from the importance results are passed for reuse. */
export function allocateRequestOf(st: AllocationState, scores: readonly LayerScores[] | null, text: string, maxTokens: number): AllocateRequest {
  const base = { text, maxTokens, ...(scores ? { analysis: { scores: scores.slice() } } : {}) };
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
  throw new Error(`the ${st.knob} knob is painted in the page, not run by a strategy`);
}

/** The value painted on every block for the rank / sparsity / KV knobs. */
export function knobBrush(st: Pick<AllocationState, 'knob' | 'budget'>): Brush {
  if (st.knob === 'rank') return { kind: 'rank', rank: Math.max(1, Math.round(st.budget)) };
  if (st.knob === 'sparsity') return { kind: 'sparsity', ratio: Math.min(0.95, Math.max(0, st.budget / 100)) };
  return { kind: 'kv', bits: Math.round(st.budget) };
}

/** The knob's value on every block of `base` (rank / sparsity: every block matrix; KV: every block). */
export function paintEveryBlock(base: Allocation, spec: ModelSpec, brush: Brush): Allocation {
  let a = base;
  for (let l = 0; l < spec.nLayers; l++) a = paintCell(a, spec, l, brush.kind === 'kv' ? { kind: 'kv' } : { kind: 'block' }, brush, true);
  return a;
}

/**
 * The plan the controls would make, computed in the page for the live size readout (the same core
 * strategies the engine runs; ranked / reverse need the metric's scores, else the size is shown for
 * the identity order, which has the same size when every block has the same shapes). Solve: null (its
 * size is its budget).
 */
export function previewPlan(st: AllocationState, spec: ModelSpec, scores: readonly LayerScores[] | null): Allocation | null {
  try {
    if (!knobUsesStrategy(st.knob)) return paintEveryBlock(st.plan ?? blankPlan(spec), spec, knobBrush(st));
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
