// ONNX export of a loaded model: LoadedModel (Llama family incl. GQA, Qwen2 QKV biases, both RoPE
// layouts, and GPT-2) -> ONNX ModelProto, opset 17, standard ops only (plus com.microsoft MatMulNBits
// when 4-bit weights are asked for). It writes the same math as the CPU reference forward
// (src/core/model/forward.ts):
//
//   input  input_ids int64 [1, T]              (T symbolic; the graph runs the whole sequence at once)
//   x      = Gather(token_embd, ids) (+ Slice(position_embd, 0..T) for GPT-2)          [T, C]
//   block l: h = norm(x); q, k, v = h W^T (+ b); RoPE(q, k); attention (GQA, causal); x += o Wo^T
//            h = norm(x); x += mlp(h)
//   logits = norm(x) W_out^T  ->  output logits float [1, T, V]
//
// By default there are no KV-cache inputs (past_key_values): every call runs the full sequence, so
// generating n tokens re-runs the prefix n times. With kvCache the graph takes past_key.<l> /
// past_value.<l> [Hkv, P, D] and returns present_key.<l> / present_value.<l> [Hkv, P + T, D] (no batch
// axis; P = 0 on the first call), so a decoder feeds the presents back one token at a time (ort-run.ts
// openOrtDecoder keeps them on the GPU with the WebGPU EP). The residual stream is 2-D [T, C] inside.
//
// Pieces, by the ONNX operator spec (https://onnx.ai/onnx/operators/):
// - linear layers: Gemm(x [T, K], W [N, K], b [N], transB = 1), W stored as in the model ([out, in]);
// - RMSNorm (Zhang & Sennrich 2019): x / Sqrt(ReduceMean(x * x) + eps) * w; LayerNorm: the opset-17
//   LayerNormalization op (biased variance, as PyTorch);
// - RoPE (Su et al. 2021): cos/sin tables [contextLength, dim/2] as initializers, computed with
//   core/ops/rope-table.ts (llama2.c's float32 angles), sliced to T; 'adjacent' pairs (2i, 2i+1) via a
//   [.., dim/2, 2] reshape, 'half' pairs (i, i + dim/2) via two slices; partial rotary keeps the tail;
// - attention: q [Hkv, g, T, D] @ k^T [Hkv, 1, D, T] (MatMul broadcasting over the group axis g = H/Hkv,
//   so GQA needs no Expand), * 1/sqrt(D), + causal mask, Softmax, @ v [Hkv, 1, T, D]. The causal mask
//   is built at run time: Trilu(ConstantOfShape([T, T], -1e30), k = 1, upper) (-1e30 above the
//   diagonal, 0 elsewhere), so no [ctx, ctx] initializer is stored;
// - MLP: SwiGLU g * Sigmoid(g) * u, or GELU tanh approximation 0.5 x (1 + Tanh(sqrt(2/pi)(x + 0.044715 x^3))).
//
// residualOutputs: extra graph outputs, each float [1, T, C]:
//   hidden.-1     the embedding output = residual stream entering block 0 (tap blk.0.in)
//   hidden.<l>.mid the residual stream after block l's attention add (tap blk.l.mid)
//   hidden.<l>    the residual stream leaving block l (tap blk.l.out = blk.(l+1).in)
// which is everything the cosine metric (core/metrics/cos.ts) reads.
//
// weights4bit: the blocks' linear weights (attn_q|k|v|qkv|output, ffn_gate|up|down) go through the
// com.microsoft MatMulNBits contrib op (onnxruntime docs/ContribOperators.md, "MatMulNBits"), bits = 4,
// block_size = 32, no zero_points input (so the zero point is the default 2^(bits-1) = 8):
//   B      uint8 [N, K/32, 16]: row n, block b, byte i holds the codes of k = 32b + 2i (low nibble) and
//          k = 32b + 2i + 1 (high nibble);
//   scales float [N * K/32] (row-major over [N, K/32]);
//   W[n, k] = (code - 8) * scale[n, k/32].
// That is GGUF Q4_0 with another nibble order (Q4_0 puts k = j in the low and k = j + 16 in the high
// nibble of byte j), so a Q4_0 tensor is repacked losslessly (same codes, scale = its f16 d); any other
// type is dequantized and quantized with ggml's Q4_0 rule (d = signed max / -8, q = min(15, trunc(x/d +
// 8.5)), d rounded to f16). Rows whose length is not a multiple of 32 stay float32 (the fallback
// llama-quantize itself uses for such rows), as do the token embedding and the LM head; the export
// report lists every linear weight and how it was written.

import type { LoadedModel } from '../core/formats/types.ts';
import type { ModelSpec } from '../core/model/spec.ts';
import { tensorToF32 } from '../core/model/weights.ts';
import { ropeTable } from '../core/ops/rope-table.ts';
import { f16ToF32, f32ToF16 } from '../core/quant/half.ts';
import { GGMLType } from '../core/quant/types.ts';
import {
  encodeOnnxModel,
  float32Tensor,
  OnnxAttrType,
  OnnxDataType,
  tensorValueInfo,
  type OnnxAttribute,
  type OnnxModel,
  type OnnxNode,
  type OnnxTensor,
  type OnnxValueInfo,
} from './proto.ts';

export const EXPORT_OPSET = 17;
/** ONNX IR version that goes with opset 17. */
export const EXPORT_IR_VERSION = 8;
export const MS_DOMAIN = 'com.microsoft';
/** Initializer bytes one ONNX file can hold inline (protobuf's 2 GiB message limit, less room for the graph). */
export const MAX_INLINE_BYTES = 2 ** 31 - 64 * 2 ** 20;
/** MatMulNBits block size and bits LayerLab writes. */
export const NBITS_BLOCK = 32;

export interface OnnxExportOptions {
  /** Add hidden.-1, hidden.<l>.mid and hidden.<l> outputs (residual stream, [1, T, C]). */
  residualOutputs?: boolean;
  /** Write the blocks' linear weights through com.microsoft MatMulNBits (4-bit, block 32). */
  weights4bit?: boolean;
  /**
   * KV cache: inputs past_key.<l> / past_value.<l> float [Hkv, P, D] (P = positions already processed;
   * P = 0 on the first call) and outputs present_key.<l> / present_value.<l> [Hkv, P + T, D]; the new
   * tokens sit at positions P .. P + T - 1 (RoPE and learned positions offset by P, mask [T, P + T]).
   */
  kvCache?: boolean;
}

export interface LinearReport {
  name: string;
  /** 'float32' (Gemm), 'q4-repacked' (a Q4_0 tensor, codes kept), 'q4-quantized' (quantized here). */
  as: 'float32' | 'q4-repacked' | 'q4-quantized';
  /** Why a linear weight stayed float32 when 4-bit was asked for. */
  why?: string;
}

export interface OnnxExportResult {
  model: OnnxModel;
  bytes: Uint8Array;
  /** Graph output names: 'logits' first, then the residual outputs in layer order. */
  outputs: string[];
  linears: LinearReport[];
}

const LINEARS = /^blk\.\d+\.(attn_q|attn_k|attn_v|attn_qkv|attn_output|ffn_gate|ffn_up|ffn_down)$/;

/** KV-cache input / output names: past_key.<l>, past_value.<l>, present_key.<l>, present_value.<l>. */
export function kvName(kind: 'past_key' | 'past_value' | 'present_key' | 'present_value' | string, layer: number): string {
  return `${kind}.${layer}`;
}

/** Graph output name of a residual-stream point: layer -1 = the embedding output. */
export function residualOutputName(layer: number, point: 'out' | 'mid' = 'out'): string {
  return point === 'mid' ? `hidden.${layer}.mid` : `hidden.${layer}`;
}

// ---------------------------------------------------------------------------------------------
// 4-bit packing (MatMulNBits layout above)

export interface NBitsWeight {
  /** [N, K/32, 16] codes, two per byte, low nibble first along K. */
  b: Uint8Array;
  /** [N * K/32] float32 scales. */
  scales: Float32Array;
}

/** Repack GGUF Q4_0 rows ([N, K], K % 32 == 0) into the MatMulNBits layout; codes are kept bit for bit. */
export function q4_0ToNBits(data: Uint8Array, N: number, K: number): NBitsWeight {
  if (K % NBITS_BLOCK !== 0) throw new Error(`q4_0ToNBits: row length ${K} is not a multiple of 32`);
  const nb = (N * K) / 32;
  if (data.length < nb * 18) throw new Error(`q4_0ToNBits: ${data.length} bytes hold fewer than ${nb} Q4_0 blocks`);
  const b = new Uint8Array(nb * 16);
  const scales = new Float32Array(nb);
  for (let blk = 0; blk < nb; blk++) {
    const p = blk * 18;
    scales[blk] = f16ToF32(data[p] | (data[p + 1] << 8));
    const o = blk * 16;
    for (let j = 0; j < 16; j++) {
      const q = data[p + 2 + j];
      const lo = q & 15; // k = j
      const hi = q >> 4; // k = j + 16
      // byte i holds k = 2i (low) and 2i + 1 (high)
      b[o + (j >> 1)] |= (j & 1) === 0 ? lo : lo << 4;
      b[o + 8 + (j >> 1)] |= (j & 1) === 0 ? hi : hi << 4;
    }
  }
  return { b, scales };
}

const fr = Math.fround;

/** Quantize float rows [N, K] (K % 32 == 0) with ggml's Q4_0 rule straight into the MatMulNBits layout. */
export function quantizeNBits(w: Float32Array, N: number, K: number): NBitsWeight {
  if (K % NBITS_BLOCK !== 0) throw new Error(`quantizeNBits: row length ${K} is not a multiple of 32`);
  const nb = (N * K) / 32;
  const b = new Uint8Array(nb * 16);
  const scales = new Float32Array(nb);
  for (let blk = 0; blk < nb; blk++) {
    const x0 = blk * 32;
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const v = w[x0 + j];
      if (Math.abs(v) > amax) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = fr(max / -8);
    const id = d ? fr(1 / d) : 0;
    scales[blk] = f16ToF32(f32ToF16(d));
    for (let j = 0; j < 32; j++) {
      const t = fr(fr(w[x0 + j] * id) + 8.5);
      const q = Math.min(15, Math.max(0, Math.trunc(t)));
      b[blk * 16 + (j >> 1)] |= (j & 1) === 0 ? q : q << 4;
    }
  }
  return { b, scales };
}

/** Float32 values of a MatMulNBits weight, [N, K] (what onnxruntime multiplies by). */
export function dequantizeNBits(q: NBitsWeight, N: number, K: number): Float32Array {
  const nbRow = K / 32;
  const out = new Float32Array(N * K);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const blk = n * nbRow + (k >> 5);
      const byte = q.b[blk * 16 + ((k & 31) >> 1)];
      const code = (k & 1) === 0 ? byte & 15 : byte >> 4;
      out[n * K + k] = (code - 8) * q.scales[blk];
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Graph builder

type AttrValue = number | number[] | { f: number } | { floats: number[] } | OnnxTensor;

function attr(name: string, v: AttrValue): OnnxAttribute {
  if (typeof v === 'number') return { name, type: OnnxAttrType.INT, i: v };
  if (Array.isArray(v)) return { name, type: OnnxAttrType.INTS, ints: v };
  if ('f' in v) return { name, type: OnnxAttrType.FLOAT, f: v.f };
  if ('floats' in v) return { name, type: OnnxAttrType.FLOATS, floats: v.floats };
  return { name, type: OnnxAttrType.TENSOR, t: v };
}

function int64Tensor(name: string, dims: number[], values: number[]): OnnxTensor {
  const a = BigInt64Array.from(values.map((v) => BigInt(v)));
  return { name, dims, dataType: OnnxDataType.INT64, rawData: new Uint8Array(a.buffer) };
}

class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly inits: OnnxTensor[] = [];
  private consts = new Map<string, string>();
  private count = 0;
  scope = '';

  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, opts: { out?: string; domain?: string } = {}): string {
    const out = opts.out ?? `${this.scope}${opType}_${this.count}`;
    this.nodes.push({
      name: `/${this.scope}${opType}_${this.count++}`,
      opType,
      input: inputs,
      output: [out],
      attribute: Object.entries(attrs).map(([k, v]) => attr(k, v)),
      ...(opts.domain ? { domain: opts.domain } : {}),
    });
    return out;
  }

  opN(opType: string, inputs: string[], nOut: number, attrs: Record<string, AttrValue> = {}): string[] {
    const outs = Array.from({ length: nOut }, (_, i) => `${this.scope}${opType}_${this.count}_${i}`);
    this.nodes.push({ name: `/${this.scope}${opType}_${this.count++}`, opType, input: inputs, output: outs, attribute: Object.entries(attrs).map(([k, v]) => attr(k, v)) });
    return outs;
  }

  init(t: OnnxTensor): string {
    this.inits.push(t);
    return t.name!;
  }

  /** A shared int64 constant (1-D, or 0-D when scalar is set). */
  i64(values: number[], scalar = false): string {
    const key = `i64:${scalar ? 's' : 'v'}:${values.join(',')}`;
    let n = this.consts.get(key);
    if (!n) {
      n = `const.i64.${this.consts.size}`;
      this.init(int64Tensor(n, scalar ? [] : [values.length], values));
      this.consts.set(key, n);
    }
    return n;
  }

  /** A shared float32 scalar constant. */
  f32(v: number): string {
    const key = `f32:${v}`;
    let n = this.consts.get(key);
    if (!n) {
      n = `const.f32.${this.consts.size}`;
      this.init(float32Tensor(n, [], Float32Array.of(v)));
      this.consts.set(key, n);
    }
    return n;
  }

  /** Slice along one axis; start / end are numbers or names of 1-D int64 [1] values. */
  slice(x: string, start: number | string, end: number | string, axis: number): string {
    const v = (n: number | string) => (typeof n === 'string' ? n : this.i64([n]));
    return this.op('Slice', [x, v(start), v(end), this.i64([axis])]);
  }

  reshape(x: string, shape: number[]): string {
    return this.op('Reshape', [x, this.i64(shape)]);
  }
}

// ---------------------------------------------------------------------------------------------

function f32Of(model: LoadedModel, name: string): Float32Array {
  const t = model.tensors.get(name);
  if (!t) throw new Error(`export-onnx: the model has no tensor ${name}`);
  return tensorToF32(t);
}

function weightInit(g: GraphBuilder, model: LoadedModel, name: string): string {
  const t = model.tensors.get(name);
  if (!t) throw new Error(`export-onnx: the model has no tensor ${name}`);
  // Copy: float32Tensor keeps a view, and a view of the loader's bytes must not be re-used after export.
  return g.init(float32Tensor(name, t.shape, f32Of(model, name).slice()));
}

function checkSpec(s: ModelSpec): void {
  if (s.arch !== 'llama' && s.arch !== 'gpt2') throw new Error(`export-onnx: architecture ${String(s.arch)} is not supported`);
  if (s.nHeads % s.nKvHeads !== 0) throw new Error(`export-onnx: ${s.nHeads} heads are not a multiple of ${s.nKvHeads} KV heads`);
  if (s.rope.kind !== 'none' && (s.rope.dim > s.headDim || s.rope.dim % 2 !== 0)) throw new Error(`export-onnx: rotary dim ${s.rope.dim} does not fit head dim ${s.headDim}`);
}

/**
 * Build the ONNX graph of a loaded model (see the header for the graph, its inputs and outputs).
 * Throws on architectures or tensors it cannot express.
 */
export function exportOnnx(model: LoadedModel, opts: OnnxExportOptions = {}): OnnxExportResult {
  const s = model.spec;
  checkSpec(s);
  const g = new GraphBuilder();
  const C = s.dModel;
  const H = s.nHeads;
  const Hkv = s.nKvHeads;
  const D = s.headDim;
  const group = H / Hkv;
  const kvW = Hkv * D;
  const linears: LinearReport[] = [];
  const outputs: OnnxValueInfo[] = [];
  const outNames: string[] = [];

  const has = (n: string) => model.tensors.has(n);

  const linear = (x: string, name: string, K: number, N: number): string => {
    const t = model.tensors.get(name);
    if (!t) throw new Error(`export-onnx: the model has no tensor ${name}`);
    if (t.shape.length !== 2 || t.shape[0] !== N || t.shape[1] !== K) throw new Error(`export-onnx: ${name} has shape [${t.shape}], expected [${N}, ${K}]`);
    const bias = has(`${name}.bias`) ? weightInit(g, model, `${name}.bias`) : null;
    if (opts.weights4bit && LINEARS.test(name)) {
      if (K % NBITS_BLOCK === 0) {
        const q = t.type === GGMLType.Q4_0 ? q4_0ToNBits(t.data, N, K) : quantizeNBits(tensorToF32(t), N, K);
        linears.push({ name, as: t.type === GGMLType.Q4_0 ? 'q4-repacked' : 'q4-quantized' });
        const bName = g.init({ name: `${name}.q4`, dims: [N, K / 32, 16], dataType: OnnxDataType.UINT8, rawData: q.b });
        const sName = g.init(float32Tensor(`${name}.scales`, [(N * K) / 32], q.scales));
        const y = g.op('MatMulNBits', [x, bName, sName], { K, N, bits: 4, block_size: NBITS_BLOCK }, { domain: MS_DOMAIN });
        return bias ? g.op('Add', [y, bias]) : y;
      }
      linears.push({ name, as: 'float32', why: `row length ${K} is not a multiple of 32` });
    } else if (LINEARS.test(name)) {
      linears.push({ name, as: 'float32' });
    }
    const w = weightInit(g, model, name);
    return g.op('Gemm', bias ? [x, w, bias] : [x, w], { transB: 1 });
  };

  const norm = (x: string, name: string): string => {
    const w = weightInit(g, model, name);
    if (s.norm.kind === 'layer') {
      const b = has(`${name}.bias`) ? weightInit(g, model, `${name}.bias`) : g.init(float32Tensor(`${name}.bias`, [C], new Float32Array(C)));
      return g.op('LayerNormalization', [x, w, b], { axis: -1, epsilon: { f: s.norm.eps } });
    }
    const ms = g.op('ReduceMean', [g.op('Mul', [x, x])], { axes: [-1], keepdims: 1 });
    const rms = g.op('Sqrt', [g.op('Add', [ms, g.f32(s.norm.eps)])]);
    return g.op('Mul', [g.op('Div', [x, rms]), w]);
  };

  const addOutput = (x: string, name: string, last: number | string) => {
    g.op('Unsqueeze', [x, g.i64([0])], {}, { out: name });
    outputs.push(tensorValueInfo(name, OnnxDataType.FLOAT, [1, 'T', last]));
    outNames.push(name);
  };

  // Sequence length as a 1-D int64 [T].
  g.scope = 'embed/';
  const tVec = g.op('Shape', ['input_ids'], { start: 1, end: 2 });
  // Positions already in the cache: P (1-D [1]) and P + T; 0 and T without a cache.
  const pVec = opts.kvCache ? g.op('Shape', [kvName('past_key', 0)], { start: 1, end: 2 }) : null;
  const endVec = pVec ? g.op('Add', [pVec, tVec]) : tVec;
  const startPos: number | string = pVec ?? 0;
  const ids = g.reshape('input_ids', [-1]);
  let x = g.op('Gather', [weightInit(g, model, 'token_embd'), ids], { axis: 0 });
  if (s.learnedPositions) {
    const pe = weightInit(g, model, 'position_embd');
    x = g.op('Add', [x, g.slice(pe, startPos, endVec, 0)]);
  }

  // RoPE tables sliced to T, shaped for broadcasting over heads.
  let cos = '';
  let sin = '';
  if (s.rope.kind !== 'none') {
    g.scope = 'rope/';
    const half = s.rope.dim / 2;
    const table = ropeTable(s.rope.theta, s.rope.dim, 0, s.contextLength);
    const c = new Float32Array(s.contextLength * half);
    const sn = new Float32Array(s.contextLength * half);
    for (let i = 0; i < c.length; i++) {
      c[i] = table[2 * i];
      sn[i] = table[2 * i + 1];
    }
    const shape = s.rope.kind === 'adjacent' ? [-1, 1, half, 1] : [-1, 1, half];
    cos = g.reshape(g.slice(g.init(float32Tensor('rope.cos', [s.contextLength, half], c)), startPos, endVec, 0), shape);
    sin = g.reshape(g.slice(g.init(float32Tensor('rope.sin', [s.contextLength, half], sn)), startPos, endVec, 0), shape);
  }

  const rope = (v: string, heads: number): string => {
    const dim = s.rope.dim;
    const half = dim / 2;
    const x3 = g.reshape(v, [-1, heads, D]);
    const rot = dim < D ? g.slice(x3, 0, dim, 2) : x3;
    let r: string;
    const rotate = (a: string, b: string, axis: number) =>
      g.op('Concat', [g.op('Sub', [g.op('Mul', [a, cos]), g.op('Mul', [b, sin])]), g.op('Add', [g.op('Mul', [a, sin]), g.op('Mul', [b, cos])])], { axis });
    if (s.rope.kind === 'adjacent') {
      const r4 = g.reshape(rot, [0, 0, half, 2]);
      r = g.reshape(rotate(g.slice(r4, 0, 1, 3), g.slice(r4, 1, 2, 3), 3), [0, 0, dim]);
    } else {
      r = rotate(g.slice(rot, 0, half, 2), g.slice(rot, half, dim, 2), 2);
    }
    if (dim < D) r = g.op('Concat', [r, g.slice(x3, dim, D, 2)], { axis: 2 });
    return g.reshape(r, [-1, heads * D]);
  };

  // Causal mask [T, P + T]: -1e30 where key position j > query position P + i, i.e. above diagonal P + 1.
  g.scope = 'mask/';
  const full = g.op('ConstantOfShape', [g.op('Concat', [tVec, endVec], { axis: 0 })], { value: float32Tensor('mask_value', [1], Float32Array.of(-1e30)) });
  const diag = pVec ? g.reshape(g.op('Add', [pVec, g.i64([1])]), []) : g.i64([1], true);
  const mask = g.op('Trilu', [full, diag], { upper: 1 });
  const scale = g.f32(1 / Math.sqrt(D));

  if (opts.residualOutputs) addOutput(x, residualOutputName(-1), C);

  for (let l = 0; l < s.nLayers; l++) {
    const b = `blk.${l}`;
    g.scope = `${b}/attn/`;
    const h = norm(x, `${b}.attn_norm`);
    let q: string, k: string, v: string;
    if (s.fusedQkv) {
      const qkv = linear(h, `${b}.attn_qkv`, C, H * D + 2 * kvW);
      [q, k, v] = g.opN('Split', [qkv, g.i64([H * D, kvW, kvW])], 3, { axis: 1 });
    } else {
      q = linear(h, `${b}.attn_q`, C, H * D);
      k = linear(h, `${b}.attn_k`, C, kvW);
      v = linear(h, `${b}.attn_v`, C, kvW);
    }
    if (s.rope.kind !== 'none') {
      q = rope(q, H);
      k = rope(k, Hkv);
    }
    const q5 = g.op('Transpose', [g.reshape(q, [-1, Hkv, group, D])], { perm: [1, 2, 0, 3] }); // [Hkv, g, T, D]
    let kAll = g.op('Transpose', [g.reshape(k, [-1, Hkv, D])], { perm: [1, 0, 2] }); // [Hkv, T, D]
    let vAll = g.op('Transpose', [g.reshape(v, [-1, Hkv, D])], { perm: [1, 0, 2] });
    if (opts.kvCache) {
      // [Hkv, P + T, D]: the cache followed by the new positions.
      kAll = g.op('Concat', [kvName('past_key', l), kAll], { axis: 1 }, { out: kvName('present_key', l) });
      vAll = g.op('Concat', [kvName('past_value', l), vAll], { axis: 1 }, { out: kvName('present_value', l) });
    }
    const kT = g.op('Transpose', [g.reshape(kAll, [Hkv, 1, -1, D])], { perm: [0, 1, 3, 2] }); // [Hkv, 1, D, P + T]
    const v5 = g.reshape(vAll, [Hkv, 1, -1, D]); // [Hkv, 1, P + T, D]
    const scores = g.op('Add', [g.op('Mul', [g.op('MatMul', [q5, kT]), scale]), mask]); // [Hkv, g, T, T]
    const p = g.op('Softmax', [scores], { axis: -1 });
    const o = g.op('Transpose', [g.op('MatMul', [p, v5])], { perm: [2, 0, 1, 3] }); // [T, Hkv, g, D]
    const attnOut = linear(g.reshape(o, [-1, H * D]), `${b}.attn_output`, H * D, C);
    x = g.op('Add', [x, attnOut]);
    if (opts.residualOutputs) addOutput(x, residualOutputName(l, 'mid'), C);

    g.scope = `${b}/mlp/`;
    const h2 = norm(x, `${b}.ffn_norm`);
    let a: string;
    if (s.mlp === 'silu-gate') {
      const gate = linear(h2, `${b}.ffn_gate`, C, s.dFF);
      const up = linear(h2, `${b}.ffn_up`, C, s.dFF);
      a = g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), up]);
    } else {
      const u = linear(h2, `${b}.ffn_up`, C, s.dFF);
      const u3 = g.op('Mul', [g.op('Mul', [u, u]), u]);
      const inner = g.op('Mul', [g.op('Add', [u, g.op('Mul', [u3, g.f32(0.044715)])]), g.f32(Math.sqrt(2 / Math.PI))]);
      a = g.op('Mul', [g.op('Mul', [u, g.f32(0.5)]), g.op('Add', [g.op('Tanh', [inner]), g.f32(1)])]);
    }
    x = g.op('Add', [x, linear(a, `${b}.ffn_down`, s.dFF, C)]);
    if (opts.residualOutputs) addOutput(x, residualOutputName(l), C);
  }

  g.scope = 'head/';
  const hf = norm(x, 'output_norm');
  const outW = s.tiedEmbeddings ? 'token_embd' : weightInit(g, model, 'output');
  const ob = has('output.bias') ? weightInit(g, model, 'output.bias') : null;
  const logits = g.op('Gemm', ob ? [hf, outW, ob] : [hf, outW], { transB: 1 });
  g.op('Unsqueeze', [logits, g.i64([0])], {}, { out: 'logits' });
  outputs.unshift(tensorValueInfo('logits', OnnxDataType.FLOAT, [1, 'T', s.vocabSize]));
  outNames.unshift('logits');

  const kvInputs: OnnxValueInfo[] = [];
  const kvOutputs: OnnxValueInfo[] = [];
  if (opts.kvCache) {
    for (let l = 0; l < s.nLayers; l++) {
      for (const kv of ['key', 'value']) {
        kvInputs.push(tensorValueInfo(kvName(`past_${kv}`, l), OnnxDataType.FLOAT, [Hkv, 'P', D]));
        kvOutputs.push(tensorValueInfo(kvName(`present_${kv}`, l), OnnxDataType.FLOAT, [Hkv, 'P+T', D]));
      }
    }
  }
  // protobuf messages stop at 2 GiB and this writer puts every initializer inline (no external data).
  const initBytes = g.inits.reduce((n, t) => n + (t.rawData?.length ?? 0), 0);
  if (initBytes > MAX_INLINE_BYTES) {
    throw new Error(
      `export-onnx: ${initBytes.toLocaleString('en-US')} bytes of initializers exceed protobuf's 2 GiB limit for one file (external data is not written); try --weights 4bit or a smaller model`,
    );
  }
  const opsetImport = [{ domain: '', version: EXPORT_OPSET }];
  if (opts.weights4bit) opsetImport.push({ domain: MS_DOMAIN, version: 1 });
  const onnx: OnnxModel = {
    irVersion: EXPORT_IR_VERSION,
    opsetImport,
    producerName: 'layerlab',
    producerVersion: '0.1.0',
    docString: `LayerLab export of ${s.name} (${s.arch}, ${s.nLayers} layers): ${opts.kvCache ? 'KV-cache inputs past_key/value.<l> [Hkv, P, D], outputs present_key/value.<l>' : 'full-sequence graph, no KV cache'}.`,
    graph: {
      name: s.name || 'layerlab',
      node: g.nodes,
      initializer: g.inits,
      input: [tensorValueInfo('input_ids', OnnxDataType.INT64, [1, 'T']), ...kvInputs],
      output: [...outputs, ...kvOutputs],
    },
    metadataProps: [
      { key: 'layerlab.arch', value: s.arch },
      { key: 'layerlab.n_layers', value: String(s.nLayers) },
      // The graph itself has no position table of this size (RoPE tables are sliced), so the importer reads it here.
      { key: 'layerlab.context_length', value: String(s.contextLength) },
      { key: 'layerlab.residual_outputs', value: opts.residualOutputs ? 'hidden.-1 (embedding), hidden.<l>.mid, hidden.<l>' : 'none' },
      { key: 'layerlab.weights', value: opts.weights4bit ? 'MatMulNBits 4-bit block 32 for block linears with K % 32 == 0' : 'float32' },
    ],
  };
  return { model: onnx, bytes: encodeOnnxModel(onnx), outputs: [...outNames, ...kvOutputs.map((o) => o.name)], linears };
}

/**
 * Engine tap names for the residual outputs of an export with residualOutputs (each [T, C] after the
 * leading batch axis is dropped): hidden.-1 -> blk.0.in, hidden.<l>.mid -> blk.l.mid, hidden.<l> ->
 * blk.l.out and blk.(l+1).in. The result feeds the activation metrics (core/metrics) directly.
 */
export function tapsFromResidualOutputs(outputs: Record<string, Float32Array>, nLayers: number): Record<string, Float32Array> {
  const get = (n: string) => {
    const v = outputs[n];
    if (!v) throw new Error(`residual output ${n} missing (export with residualOutputs)`);
    return v;
  };
  const taps: Record<string, Float32Array> = { 'blk.0.in': get(residualOutputName(-1)) };
  for (let l = 0; l < nLayers; l++) {
    taps[`blk.${l}.mid`] = get(residualOutputName(l, 'mid'));
    taps[`blk.${l}.out`] = get(residualOutputName(l));
    if (l + 1 < nLayers) taps[`blk.${l + 1}.in`] = taps[`blk.${l}.out`];
  }
  return taps;
}
