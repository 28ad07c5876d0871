// Allocation strategies that need no solver: uniform, ranked by a metric, reverse ranking, seeded random.
// Every one is deterministic (random: for a given seed). Shapes: L blocks.
//
// All order-based strategies share one rule (the Layer-Wise Quantization / LLM-Drop experiments:
// "move k layers to a lower format / drop n sublayers in the order of metric X"): given an order of the
// blocks from most to least important,
//   formats: the last `nLow` blocks of the order get `low`, the others `high` (every linear weight of
//            the block; per-tensor fallbacks are resolved by the plan, schema.ts);
//   drop:    the last `n` blocks of the order drop `what` (block | attn | mlp).
// ranked uses LayerScores.ranking (most important first, NaN scores last, ties by index: metrics/types.ts
// rankBlocks), reverse the same order reversed, random a Fisher-Yates shuffle of 0..L-1 driven by
// mulberry32(seed) (src/core/tensor.ts): for i = L-1 .. 1, j = floor(u * (i + 1)), swap(i, j).

import type { ModelSpec } from '../model/spec.ts';
import type { LayerScores } from '../metrics/types.ts';
import { mulberry32 } from '../tensor.ts';
import { emptyAllocation, parseWeightFormat, type Allocation, type DropKind, type LayerEntry } from './schema.ts';

export interface OrderOptions {
  formats?: { high: string; low: string; nLow: number };
  drop?: { what: DropKind; n: number };
}

function checkFormat(f: string): void {
  if (!parseWeightFormat(f)) throw new Error(`unknown weight format "${f}"`);
}

function checkCount(n: number, L: number, what: string): void {
  if (!Number.isInteger(n) || n < 0 || n > L) throw new Error(`${what} must be an integer in 0..${L}, got ${n}`);
}

/** Every block's linear weights at `format` (embeddings and output untouched). */
export function uniform(spec: ModelSpec, format: string): Allocation {
  checkFormat(format);
  const a = emptyAllocation(spec, { name: 'uniform', format });
  a.layers = {};
  for (let l = 0; l < spec.nLayers; l++) a.layers[String(l)] = { format };
  return a;
}

/** The shared rule above for an explicit order (most important first; a permutation of 0..L-1). */
export function fromOrder(spec: ModelSpec, order: readonly number[], opts: OrderOptions, strategy: Record<string, unknown>): Allocation {
  const L = spec.nLayers;
  const seen = new Set(order);
  if (order.length !== L || seen.size !== L || order.some((l) => !Number.isInteger(l) || l < 0 || l >= L)) {
    throw new Error(`an order must be a permutation of the blocks 0..${L - 1}, got [${order.join(', ')}]`);
  }
  if (!opts.formats && !opts.drop) throw new Error('an order-based strategy needs formats {high, low, nLow} and/or drop {what, n}');
  const layers: Record<string, LayerEntry> = {};
  if (opts.formats) {
    checkFormat(opts.formats.high);
    checkFormat(opts.formats.low);
    checkCount(opts.formats.nLow, L, 'nLow');
    order.forEach((l, i) => { layers[String(l)] = { format: i >= L - opts.formats!.nLow ? opts.formats!.low : opts.formats!.high }; });
  }
  if (opts.drop) {
    checkCount(opts.drop.n, L, 'the number of drops');
    for (let i = L - opts.drop.n; i < L; i++) {
      const key = String(order[i]);
      layers[key] = { ...(layers[key] ?? {}), drop: opts.drop.what };
    }
  }
  const a = emptyAllocation(spec, { ...strategy, order: order.slice(), ...opts });
  // Keys in block order, so the JSON reads naturally.
  a.layers = {};
  for (let l = 0; l < L; l++) if (layers[String(l)]) a.layers[String(l)] = layers[String(l)];
  return a;
}

function checkScores(spec: ModelSpec, scores: LayerScores): void {
  if (scores.perBlock.length !== spec.nLayers) throw new Error(`metric ${scores.metricId} has ${scores.perBlock.length} block scores, the model has ${spec.nLayers} blocks`);
}

/** Most important blocks (by the metric's ranking) keep `high`; the least important get `low` / are dropped. */
export function ranked(spec: ModelSpec, scores: LayerScores, opts: OrderOptions): Allocation {
  checkScores(spec, scores);
  return fromOrder(spec, scores.ranking, opts, { name: 'ranked', metric: scores.metricId });
}

/** The ranking reversed: the most important blocks are lowered / dropped first (a control). */
export function reverse(spec: ModelSpec, scores: LayerScores, opts: OrderOptions): Allocation {
  checkScores(spec, scores);
  return fromOrder(spec, scores.ranking.slice().reverse(), opts, { name: 'reverse', metric: scores.metricId });
}

/** A seeded random order of the blocks (Fisher-Yates with mulberry32). */
export function randomOrder(L: number, seed: number): number[] {
  if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
  const rnd = mulberry32(seed);
  const o = Array.from({ length: L }, (_, i) => i);
  for (let i = L - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    const t = o[i]; o[i] = o[j]; o[j] = t;
  }
  return o;
}

export function random(spec: ModelSpec, seed: number, opts: OrderOptions): Allocation {
  return fromOrder(spec, randomOrder(spec.nLayers, seed), opts, { name: 'random', seed });
}
