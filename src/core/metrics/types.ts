// Shared types and helpers of the layer-importance metrics (one module per metric, DESIGN.md §6).
// A metric reads plain arrays (forward taps, dequantized weights, activation norms) and returns a
// LayerScores record of plain numbers that the store, the heatmaps and the exporters consume.
//
// Shapes: L blocks, T tokens, C channels (residual width), V vocabulary. A tap is a row-major
// Float32Array [T, C] (logits [T, V]) named as the reference forward names it:
//   blk.l.in, blk.l.attn_out, blk.l.mid, blk.l.mlp_out, blk.l.out, logits.
// A weight matrix is row-major [rows = out features, cols = in features] (GGUF / PyTorch order).

/** Forward taps by name, each row-major [T, C] (logits [T, V]). */
export type Taps = Record<string, Float32Array>;

/** What a metric needs beyond its own arithmetic. */
export type MetricNeed = 'taps' | 'weights' | 'activationNorms' | 'ablation' | 'gradients';

export interface MetricMeta {
  id: string;
  label: string;
  /** Citation with arXiv id (or URL where the source has none). */
  paper: string;
  unit: string;
  /** Orientation of `perBlock`: true when a larger value means a more important block. */
  higherIsMoreImportant: boolean;
  needs: MetricNeed[];
}

export interface LayerScores {
  metricId: string;
  label: string;
  unit: string;
  higherIsMoreImportant: boolean;
  /** One score per block, length L. NaN where the score is undefined (documented per metric). */
  perBlock: number[];
  perSublayer?: { attn: number[]; mlp: number[] };
  /** Scores keyed by canonical tensor name (blk.N.attn_q, ...). */
  perTensor?: Record<string, number>;
  /** L x T, for heatmaps. */
  perToken?: number[][];
  /** L x L (CKA). */
  matrix?: number[][];
  /** Block indices, most important first (orientation applied; NaN scores last). */
  ranking: number[];
  extra?: Record<string, unknown>;
}

/** What a taps-only metric is given. */
export interface TapsContext {
  taps: Taps;
  T: number;
  C: number;
  nLayers: number;
}

/** A dequantized weight matrix, row-major [rows, cols] = [out features, in features]. */
export interface WeightMatrix {
  data: Float32Array;
  rows: number;
  cols: number;
}

/**
 * Weights by canonical name ("blk.3.ffn_up"): a function (lazy dequantization) or a Map; a missing
 * name means the model has no such tensor.
 */
export type WeightLookup = ((name: string) => WeightMatrix | undefined) | ReadonlyMap<string, WeightMatrix>;

/** The linear (matmul) weights of a block, by canonical suffix (GGUF names). */
export const LINEAR_SUFFIXES = ['attn_q', 'attn_k', 'attn_v', 'attn_qkv', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down'] as const;

export type TapPoint = 'in' | 'attn_out' | 'mid' | 'mlp_out' | 'out';

export function tapName(layer: number, point: TapPoint): string {
  return `blk.${layer}.${point}`;
}

/** A tap checked for presence and length T * width (a clear error names what is missing). */
export function requireTap(taps: Taps, name: string, T: number, width: number): Float32Array {
  const a = taps[name];
  if (!a) throw new Error(`metric needs tap '${name}', which the forward did not return`);
  if (a.length !== T * width) throw new Error(`tap '${name}' has ${a.length} values, expected T*C = ${T}*${width} = ${T * width}`);
  return a;
}

/** The linear weights of block `layer` that the model has, as [canonical name, matrix] pairs. */
export function layerLinears(weight: WeightLookup, layer: number): [string, WeightMatrix][] {
  const out: [string, WeightMatrix][] = [];
  for (const s of LINEAR_SUFFIXES) {
    const name = `blk.${layer}.${s}`;
    const w = typeof weight === 'function' ? weight(name) : weight.get(name);
    if (!w) continue;
    if (w.data.length !== w.rows * w.cols) throw new Error(`weight '${name}': ${w.data.length} values, expected ${w.rows}x${w.cols}`);
    out.push([name, w]);
  }
  return out;
}

/**
 * Block indices ordered most important first: descending score when higher is more important,
 * ascending otherwise. NaN scores go last; ties keep index order (stable).
 */
export function rankBlocks(perBlock: readonly number[], higherIsMoreImportant: boolean): number[] {
  const idx = perBlock.map((_, i) => i);
  const sign = higherIsMoreImportant ? -1 : 1;
  return idx.sort((a, b) => {
    const x = perBlock[a];
    const y = perBlock[b];
    const xn = Number.isNaN(x);
    const yn = Number.isNaN(y);
    if (xn || yn) return xn === yn ? a - b : xn ? 1 : -1;
    return x === y ? a - b : sign * (x - y);
  });
}

/** Mean of values[from..to) (NaN propagates); NaN for an empty range. */
export function mean(values: ArrayLike<number>, from = 0, to = values.length): number {
  if (to <= from) return NaN;
  let s = 0;
  for (let i = from; i < to; i++) s += values[i];
  return s / (to - from);
}

/** Fill the LayerScores fields that follow from the metadata and perBlock. */
export function scores(meta: MetricMeta, perBlock: number[], rest: Omit<LayerScores, 'metricId' | 'label' | 'unit' | 'higherIsMoreImportant' | 'perBlock' | 'ranking'> = {}): LayerScores {
  return {
    metricId: meta.id,
    label: meta.label,
    unit: meta.unit,
    higherIsMoreImportant: meta.higherIsMoreImportant,
    perBlock,
    ranking: rankBlocks(perBlock, meta.higherIsMoreImportant),
    ...rest,
  };
}
