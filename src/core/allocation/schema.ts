// The Allocation: a plain, versioned JSON document that names per-layer / per-tensor interventions
// (DESIGN.md "intervention"), and its validation against a model.
//
// Schema id "layerlab.allocation/1" (fields may be added under the same id, never renamed or removed):
//   {
//     "schema": "layerlab.allocation/1",
//     "model": { "name": "stories260K", "arch": "llama", "nLayers": 5, "tensors": "fnv1a:..." (optional) },
//     "strategy": { "name": "ranked", "metric": "cos", ... }           (optional provenance, free form)
//     "layers": {                                                       (keyed by 0-based block index)
//       "3": { "drop": "attn" | "mlp" | "block",
//              "format": "Q4_0",            (every linear weight of the block, unless a tensor entry says otherwise)
//              "kvBits": { "k": 8, "v": 4 } }                            (K / V cache bits, quantized on write)
//     },
//     "tensors": {                                                      (keyed by canonical tensor name)
//       "blk.3.attn_q": { "format": "int4-g64-asym", "rank": 16, "sparsity": { "method": "wanda", "ratio": 0.5 } },
//       "token_embd": { "format": "Q8_0" }
//     }
//   }
// Weight formats (strings): the GGUF types F32, F16, Q8_0, Q6_K, Q5_0, Q5_1, Q4_0, Q4_1, Q4_K, Q3_K, Q2_K
// (case-insensitive), or plain group-wise integers "int<N>-g<G>-<sym|asym>" with N = 2..8 and G = 32, 64, 128.
// Sparsity: { method: "magnitude" | "wanda", ratio in [0, 1) } or { method: "2:4" } (ratio 0.5 implied).
// KV bits: 2, 3, 4, 5, 6, 8 or 16 (16 = unquantized).
//
// Order of the weight edits of one tensor (apply-weights.ts): rank-r SVD, then the sparsity mask, then the
// format. A GGUF format whose block does not divide the row length falls back the way llama-quantize does
// (llama.cpp src/llama-quant.cpp, llama_tensor_get_type, "using fallback quantization"):
//   Q2_K, Q3_K -> IQ4_NL in llama.cpp; here Q4_0 (same 32-value block and 4.5 bits per weight; IQ4_NL is not
//     a type the engine multiplies), Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0,
//   and F16 when that still does not fit. For the 32-value formats (Q4_0..Q8_0) llama.cpp has no table
//   entry and stops ("Unsupported tensor size encountered"); here they go to F16 (the type llama-quantize
//   stores for such rows in every run that worked, see shared/models/stories260K-gguf/quantized/SOURCE.md).
// Every fallback is recorded in the plan with its reason.

import type { ModelSpec } from '../model/spec.ts';
import type { Intervention } from '../model/taps.ts';
import { expectedTensors } from '../formats/common.ts';
import { GGMLType, TYPE_INFO } from '../quant/types.ts';

export const ALLOCATION_SCHEMA = 'layerlab.allocation/1';

export const GGUF_FORMATS = ['F32', 'F16', 'Q8_0', 'Q6_K', 'Q5_0', 'Q5_1', 'Q4_0', 'Q4_1', 'Q4_K', 'Q3_K', 'Q2_K'] as const;
export type GgufFormatName = (typeof GGUF_FORMATS)[number];
export const PLAIN_BITS = [2, 3, 4, 5, 6, 7, 8] as const;
export const PLAIN_GROUPS = [32, 64, 128] as const;
export const KV_BITS = [2, 3, 4, 5, 6, 8, 16] as const;
export const DROP_KINDS = ['block', 'attn', 'mlp'] as const;
export type DropKind = (typeof DROP_KINDS)[number];
export const SPARSITY_METHODS = ['magnitude', 'wanda', '2:4'] as const;
export type SparsityMethod = (typeof SPARSITY_METHODS)[number];

export type WeightFormat =
  | { kind: 'gguf'; name: GgufFormatName; type: GGMLType }
  | { kind: 'plain'; bits: number; group: number; symmetric: boolean };

export interface SparsitySpec {
  method: SparsityMethod;
  /** Share of weights set to zero: [0, 1) for magnitude / wanda; 0.5 for 2:4. */
  ratio: number;
}

export interface TensorEntry {
  format?: string;
  rank?: number;
  sparsity?: { method: SparsityMethod; ratio?: number };
}

export interface LayerEntry {
  drop?: DropKind;
  format?: string;
  kvBits?: { k: number; v: number };
}

export interface Allocation {
  schema: typeof ALLOCATION_SCHEMA;
  model: { name: string; arch: string; nLayers: number; tensors?: string };
  strategy?: Record<string, unknown>;
  layers?: Record<string, LayerEntry>;
  tensors?: Record<string, TensorEntry>;
}

export type AllocationErrorCode =
  | 'not-object' | 'schema' | 'type' | 'unknown-field' | 'model-mismatch' | 'unknown-layer' | 'unknown-tensor'
  | 'bad-format' | 'bad-rank' | 'bad-sparsity' | 'bad-kv-bits' | 'bad-drop' | 'conflict';

export interface AllocationError {
  /** JSON path of the offending field, e.g. "layers.7" or "tensors.blk.0.attn_q.format". */
  path: string;
  code: AllocationErrorCode;
  message: string;
  /** What would have been accepted. */
  allowed?: string;
}

/** One 2-D weight after resolution: what is requested, what will be stored, and why if they differ. */
export interface PlannedTensor {
  name: string;
  /** [rows, cols] (row-major, cols = row length). */
  shape: [number, number];
  /** Requested format string (null: unchanged). */
  requested: string | null;
  /** Format actually applied (null: unchanged). */
  format: WeightFormat | null;
  fallback?: { from: string; to: string; reason: string };
  rank?: number;
  sparsity?: SparsitySpec;
  /** Where the entry came from: a tensor entry or the block's layer entry. */
  source: 'tensor' | 'layer' | null;
  /** True when the tensor belongs to a dropped block / sublayer (it is still edited, but never runs). */
  dropped: boolean;
}

export interface AllocationPlan {
  tensors: PlannedTensor[];
  /** Structural drops as forward interventions (model/taps.ts). */
  interventions: Intervention[];
  kvBits: { layer: number; k: number; v: number }[];
  fallbacks: { name: string; from: string; to: string; reason: string }[];
}

export type ValidationResult =
  | { ok: true; allocation: Allocation; plan: AllocationPlan | null; errors: [] }
  | { ok: false; errors: AllocationError[] };

/** Format name as written in the JSON: "Q4_K" or "int4-g64-asym". */
export function formatName(f: WeightFormat): string {
  return f.kind === 'gguf' ? f.name : `int${f.bits}-g${f.group}-${f.symmetric ? 'sym' : 'asym'}`;
}

const FORMATS_ALLOWED = `${GGUF_FORMATS.join(', ')} or int<N>-g<G>-<sym|asym> with N in ${PLAIN_BITS[0]}..${PLAIN_BITS[PLAIN_BITS.length - 1]} and G in ${PLAIN_GROUPS.join('/')}`;

/** Parses a weight format string; null when it is not one (see FORMATS_ALLOWED). */
export function parseWeightFormat(s: string): WeightFormat | null {
  const up = s.trim().toUpperCase();
  const g = (GGUF_FORMATS as readonly string[]).indexOf(up);
  if (g >= 0) {
    const name = GGUF_FORMATS[g];
    return { kind: 'gguf', name, type: GGMLType[name] };
  }
  const m = /^int(\d+)-g(\d+)-(sym|asym)$/.exec(s.trim().toLowerCase());
  if (!m) return null;
  const bits = Number(m[1]);
  const group = Number(m[2]);
  if (!(PLAIN_BITS as readonly number[]).includes(bits) || !(PLAIN_GROUPS as readonly number[]).includes(group)) return null;
  return { kind: 'plain', bits, group, symmetric: m[3] === 'sym' };
}

/** Storage bits per weight of a format: GGUF block geometry; plain intN: N plus an f16 scale (and an f16
 * zero point when asymmetric) per group of G values. */
export function formatBitsPerWeight(f: WeightFormat): number {
  if (f.kind === 'gguf') {
    const info = TYPE_INFO[f.type]!;
    return (info.typeSize * 8) / info.blockSize;
  }
  return f.bits + (f.symmetric ? 16 : 32) / f.group;
}

const FALLBACK: Partial<Record<GgufFormatName, GgufFormatName>> = { Q2_K: 'Q4_0', Q3_K: 'Q4_0', Q4_K: 'Q5_0', Q6_K: 'Q8_0' };

/**
 * The GGUF format a tensor with rows of `cols` values gets when `requested` is asked for, and the reason
 * when that is not `requested` (see the file comment for the table).
 */
export function resolveGgufFormat(requested: GgufFormatName, cols: number): { name: GgufFormatName; reason?: string } {
  const fits = (n: GgufFormatName): boolean => cols % TYPE_INFO[GGMLType[n]]!.blockSize === 0;
  if (fits(requested)) return { name: requested };
  const bs = TYPE_INFO[GGMLType[requested]]!.blockSize;
  const why = `row length ${cols} is not a multiple of the ${requested} block size ${bs}`;
  const next = FALLBACK[requested];
  if (next && fits(next)) {
    const note = requested === 'Q2_K' || requested === 'Q3_K' ? ' (llama-quantize: IQ4_NL; Q4_0 here, same block and bits, an engine type)' : ' (llama-quantize\'s fallback)';
    return { name: next, reason: `${why}; ${next}${note}` };
  }
  const tried = next ? `, nor of the ${next} block size ${TYPE_INFO[GGMLType[next]]!.blockSize}` : '';
  return { name: 'F16', reason: `${why}${tried}; F16 (llama-quantize's last resort)` };
}

/** FNV-1a (32-bit) over "name:type:shape;" of every tensor in order: a cheap identity check. */
export function tensorsFingerprint(tensors: Iterable<{ name: string; type: number; shape: readonly number[] }>): string {
  let h = 0x811c9dc5;
  for (const t of tensors) {
    const s = `${t.name}:${t.type}:${t.shape.join('x')};`;
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
  }
  return `fnv1a:${h.toString(16).padStart(8, '0')}`;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v === 'object' ? 'an object' : String(v));

/** Block index of a canonical block tensor name ("blk.3.attn_q" -> 3), else null. */
export function blockOf(name: string): number | null {
  const m = /^blk\.(\d+)\./.exec(name);
  return m ? Number(m[1]) : null;
}

/** Which sublayer a block tensor belongs to. */
export function sublayerOf(name: string): 'attn' | 'mlp' | null {
  if (/^blk\.\d+\.(attn_q|attn_k|attn_v|attn_qkv|attn_output|attn_norm)(\.bias)?$/.test(name)) return 'attn';
  if (/^blk\.\d+\.(ffn_gate|ffn_up|ffn_down|ffn_norm)(\.bias)?$/.test(name)) return 'mlp';
  return null;
}

/** The 2-D weights an allocation may name: every matrix of expectedTensors(spec) (embeddings included). */
export function allocatableTensors(spec: ModelSpec): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  for (const [name, shape] of expectedTensors(spec)) {
    if (shape.length === 2 && name !== 'position_embd') out.set(name, [shape[0], shape[1]]);
  }
  return out;
}

/**
 * Checks `json` field by field; with a spec also checks layer indices and tensor names against the model
 * and resolves the plan (formats with fallbacks, drops as interventions, KV bits). Every error names its
 * path and what is allowed; all errors are collected, not only the first.
 */
export function validateAllocation(json: unknown, spec?: ModelSpec): ValidationResult {
  const errors: AllocationError[] = [];
  const err = (path: string, code: AllocationErrorCode, message: string, allowed?: string): void => {
    errors.push(allowed === undefined ? { path, code, message } : { path, code, message, allowed });
  };
  if (!isObj(json)) return { ok: false, errors: [{ path: '', code: 'not-object', message: `an allocation is a JSON object, got ${show(json)}` }] };
  for (const k of Object.keys(json)) {
    if (!['schema', 'model', 'strategy', 'layers', 'tensors'].includes(k)) err(k, 'unknown-field', `unknown field "${k}"`, 'schema, model, strategy, layers, tensors');
  }
  if (json.schema !== ALLOCATION_SCHEMA) err('schema', 'schema', `schema is ${show(json.schema)}, this reader knows "${ALLOCATION_SCHEMA}"`, JSON.stringify(ALLOCATION_SCHEMA));
  const model = json.model;
  let nLayers = spec?.nLayers ?? Infinity;
  if (!isObj(model)) err('model', 'type', `model must be an object {name, arch, nLayers}, got ${show(model)}`);
  else {
    if (typeof model.name !== 'string') err('model.name', 'type', `model.name must be a string, got ${show(model.name)}`);
    if (typeof model.arch !== 'string') err('model.arch', 'type', `model.arch must be a string, got ${show(model.arch)}`);
    if (!Number.isInteger(model.nLayers) || (model.nLayers as number) < 1) err('model.nLayers', 'type', `model.nLayers must be a positive integer, got ${show(model.nLayers)}`);
    else if (spec && model.nLayers !== spec.nLayers) err('model.nLayers', 'model-mismatch', `the allocation is for ${String(model.nLayers)} layers, the model has ${spec.nLayers}`, String(spec.nLayers));
    else if (!spec) nLayers = model.nLayers as number;
    if (spec && typeof model.arch === 'string' && model.arch !== spec.arch) err('model.arch', 'model-mismatch', `the allocation is for arch "${model.arch}", the model is "${spec.arch}"`, JSON.stringify(spec.arch));
    if (model.tensors !== undefined && typeof model.tensors !== 'string') err('model.tensors', 'type', `model.tensors (fingerprint) must be a string, got ${show(model.tensors)}`);
  }
  if (json.strategy !== undefined && !isObj(json.strategy)) err('strategy', 'type', `strategy must be an object, got ${show(json.strategy)}`);

  const shapes = spec ? allocatableTensors(spec) : null;
  const layerFormats = new Map<number, WeightFormat>();
  const drops = new Map<number, DropKind>();
  const kv: AllocationPlan['kvBits'] = [];
  const checkFormat = (path: string, v: unknown): WeightFormat | null => {
    if (typeof v !== 'string') { err(path, 'type', `format must be a string, got ${show(v)}`, FORMATS_ALLOWED); return null; }
    const f = parseWeightFormat(v);
    if (!f) err(path, 'bad-format', `unknown weight format ${show(v)}`, FORMATS_ALLOWED);
    return f;
  };

  if (json.layers !== undefined) {
    if (!isObj(json.layers)) err('layers', 'type', `layers must be an object keyed by block index, got ${show(json.layers)}`);
    else {
      for (const [key, entry] of Object.entries(json.layers)) {
        const p = `layers.${key}`;
        const l = /^(0|[1-9]\d*)$/.test(key) ? Number(key) : NaN;
        const range = Number.isFinite(nLayers) ? `0..${nLayers - 1}` : 'a block index';
        if (!(l >= 0 && l < nLayers)) { err(p, 'unknown-layer', `layer key "${key}" is not a block of this model`, range); continue; }
        if (!isObj(entry)) { err(p, 'type', `a layer entry is an object {drop?, format?, kvBits?}, got ${show(entry)}`); continue; }
        for (const k of Object.keys(entry)) if (!['drop', 'format', 'kvBits'].includes(k)) err(`${p}.${k}`, 'unknown-field', `unknown layer field "${k}"`, 'drop, format, kvBits');
        if (entry.drop !== undefined) {
          if (!(DROP_KINDS as readonly unknown[]).includes(entry.drop)) err(`${p}.drop`, 'bad-drop', `drop is ${show(entry.drop)}`, DROP_KINDS.join(', '));
          else drops.set(l, entry.drop as DropKind);
        }
        if (entry.format !== undefined) {
          const f = checkFormat(`${p}.format`, entry.format);
          if (f) layerFormats.set(l, f);
        }
        if (entry.kvBits !== undefined) {
          const kb = entry.kvBits;
          if (!isObj(kb)) err(`${p}.kvBits`, 'type', `kvBits must be {k, v}, got ${show(kb)}`);
          else {
            let good = true;
            for (const which of ['k', 'v'] as const) {
              if (!(KV_BITS as readonly unknown[]).includes(kb[which])) { good = false; err(`${p}.kvBits.${which}`, 'bad-kv-bits', `${which.toUpperCase()} cache bits ${show(kb[which])}`, KV_BITS.join(', ')); }
            }
            for (const k of Object.keys(kb)) if (k !== 'k' && k !== 'v') { good = false; err(`${p}.kvBits.${k}`, 'unknown-field', `unknown kvBits field "${k}"`, 'k, v'); }
            if (good) {
              if (drops.get(l) === 'block' || drops.get(l) === 'attn') err(`${p}.kvBits`, 'conflict', `layer ${l} drops its attention, so it has no K/V cache to quantize`);
              else kv.push({ layer: l, k: kb.k as number, v: kb.v as number });
            }
          }
        }
      }
    }
  }

  const tensorEntries = new Map<string, { format: WeightFormat | null; formatText: string | null; rank?: number; sparsity?: SparsitySpec }>();
  if (json.tensors !== undefined) {
    if (!isObj(json.tensors)) err('tensors', 'type', `tensors must be an object keyed by canonical tensor name, got ${show(json.tensors)}`);
    else {
      for (const [name, entry] of Object.entries(json.tensors)) {
        const p = `tensors.${name}`;
        const b = blockOf(name);
        if (b !== null && b >= nLayers) { err(p, 'unknown-layer', `tensor "${name}" names block ${b}`, `blocks 0..${nLayers - 1}`); continue; }
        const shape = shapes?.get(name);
        if (shapes && !shape) {
          const sample = [...shapes.keys()].filter((n) => blockOf(n) === null || blockOf(n) === 0);
          err(p, 'unknown-tensor', `the model has no 2-D weight "${name}"`, `${sample.join(', ')} (and the same for blocks 1..${nLayers - 1})`);
          continue;
        }
        if (!shapes && !/^(token_embd|output|blk\.\d+\.(attn_q|attn_k|attn_v|attn_qkv|attn_output|ffn_gate|ffn_up|ffn_down))$/.test(name)) {
          err(p, 'unknown-tensor', `"${name}" is not a canonical weight matrix name`, 'token_embd, output, blk.N.attn_q|attn_k|attn_v|attn_qkv|attn_output|ffn_gate|ffn_up|ffn_down');
          continue;
        }
        if (!isObj(entry)) { err(p, 'type', `a tensor entry is an object {format?, rank?, sparsity?}, got ${show(entry)}`); continue; }
        for (const k of Object.keys(entry)) if (!['format', 'rank', 'sparsity'].includes(k)) err(`${p}.${k}`, 'unknown-field', `unknown tensor field "${k}"`, 'format, rank, sparsity');
        const te: { format: WeightFormat | null; formatText: string | null; rank?: number; sparsity?: SparsitySpec } = { format: null, formatText: null };
        if (entry.format !== undefined) {
          te.format = checkFormat(`${p}.format`, entry.format);
          te.formatText = typeof entry.format === 'string' ? entry.format : null;
        }
        if (entry.rank !== undefined) {
          const maxRank = shape ? Math.min(shape[0], shape[1]) : Infinity;
          if (!Number.isInteger(entry.rank) || (entry.rank as number) < 1 || (entry.rank as number) > maxRank) {
            err(`${p}.rank`, 'bad-rank', `rank ${show(entry.rank)}`, shape ? `an integer 1..${maxRank} (min of ${shape[0]}x${shape[1]})` : 'a positive integer');
          } else te.rank = entry.rank as number;
        }
        if (entry.sparsity !== undefined) {
          const s = entry.sparsity;
          if (!isObj(s)) err(`${p}.sparsity`, 'type', `sparsity must be {method, ratio}, got ${show(s)}`);
          else if (!(SPARSITY_METHODS as readonly unknown[]).includes(s.method)) err(`${p}.sparsity.method`, 'bad-sparsity', `sparsity method ${show(s.method)}`, SPARSITY_METHODS.join(', '));
          else if (s.method === '2:4') {
            if (s.ratio !== undefined && s.ratio !== 0.5) err(`${p}.sparsity.ratio`, 'bad-sparsity', `2:4 sparsity has ratio 0.5, got ${show(s.ratio)}`, '0.5 or absent');
            else if (shape && shape[1] % 4 !== 0) err(`${p}.sparsity`, 'bad-sparsity', `2:4 sparsity needs rows that are a multiple of 4, "${name}" rows hold ${shape[1]}`, 'magnitude or wanda');
            else te.sparsity = { method: '2:4', ratio: 0.5 };
          } else if (typeof s.ratio !== 'number' || !(s.ratio >= 0 && s.ratio < 1)) {
            err(`${p}.sparsity.ratio`, 'bad-sparsity', `sparsity ratio ${show(s.ratio)}`, 'a number in [0, 1)');
          } else te.sparsity = { method: s.method as SparsityMethod, ratio: s.ratio };
        }
        tensorEntries.set(name, te);
      }
    }
  }
  if (errors.length) return { ok: false, errors };
  const allocation = json as unknown as Allocation;
  if (!shapes) return { ok: true, allocation, plan: null, errors: [] };

  // Resolve the plan.
  const plan: AllocationPlan = { tensors: [], interventions: [], kvBits: kv.sort((a, b) => a.layer - b.layer), fallbacks: [] };
  for (const [l, d] of [...drops].sort((a, b) => a[0] - b[0])) plan.interventions.push({ kind: d === 'block' ? 'skip-block' : d === 'attn' ? 'skip-attn' : 'skip-mlp', layer: l });
  for (const [name, shape] of shapes) {
    const b = blockOf(name);
    const te = tensorEntries.get(name);
    const lf = b !== null ? layerFormats.get(b) : undefined;
    let fmt: WeightFormat | null = te?.format ?? lf ?? null;
    const source: PlannedTensor['source'] = te?.format ? 'tensor' : lf ? 'layer' : te ? 'tensor' : null;
    const requested = fmt ? formatName(fmt) : null;
    let fallback: PlannedTensor['fallback'];
    if (fmt?.kind === 'gguf') {
      const r = resolveGgufFormat(fmt.name, shape[1]);
      if (r.reason) {
        fallback = { from: fmt.name, to: r.name, reason: r.reason };
        plan.fallbacks.push({ name, ...fallback });
        fmt = { kind: 'gguf', name: r.name, type: GGMLType[r.name] };
      }
    }
    const d = b !== null ? drops.get(b) : undefined;
    const dropped = d === 'block' || (d !== undefined && d === sublayerOf(name));
    if (!fmt && !te?.rank && !te?.sparsity && !dropped) continue;
    const pt: PlannedTensor = { name, shape, requested, format: fmt, source, dropped };
    if (fallback) pt.fallback = fallback;
    if (te?.rank) pt.rank = te.rank;
    if (te?.sparsity) pt.sparsity = te.sparsity;
    plan.tensors.push(pt);
  }
  return { ok: true, allocation, plan, errors: [] };
}

/** validateAllocation that throws one error listing every problem (for callers that cannot go on). */
export function parseAllocation(json: unknown, spec?: ModelSpec): { allocation: Allocation; plan: AllocationPlan | null } {
  const r = validateAllocation(json, spec);
  if (!r.ok) throw new Error(`invalid allocation:\n${r.errors.map((e) => `  ${e.path || '(root)'}: ${e.message}${e.allowed ? ` (allowed: ${e.allowed})` : ''}`).join('\n')}`);
  return { allocation: r.allocation, plan: r.plan };
}

/** An empty allocation for a model (the starting point of every strategy). */
export function emptyAllocation(spec: ModelSpec, strategy?: Record<string, unknown>): Allocation {
  const a: Allocation = { schema: ALLOCATION_SCHEMA, model: { name: spec.name, arch: spec.arch, nLayers: spec.nLayers } };
  if (strategy) a.strategy = strategy;
  return a;
}
