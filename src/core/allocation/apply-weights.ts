// Applies an allocation's weight edits on the CPU and returns the modified model: a LoadedModel whose
// tensors carry their new stored types (GGUF formats as packed blocks, written by ggml's reference
// quantizer in src/core/quant/quantize.ts, so the GPU backend multiplies the packed bytes directly), plus
// the structural drops as forward interventions and a size report measured on the actual tensors.
//
// Per tensor, in this order (schema.ts):
//   1. rank r: W_r = U_r diag(s_r) V_r^T from the SVD of W (src/core/metrics/linalg.ts, float64);
//      Eckart-Young: the best rank-r approximation in Frobenius norm. A block weight with a rank and no
//      sparsity or format keeps its two factors A = U_r diag(s_r) [rows, r] and B = V_r^T [r, cols] (f32,
//      the tensor's `lowRank` field, core/model/forward.ts): both forwards run y = A (B x) as two matmuls,
//      the GPU keeps only A and B resident and the size report counts (rows + cols) * r * 4 bytes. The
//      tensor's `data` holds the dense product A B (exporters write it: GGUF has no factor form). With a
//      mask or a format (or on token_embd / output) the dense product is edited further as below.
//   2. sparsity mask, ratio p:
//      magnitude: the floor(p * rows * cols) smallest |w| of the whole matrix are zeroed (Han et al. 2015,
//        "Learning both Weights and Connections", arXiv 1506.02626; layer-wise, as Wanda's baseline);
//      wanda: per output row, the floor(p * cols) smallest |w_ij| * ||x_j|| are zeroed, x_j the input
//        feature norms over calibration tokens (Sun et al. 2023, "A Simple and Effective Pruning Approach
//        for LLMs", arXiv 2306.11695, Eq. 1 and per-output comparison groups); without norms ||x_j|| = 1
//        (per-row magnitude), noted in the report;
//      2:4: in every 4 consecutive inputs of a row the 2 with the smallest score are zeroed (score |w|, or
//        the Wanda score with norms) (Mishra et al. 2021, "Accelerating Sparse Deep Neural Networks",
//        arXiv 2104.08378). Ties keep the lower index.
//   3. format: GGUF type -> quantize() packed bytes (F16 / F32 as plain elements); plain intN -> the
//      dequantized values stored as F32 (no packed kernel exists for them; the report says so):
//      symmetric = absmax per group (src/core/quant/plain.ts), asymmetric = min/max per group:
//        scale = (max - min) / (2^N - 1), zero = round(-min / scale), q = clamp(round(w / scale) + zero,
//        0, 2^N - 1), w~ = (q - zero) * scale   (the min-max affine scheme of Jacob et al. 2018,
//        arXiv 1712.05877 §2.1, per group).
//   A tensor with a rank or a mask but no format is stored as F32.
// Bits per weight and resident bytes are counted from the resulting tensors' bytes (the factors' bytes for
// a low-rank tensor). The allocation's K/V cache bits ride on the returned model (ModelWithKvBits.kvBits):
// both forwards quantize K and V as they are written to the cache (core/ops/kv-quant.ts).

import type { LoadedModel, WeightTensor } from '../formats/types.ts';
import type { Intervention } from '../model/taps.ts';
import { tensorToF32 } from '../model/weights.ts';
import { lowRankOf, type LowRankTensor, type ModelWithKvBits, type KvBits } from '../model/forward.ts';
import { kvRowBits } from '../ops/kv-quant.ts';
import { svd } from '../metrics/linalg.ts';
import { quantize } from '../quant/quantize.ts';
import { fakeQuantizePlain, roundHalfAwayFromZero } from '../quant/plain.ts';
import { GGMLType, typeName } from '../quant/types.ts';
import { formatName, parseAllocation, tensorsFingerprint, type AllocationPlan, type PlannedTensor, type SparsitySpec, type WeightFormat } from './schema.ts';

export interface ApplyOptions {
  /** Input feature norms ||x_j|| (length cols) per tensor name, for Wanda scores. */
  inputNorms?: Record<string, ArrayLike<number>>;
}

export interface TensorReport {
  name: string;
  shape: number[];
  /** Stored type name after the edit. */
  type: string;
  bytes: number;
  bitsPerWeight: number;
  /** What was done, in words (format, fallback, rank, mask, "stored as F32 after dequantization", ...). */
  notes: string[];
}

export interface SizeReport {
  /** Sum of the stored bytes of every tensor (what is resident), before and after. */
  residentBytes: number;
  baseResidentBytes: number;
  /** Stored bits / values over every tensor. */
  bitsPerWeight: number;
  /** The same over the 2-D weight matrices only (embeddings included). */
  matrixBitsPerWeight: number;
  matrixParams: number;
  /** Bytes of tensors in dropped blocks / sublayers (still resident; a pruned export removes them). */
  droppedBytes: number;
  /**
   * K/V cache bits per token position over all layers if stored packed at the allocation's bits (b per value
   * plus an f16 scale and minimum per group, core/ops/kv-quant.ts kvRowBits; 16 bits per value unquantized,
   * the f16 cache of llama.cpp; a layer whose attention is dropped has no cache), and the same for the
   * original model. The engine itself keeps f32 caches holding the dequantized values.
   */
  kvCacheBitsPerToken: number;
  baseKvCacheBitsPerToken: number;
}

export interface AppliedAllocation {
  model: LoadedModel;
  plan: AllocationPlan;
  interventions: Intervention[];
  tensors: TensorReport[];
  size: SizeReport;
}

const numel = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/** Rank-r approximation U_r diag(s_r) V_r^T of a [rows, cols] matrix, float32. */
export function lowRank(w: ArrayLike<number>, rows: number, cols: number, r: number): Float32Array {
  const d = svd(w, rows, cols, { vectors: true });
  const u = d.u!;
  const v = d.v!;
  const k = d.k;
  const rr = Math.min(r, k);
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      let acc = 0;
      for (let t = 0; t < rr; t++) acc += u[i * k + t] * d.s[t] * v[j * k + t];
      out[i * cols + j] = acc;
    }
  }
  return out;
}

/**
 * The rank-r factors of a [rows, cols] matrix: A = U_r diag(s_r) [rows, r], B = V_r^T [r, cols] (f32), and
 * their product A B in f32 (the product of the stored f32 factors, accumulated in float64).
 */
export function lowRankFactors(w: ArrayLike<number>, rows: number, cols: number, r: number): { a: Float32Array; b: Float32Array; rank: number; product: Float32Array } {
  const d = svd(w, rows, cols, { vectors: true });
  const k = d.k;
  const rr = Math.min(r, k);
  const a = new Float32Array(rows * rr);
  const b = new Float32Array(rr * cols);
  for (let i = 0; i < rows; i++) for (let t = 0; t < rr; t++) a[i * rr + t] = d.u![i * k + t] * d.s[t];
  for (let t = 0; t < rr; t++) for (let j = 0; j < cols; j++) b[t * cols + j] = d.v![j * k + t];
  const product = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      let acc = 0;
      for (let t = 0; t < rr; t++) acc += a[i * rr + t] * b[t * cols + j];
      product[i * cols + j] = acc;
    }
  }
  return { a, b, rank: rr, product };
}

/** Asymmetric (min/max) b-bit fake quantization with one scale and zero point per group of a row. */
export function fakeQuantizeAsym(w: ArrayLike<number>, rows: number, cols: number, bits: number, group: number): Float32Array {
  const levels = 2 ** bits - 1;
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let g0 = 0; g0 < cols; g0 += group) {
      const from = r * cols + g0;
      const to = r * cols + Math.min(cols, g0 + group);
      let mn = Infinity;
      let mx = -Infinity;
      for (let i = from; i < to; i++) { mn = Math.min(mn, w[i]); mx = Math.max(mx, w[i]); }
      const scale = Math.fround((mx - mn) / levels);
      if (scale === 0) { for (let i = from; i < to; i++) out[i] = w[i]; continue; } // constant group: exact
      const zero = Math.max(0, Math.min(levels, roundHalfAwayFromZero(-mn / scale)));
      for (let i = from; i < to; i++) {
        const q = Math.max(0, Math.min(levels, roundHalfAwayFromZero(w[i] / scale) + zero));
        out[i] = (q - zero) * scale;
      }
    }
  }
  return out;
}

/** Sorts indices by (score, index) ascending: deterministic ties. */
function ascending(idx: number[], score: (i: number) => number): number[] {
  return idx.sort((a, b) => score(a) - score(b) || a - b);
}

/** Applies a sparsity mask in place (see the file comment); returns the number of zeroed entries. */
export function applySparsity(w: Float32Array, rows: number, cols: number, s: SparsitySpec, norms?: ArrayLike<number>): number {
  if (norms && norms.length !== cols) throw new Error(`sparsity: ${norms.length} input norms for rows of ${cols}`);
  const score = (i: number): number => Math.abs(w[i]) * (norms ? norms[i % cols] : 1);
  let zeroed = 0;
  if (s.method === 'magnitude') {
    const k = Math.floor(s.ratio * rows * cols);
    const order = ascending(Array.from({ length: rows * cols }, (_, i) => i), (i) => Math.abs(w[i]));
    for (let t = 0; t < k; t++) w[order[t]] = 0;
    return k;
  }
  if (s.method === 'wanda') {
    const k = Math.floor(s.ratio * cols);
    for (let r = 0; r < rows; r++) {
      const order = ascending(Array.from({ length: cols }, (_, j) => r * cols + j), score);
      for (let t = 0; t < k; t++) w[order[t]] = 0;
      zeroed += k;
    }
    return zeroed;
  }
  if (cols % 4 !== 0) throw new Error(`2:4 sparsity needs rows that are a multiple of 4, got ${cols}`);
  for (let g = 0; g < rows * cols; g += 4) {
    const order = ascending([g, g + 1, g + 2, g + 3], score);
    w[order[0]] = 0;
    w[order[1]] = 0;
    zeroed += 2;
  }
  return zeroed;
}

function f32Tensor(name: string, shape: number[], values: Float32Array): WeightTensor {
  return { name, type: GGMLType.F32, shape: shape.slice(), data: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) };
}

/** The edited tensor for one planned entry. */
export function applyToTensor(t: WeightTensor, pt: PlannedTensor, norms?: ArrayLike<number>): { tensor: WeightTensor; notes: string[] } {
  const [rows, cols] = pt.shape;
  const notes: string[] = [];
  let values: Float32Array | null = null;
  const current = (): Float32Array => values ?? (values = Float32Array.from(tensorToF32(t)));
  if (pt.rank !== undefined && !pt.sparsity && !pt.format && /^blk\.\d+\./.test(t.name)) {
    const f = lowRankFactors(current(), rows, cols, pt.rank);
    const r = f.rank;
    const tensor: LowRankTensor = {
      ...f32Tensor(t.name, t.shape, f.product),
      lowRank: { rank: r, a: f32Tensor(`${t.name}.lr_a`, [rows, r], f.a), b: f32Tensor(`${t.name}.lr_b`, [r, cols], f.b) },
    };
    notes.push(`rank ${pt.rank} of ${Math.min(rows, cols)}: factors A [${rows}, ${r}] and B [${r}, ${cols}] in F32, run as two matmuls`);
    return { tensor, notes };
  }
  if (pt.rank !== undefined) {
    values = lowRank(current(), rows, cols, pt.rank);
    notes.push(`rank ${pt.rank} of ${Math.min(rows, cols)} (U_r S_r V_r^T stored dense${pt.sparsity || pt.format ? ', then masked / formatted' : ''})`);
  }
  if (pt.sparsity) {
    const n = applySparsity(current(), rows, cols, pt.sparsity, pt.sparsity.method === 'magnitude' ? undefined : norms);
    const byNorm = pt.sparsity.method !== 'magnitude' ? (norms ? ' (Wanda scores with input norms)' : pt.sparsity.method === 'wanda' ? ' (no input norms given: per-row magnitude)' : ' (by magnitude)') : '';
    notes.push(`sparsity ${pt.sparsity.method} ${n}/${rows * cols} zeroed${byNorm}`);
  }
  if (pt.fallback) notes.push(`fallback ${pt.fallback.from} -> ${pt.fallback.to}: ${pt.fallback.reason}`);
  const f: WeightFormat | null = pt.format;
  if (!f) {
    if (values) return { tensor: f32Tensor(t.name, t.shape, values), notes: [...notes, 'stored as F32'] };
    return { tensor: t, notes };
  }
  if (f.kind === 'gguf') {
    const q = quantize(f.type, current());
    notes.push(`${f.name} packed`);
    return { tensor: { name: t.name, type: f.type, shape: t.shape.slice(), data: q }, notes };
  }
  const deq = f.symmetric ? fakeQuantizePlain(current(), rows, cols, f.bits, f.group) : fakeQuantizeAsym(current(), rows, cols, f.bits, f.group);
  notes.push(`${formatName(f)} quantized, stored as F32 after dequantization (no packed intN kernel)`);
  return { tensor: f32Tensor(t.name, t.shape, deq), notes };
}

/**
 * Validates `allocation` against the model and applies its weight edits. Throws with every validation
 * error listed, or when the allocation's tensor fingerprint does not match the model.
 */
export function applyAllocation(model: LoadedModel, allocation: unknown, opts: ApplyOptions = {}): AppliedAllocation {
  const { allocation: a, plan } = parseAllocation(allocation, model.spec);
  if (!plan) throw new Error('applyAllocation: no plan (internal)');
  if (a.model.tensors !== undefined) {
    const fp = tensorsFingerprint(model.tensors.values());
    if (fp !== a.model.tensors) throw new Error(`the allocation was made for tensors ${a.model.tensors}, this model's are ${fp}`);
  }
  const tensors = new Map(model.tensors);
  const notesBy = new Map<string, string[]>();
  for (const pt of plan.tensors) {
    const t = model.tensors.get(pt.name);
    if (!t) throw new Error(`the model has no tensor ${pt.name}`);
    const { tensor, notes } = applyToTensor(t, pt, opts.inputNorms?.[pt.name]);
    if (pt.dropped) notes.push('in a dropped part (never runs)');
    tensors.set(pt.name, tensor);
    notesBy.set(pt.name, notes);
  }
  const out: ModelWithKvBits = { ...model, tensors };
  if (plan.kvBits.length) {
    const kv: Record<number, KvBits> = {};
    for (const k of plan.kvBits) kv[k.layer] = { k: k.k, v: k.v };
    out.kvBits = kv;
  } else delete out.kvBits;
  const reports: TensorReport[] = [];
  let bytes = 0, values = 0, mBytes = 0, mValues = 0, baseBytes = 0, droppedBytes = 0;
  const droppedNames = new Set(plan.tensors.filter((p) => p.dropped).map((p) => p.name));
  const drop = new Map(plan.interventions.map((iv) => [iv.layer, iv.kind]));
  for (const t of model.tensors.values()) baseBytes += t.data.byteLength;
  for (const t of tensors.values()) {
    const n = numel(t.shape);
    const lr = lowRankOf(t);
    const tb = lr ? lr.a.data.byteLength + lr.b.data.byteLength : t.data.byteLength;
    bytes += tb;
    values += n;
    if (t.shape.length === 2) { mBytes += tb; mValues += n; }
    const m = /^blk\.(\d+)\./.exec(t.name);
    const k = m ? drop.get(Number(m[1])) : undefined;
    const inDropped = droppedNames.has(t.name) || k === 'skip-block' ||
      (k === 'skip-attn' && /\.attn_/.test(t.name)) || (k === 'skip-mlp' && /\.ffn_/.test(t.name));
    if (inDropped) droppedBytes += tb;
    reports.push({ name: t.name, shape: t.shape.slice(), type: lr ? `${typeName(t.type)} rank-${lr.rank} factors` : typeName(t.type), bytes: tb, bitsPerWeight: (tb * 8) / n, notes: notesBy.get(t.name) ?? [] });
  }
  const sp = model.spec;
  const kvOf = new Map(plan.kvBits.map((k) => [k.layer, k]));
  let kvBits = 0;
  for (let l = 0; l < sp.nLayers; l++) {
    const k = drop.get(l);
    if (k === 'skip-block' || k === 'skip-attn') continue;
    const b = kvOf.get(l) ?? { k: 16, v: 16 };
    kvBits += kvRowBits(sp.nKvHeads, sp.headDim, b.k) + kvRowBits(sp.nKvHeads, sp.headDim, b.v);
  }
  return {
    model: out,
    plan,
    interventions: plan.interventions.slice(),
    tensors: reports,
    size: { residentBytes: bytes, baseResidentBytes: baseBytes, bitsPerWeight: (bytes * 8) / values, matrixBitsPerWeight: (mBytes * 8) / mValues, matrixParams: mValues, droppedBytes, kvCacheBitsPerToken: kvBits, baseKvCacheBitsPerToken: 2 * sp.nLayers * sp.nKvHeads * sp.headDim * 16 },
  };
}
