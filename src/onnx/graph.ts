// Graph analysis of an ONNX decoder-only causal LM: finds, from the graph's structure (not its names),
// the residual stream and what reads and writes it.
//
//   input_ids -> Gather(embedding [V, C]) (+ Gather(position table) ) = h_0
//   step k: h_k -> norm (LayerNormalization | SimplifiedLayerNormalization | RMSNormalization |
//           decomposed RMSNorm Pow-ReduceMean-Add-Sqrt-(Div|Reciprocal)-Mul(-Mul weight) | decomposed
//           LayerNorm ReduceMean-Sub-Pow-ReduceMean-Add-Sqrt-Div-Mul-Add) -> sublayer -> s_k;
//           h_{k+1} = Add(h_k, s_k)   (or the fused SkipLayerNormalization / SkipSimplifiedLayerNormalization,
//           whose output 3 is h_k + s_k and whose output 0 is the next sublayer's normed input)
//   final: h_N -> norm -> MatMul/Gemm (weight [C, V] or Gemm transB [V, C]; tied = the embedding, possibly
//           through a Transpose) -> logits
// A residual step is an Add whose one input is the current residual value and whose other input is
// downstream of that residual's normalization (so it is the output of a sublayer that starts with a norm).
// Steps whose region (nodes between the norm and the Add) holds a Softmax or an attention contrib op
// are attention; the others are MLPs. Steps pair up as (attention, MLP) = one block. Inside each sublayer
// the projections are the MatMul/Gemm nodes with a constant weight: the one that produces the sublayer
// output is the output projection (attn_output / ffn_down); the ones reading the norm output are
// q/k/v (told apart by where they meet: q and k feed the scores MatMul at inputs 0 and 1, v the
// probabilities MatMul) or gate/up (the gate feeds the activation). Head counts come from the Reshape
// constants after q and k ([.., H, D]). Node names ("/model/layers.3/", "/h.3/") are used only as a
// cross-check; disagreement, or more than one candidate anywhere, is listed in `ambiguities`.
//
// Past key/values: graph inputs other than input_ids / attention_mask / position_ids that are float
// tensors are treated as a past cache and fed with length 0 (session.ts); a boolean input (Optimum's
// use_cache_branch) is fed false. Graphs whose decoder sits inside an If subgraph (Optimum's merged
// decoder) are refused with a hint to use decoder_model.onnx.

import { OnnxDataType, OnnxFormatError, type OnnxModel, type OnnxNode, type OnnxTensor } from './proto.ts';

/** The graph is readable but is not a decoder-only LM LayerLab can find its way through. */
export class OnnxGraphError extends OnnxFormatError {
  constructor(message: string, hint: string) {
    super(message, hint);
    this.name = 'OnnxGraphError';
  }
}

export interface NormInfo {
  /** Index of the node that produces the normalized output (the fused op, or the last node of the pattern). */
  node: number;
  kind: 'rms' | 'layer';
  /** How it was recognised: the op type, or 'decomposed-rms' / 'decomposed-layer'. */
  form: string;
  /** Initializer names of the scale (gamma) and bias (beta), when constant. */
  weight?: string;
  bias?: string;
  eps: number;
  /** The normalized tensor (input of the sublayer or of the unembedding). */
  output: string;
}

export interface Projection {
  /** MatMul / Gemm node index. */
  node: number;
  /** Initializer holding the weight. */
  weight: string;
  /** True when the stored weight is [in, out] (MatMul B, Gemm without transB): LayerLab's [out, in] is its transpose. */
  transposed: boolean;
  /** Bias initializer added right after, if any. */
  bias?: string;
  /** The data input of the matmul (what the weight reads). */
  input: string;
  inFeatures: number;
  outFeatures: number;
}

export interface ResidualStep {
  kind: 'attn' | 'mlp';
  /** Residual entering the step, the normed input of the sublayer, the sublayer output, the residual after the add. */
  resIn: string;
  norm: NormInfo;
  subOut: string;
  resOut: string;
  /** The residual Add node (or the fused Skip*Normalization node). */
  addNode: number;
  outProj: Projection | null;
  /** attn: q, k, v or qkv; mlp: gate, up. */
  inProj: Record<string, Projection>;
  /** Layer index read from node names (cross-check), or null. */
  nameLayer: number | null;
}

export interface BlockInfo {
  layer: number;
  attn: ResidualStep;
  mlp: ResidualStep;
}

/** input_ids; attention_mask (ones); position_ids and cache_position (positions); past (float K/V, empty);
 *  flag (bool, false); logits_to_keep (int, 0 = all positions). */
export type InputRole = 'input_ids' | 'attention_mask' | 'position_ids' | 'cache_position' | 'past' | 'flag' | 'logits_to_keep';

export interface GraphInput {
  name: string;
  role: InputRole;
  elemType: number;
  /** Static dims as numbers, symbolic ones as strings. */
  dims: (number | string)[];
}

export interface GraphAnalysis {
  blocks: BlockInfo[];
  ambiguities: string[];
  /** 'high': structure complete, names agree or carry no index, nothing ambiguous; 'medium': complete with ambiguities; 'low': names disagree with the structure. */
  confidence: 'high' | 'medium' | 'low';
  embedding: { gather: number; weight: string; vocab: number; dModel: number; output: string };
  positionEmbedding: { weight: string; rows: number } | null;
  /** The residual entering block 0 (after embedding, position embedding). */
  residualStart: string;
  finalNorm: NormInfo;
  unembedding: { node: number; weight: string | null; transposed: boolean; tied: boolean; bias?: string } | null;
  logits: string;
  inputs: GraphInput[];
  heads: { nHeads: number; nKvHeads: number; headDim: number; fromGraph: boolean };
  dFF: number;
  /** Rows of a position table gathered by position_ids (learned positions or a RoPE cos/sin cache): the context length the graph supports; null when not found. */
  positionRows: number | null;
  /** Fused Skip*Normalization nodes whose residual-sum output (index 3) has to be named to be tapped: node index -> name. */
  sumOutputs: Map<number, string>;
}

const PASS = new Set(['Cast', 'Identity']);
const NORM_OPS = new Set(['LayerNormalization', 'SimplifiedLayerNormalization', 'RMSNormalization']);
const SKIP_NORM_OPS = new Set(['SkipLayerNormalization', 'SkipSimplifiedLayerNormalization']);
const ATTN_OPS = new Set(['Softmax', 'Attention', 'MultiHeadAttention', 'GroupQueryAttention', 'SparseAttention', 'PackedAttention']);
const ACT_OPS = new Set(['Sigmoid', 'Silu', 'Gelu', 'FastGelu', 'BiasGelu', 'QuickGelu', 'Erf', 'Tanh', 'Relu', 'Softplus', 'HardSigmoid', 'Div']);
const MATMUL_OPS = new Set(['MatMul', 'Gemm']);

/** Numbers of a constant tensor (any numeric type); int64 as JS numbers. */
export function tensorNumbers(t: OnnxTensor): number[] {
  const dt = t.dataType ?? 0;
  const raw = t.rawData;
  if (raw && raw.length) {
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const out: number[] = [];
    const step = dt === OnnxDataType.INT64 || dt === OnnxDataType.DOUBLE ? 8 : dt === OnnxDataType.FLOAT16 || dt === OnnxDataType.BFLOAT16 ? 2 : dt === OnnxDataType.INT8 || dt === OnnxDataType.UINT8 || dt === OnnxDataType.BOOL ? 1 : 4;
    for (let o = 0; o + step <= raw.byteLength; o += step) {
      if (dt === OnnxDataType.FLOAT) out.push(dv.getFloat32(o, true));
      else if (dt === OnnxDataType.INT64) out.push(Number(dv.getBigInt64(o, true)));
      else if (dt === OnnxDataType.INT32) out.push(dv.getInt32(o, true));
      else if (dt === OnnxDataType.DOUBLE) out.push(dv.getFloat64(o, true));
      else if (dt === OnnxDataType.INT8) out.push(dv.getInt8(o));
      else if (dt === OnnxDataType.UINT8 || dt === OnnxDataType.BOOL) out.push(dv.getUint8(o));
      else if (dt === OnnxDataType.FLOAT16) out.push(halfToFloat(dv.getUint16(o, true)));
      else return [];
    }
    return out;
  }
  return [...(t.floatData ?? []), ...(t.int64Data ?? []), ...(t.int32Data ?? []), ...(t.doubleData ?? [])].map(Number);
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** Producers, consumers and constants of a graph. */
export class GraphIndex {
  readonly nodes: OnnxNode[];
  readonly producer = new Map<string, number>();
  readonly consumers = new Map<string, number[]>();
  readonly inits = new Map<string, OnnxTensor>();
  readonly constNodes = new Map<string, OnnxTensor>();
  readonly graphInputs = new Set<string>();
  readonly graphOutputs: string[];

  constructor(readonly model: OnnxModel) {
    const g = model.graph!;
    this.nodes = g.node ?? [];
    for (const t of g.initializer ?? []) if (t.name) this.inits.set(t.name, t);
    for (const i of g.input ?? []) if (!this.inits.has(i.name)) this.graphInputs.add(i.name);
    this.graphOutputs = (g.output ?? []).map((o) => o.name);
    this.nodes.forEach((n, i) => {
      for (const o of n.output ?? []) if (o) this.producer.set(o, i);
      for (const x of n.input ?? []) {
        if (!x) continue;
        const c = this.consumers.get(x);
        if (c) c.push(i);
        else this.consumers.set(x, [i]);
      }
      if (n.opType === 'Constant') {
        const v = n.attribute?.find((a) => a.name === 'value')?.t;
        if (v && n.output?.[0]) this.constNodes.set(n.output[0], v);
      }
    });
  }

  node(i: number): OnnxNode {
    return this.nodes[i];
  }
  prod(name: string): OnnxNode | undefined {
    const i = this.producer.get(name);
    return i === undefined ? undefined : this.nodes[i];
  }
  cons(name: string): number[] {
    return this.consumers.get(name) ?? [];
  }
  /** A constant tensor behind `name` (initializer or Constant node, through Cast/Identity). */
  constant(name: string): OnnxTensor | undefined {
    let n = name;
    for (let k = 0; k < 4; k++) {
      const t = this.inits.get(n) ?? this.constNodes.get(n);
      if (t) return t;
      const p = this.prod(n);
      if (!p || !PASS.has(p.opType)) return undefined;
      n = p.input![0];
    }
    return undefined;
  }
  isConst(name: string): boolean {
    return this.constant(name) !== undefined;
  }
  /** The initializer name behind `name` (through Cast / Identity), if it is one. */
  initName(name: string): string | undefined {
    let n = name;
    for (let k = 0; k < 4; k++) {
      if (this.inits.has(n)) return n;
      const p = this.prod(n);
      if (!p || !PASS.has(p.opType)) return undefined;
      n = p.input![0];
    }
    return undefined;
  }
  scalar(name: string): number | undefined {
    const t = this.constant(name);
    if (!t) return undefined;
    const v = tensorNumbers(t);
    return v.length === 1 ? v[0] : undefined;
  }
  attrF(node: OnnxNode, name: string, dflt: number): number {
    const a = node.attribute?.find((x) => x.name === name);
    return a?.f ?? a?.i ?? dflt;
  }
  attrI(node: OnnxNode, name: string, dflt: number): number {
    const a = node.attribute?.find((x) => x.name === name);
    return a?.i ?? dflt;
  }
  /** Consumers of `name`, following through Cast / Identity. */
  consThrough(name: string): number[] {
    const out: number[] = [];
    const walk = (n: string, depth: number): void => {
      for (const c of this.cons(n)) {
        const node = this.nodes[c];
        if (PASS.has(node.opType) && depth < 4) walk(node.output![0], depth + 1);
        else out.push(c);
      }
    };
    walk(name, 0);
    return out;
  }
  /** Whether tensor `a` is `b` up to Cast / Identity. */
  same(a: string, b: string): boolean {
    let n = a;
    for (let k = 0; k < 4; k++) {
      if (n === b) return true;
      const p = this.prod(n);
      if (!p || !PASS.has(p.opType)) return false;
      n = p.input![0];
    }
    return false;
  }
  /** Node indices forward-reachable from tensor `name`. */
  forward(name: string): Set<number> {
    const seen = new Set<number>();
    const stack = [...this.cons(name)];
    while (stack.length) {
      const i = stack.pop()!;
      if (seen.has(i)) continue;
      seen.add(i);
      for (const o of this.nodes[i].output ?? []) if (o) stack.push(...this.cons(o));
    }
    return seen;
  }
  /** Node indices backward-reachable from tensor `name` (its producer included). */
  backward(name: string): Set<number> {
    const seen = new Set<number>();
    const stack: string[] = [name];
    while (stack.length) {
      const t = stack.pop()!;
      const i = this.producer.get(t);
      if (i === undefined || seen.has(i)) continue;
      seen.add(i);
      for (const x of this.nodes[i].input ?? []) if (x) stack.push(x);
    }
    return seen;
  }
  dims(name: string): number[] | undefined {
    const t = this.inits.get(name);
    return t ? (t.dims ?? []).map(Number) : undefined;
  }
}

/** The other input of a binary node, given one of them (through Cast); undefined when neither matches. */
function otherInput(g: GraphIndex, node: OnnxNode, x: string): string | undefined {
  const [a, b] = node.input ?? [];
  if (a && g.same(a, x)) return b;
  if (b && g.same(b, x)) return a;
  return undefined;
}

function firstCons(g: GraphIndex, name: string, op: string | string[]): number | undefined {
  const ops = Array.isArray(op) ? op : [op];
  return g.consThrough(name).find((c) => ops.includes(g.node(c).opType));
}

/** Decomposed normalization of x: returns the NormInfo, or null when x is not normed this way. */
function matchDecomposed(g: GraphIndex, x: string): NormInfo | null {
  // LayerNorm: ReduceMean(x) -> Sub(x, mean) = d; RMSNorm: d = x.
  let d = x;
  let kind: 'rms' | 'layer' = 'rms';
  const rm0 = firstCons(g, x, 'ReduceMean');
  if (rm0 !== undefined) {
    const sub = g.consThrough(g.node(rm0).output![0]).find((c) => g.node(c).opType === 'Sub' && g.same(g.node(c).input![0], x));
    if (sub !== undefined) {
      d = g.node(sub).output![0];
      kind = 'layer';
    }
  }
  // square: Pow(d, 2) or Mul(d, d)
  const sq = g.consThrough(d).find((c) => {
    const n = g.node(c);
    if (n.opType === 'Pow') return g.scalar(n.input![1]) === 2;
    return n.opType === 'Mul' && g.same(n.input![0], d) && g.same(n.input![1], d);
  });
  if (sq === undefined) return null;
  const rm = firstCons(g, g.node(sq).output![0], 'ReduceMean');
  if (rm === undefined) return null;
  const add = firstCons(g, g.node(rm).output![0], 'Add');
  if (add === undefined) return null;
  const addN = g.node(add);
  const epsName = addN.input!.find((i) => g.isConst(i));
  if (!epsName) return null;
  const eps = g.scalar(epsName) ?? NaN;
  const sqrt = firstCons(g, addN.output![0], 'Sqrt');
  let normed: string | undefined;
  if (sqrt !== undefined) {
    const s = g.node(sqrt).output![0];
    for (const c of g.consThrough(s)) {
      const n = g.node(c);
      if (n.opType === 'Div' && g.same(n.input![1], s) && g.same(n.input![0], d)) normed = n.output![0];
      else if ((n.opType === 'Div' && g.same(n.input![1], s) && g.scalar(n.input![0]) === 1) || n.opType === 'Reciprocal') {
        const inv = n.output![0];
        const mul = g.consThrough(inv).find((m) => g.node(m).opType === 'Mul' && otherInput(g, g.node(m), inv) !== undefined && g.same(otherInput(g, g.node(m), inv)!, d));
        if (mul !== undefined) normed = g.node(mul).output![0];
      }
      if (normed) break;
    }
  } else {
    // No Sqrt: 1/sqrt as Pow(v, -0.5) (ONNX has no Rsqrt op).
    const pw = g.consThrough(addN.output![0]).find((c) => g.node(c).opType === 'Pow' && g.scalar(g.node(c).input![1]) === -0.5);
    const inv = pw !== undefined ? g.node(pw).output![0] : undefined;
    if (inv) {
      const mul = g.consThrough(inv).find((m) => g.node(m).opType === 'Mul' && g.same(otherInput(g, g.node(m), inv) ?? '', d));
      if (mul !== undefined) normed = g.node(mul).output![0];
    }
  }
  if (!normed) return null;
  let out = normed;
  let node = g.producer.get(normed)!;
  let weight: string | undefined;
  let bias: string | undefined;
  const wm = g.consThrough(out).find((c) => g.node(c).opType === 'Mul' && g.node(c).input!.some((i) => g.isConst(i)));
  if (wm !== undefined) {
    weight = g.initName(g.node(wm).input!.find((i) => g.isConst(i))!);
    out = g.node(wm).output![0];
    node = wm;
  }
  if (kind === 'layer') {
    const ba = g.consThrough(out).find((c) => g.node(c).opType === 'Add' && g.node(c).input!.some((i) => g.isConst(i)));
    if (ba !== undefined) {
      bias = g.initName(g.node(ba).input!.find((i) => g.isConst(i))!);
      out = g.node(ba).output![0];
      node = ba;
    }
  }
  return { node, kind, form: kind === 'rms' ? 'decomposed-rms' : 'decomposed-layer', weight, bias, eps, output: out };
}

function fusedNorm(g: GraphIndex, i: number): NormInfo {
  const n = g.node(i);
  const skip = SKIP_NORM_OPS.has(n.opType);
  const wIdx = skip ? 2 : 1;
  const kind = n.opType.includes('Simplified') || n.opType === 'RMSNormalization' ? 'rms' : 'layer';
  return {
    node: i,
    kind,
    form: n.opType,
    weight: n.input?.[wIdx] ? g.initName(n.input[wIdx]) : undefined,
    bias: kind === 'layer' && n.input?.[wIdx + 1] ? g.initName(n.input[wIdx + 1]) : undefined,
    eps: g.attrF(n, 'epsilon', 1e-5),
    output: n.output![0],
  };
}

/** Normalizations that read residual x (fused ops first, then decomposed patterns). */
function normsOf(g: GraphIndex, x: string): NormInfo[] {
  const out: NormInfo[] = [];
  for (const c of g.consThrough(x)) {
    const n = g.node(c);
    if (NORM_OPS.has(n.opType) && g.same(n.input![0], x)) out.push(fusedNorm(g, c));
  }
  if (out.length === 0) {
    const d = matchDecomposed(g, x);
    if (d) out.push(d);
  }
  return out;
}

/** Walk back from a sublayer output to the MatMul/Gemm with a constant weight that produced it. */
function projectionBehind(g: GraphIndex, s: string): Projection | null {
  let t = s;
  let bias: string | undefined;
  for (let k = 0; k < 6; k++) {
    const i = g.producer.get(t);
    if (i === undefined) return null;
    const n = g.node(i);
    if (MATMUL_OPS.has(n.opType)) return projection(g, i, bias);
    if (n.opType === 'Add') {
      const c = n.input!.find((x) => g.isConst(x));
      const other = n.input!.find((x) => !g.isConst(x));
      if (!c || !other) return null;
      bias = g.initName(c);
      t = other;
    } else if (['Reshape', 'Cast', 'Identity', 'Squeeze', 'Unsqueeze'].includes(n.opType)) t = n.input![0];
    else return null;
  }
  return null;
}

/** The projection of MatMul/Gemm node i when its weight is a constant (initializer, possibly transposed by a Transpose node). */
function projection(g: GraphIndex, i: number, bias?: string): Projection | null {
  const n = g.node(i);
  const wIn = n.input![1];
  let weight = g.initName(wIn);
  let transposed = true; // MatMul B [in, out]
  if (n.opType === 'Gemm' && g.attrI(n, 'transB', 0) === 1) transposed = false;
  if (!weight) {
    const p = g.prod(wIn);
    if (p?.opType === 'Transpose' && g.initName(p.input![0])) {
      weight = g.initName(p.input![0]);
      transposed = !transposed;
    } else return null;
  }
  const dims = g.dims(weight!);
  if (!dims || dims.length !== 2) return null;
  const [inF, outF] = transposed ? dims : [dims[1], dims[0]];
  if (bias === undefined && n.opType === 'Gemm' && n.input![2]) bias = g.initName(n.input![2]);
  if (bias === undefined) {
    const a = g.consThrough(n.output![0]).find((c) => g.node(c).opType === 'Add' && g.node(c).input!.some((x) => g.isConst(x)));
    if (a !== undefined) {
      const b = g.initName(g.node(a).input!.find((x) => g.isConst(x))!);
      if (b && g.dims(b)?.length === 1 && g.dims(b)![0] === outF) bias = b;
    }
  }
  return { node: i, weight: weight!, transposed, bias, input: n.input![0], inFeatures: inF, outFeatures: outF };
}

/** Reads a layer index from a node name scope ("/model/layers.3/...", "/h.3/...", "layer_3"). */
export function layerFromName(name: string | undefined): number | null {
  if (!name) return null;
  const m = /(?:^|[/._])(?:layers?|h|blocks?|decoder\.layers)[._/]?(\d+)(?:[/._]|$)/i.exec(name);
  return m ? Number(m[1]) : null;
}

const INPUT_ROLE: [RegExp, InputRole][] = [
  [/input_ids|^ids$|tokens?$/i, 'input_ids'],
  [/attention_mask|mask/i, 'attention_mask'],
  [/cache_position/i, 'cache_position'],
  [/position_ids|positions?$/i, 'position_ids'],
  [/logits_to_keep/i, 'logits_to_keep'],
];

function graphInputs(g: GraphIndex, embedIdsInput: string | null): GraphInput[] {
  const out: GraphInput[] = [];
  for (const vi of g.model.graph!.input ?? []) {
    if (g.inits.has(vi.name)) continue;
    const tt = vi.type?.tensorType;
    const elemType = tt?.elemType ?? 0;
    const dims = (tt?.shape?.dim ?? []).map((d) => (d.dimValue !== undefined ? Number(d.dimValue) : (d.dimParam ?? '?')));
    let role: InputRole | undefined = vi.name === embedIdsInput ? 'input_ids' : undefined;
    if (!role && elemType === OnnxDataType.BOOL) role = 'flag';
    if (!role && (elemType === OnnxDataType.FLOAT || elemType === OnnxDataType.FLOAT16)) role = 'past';
    if (!role) role = INPUT_ROLE.find(([re]) => re.test(vi.name))?.[1];
    if (!role) {
      throw new OnnxGraphError(
        `the graph input "${vi.name}" (type ${elemType}) is neither input_ids, attention_mask, position_ids nor a past key/value`,
        'LayerLab feeds decoder LMs exported as by Hugging Face Optimum (input_ids, attention_mask, position_ids, past_key_values.*); re-export the model without extra inputs',
      );
    }
    out.push({ name: vi.name, role, elemType, dims });
  }
  return out;
}

function stepRegion(g: GraphIndex, normOut: string, s: string): Set<number> {
  const f = g.forward(normOut);
  const b = g.backward(s);
  const r = new Set<number>();
  for (const i of f) if (b.has(i)) r.add(i);
  return r;
}

/** Follow a projection output forward to the first matmul with two dynamic inputs (or an attention op): [node, input index]. */
function meetPoint(g: GraphIndex, from: string, region: Set<number>): [number, number] | null {
  const seen = new Set<string>();
  const queue = [from];
  while (queue.length) {
    const t = queue.shift()!;
    if (seen.has(t)) continue;
    seen.add(t);
    for (const c of g.cons(t)) {
      if (!region.has(c)) continue;
      const n = g.node(c);
      const idx = n.input!.indexOf(t);
      if ((n.opType === 'MatMul' && !g.isConst(n.input![0]) && !g.isConst(n.input![1])) || ATTN_OPS.has(n.opType) && n.opType !== 'Softmax') return [c, idx];
      for (const o of n.output ?? []) if (o) queue.push(o);
    }
  }
  return null;
}

/** First Reshape with a constant shape after `from`: its last two dims [H, D] (with 0 / -1 resolved against width). */
function headsAfter(g: GraphIndex, from: string, width: number): { H: number; D: number } | null {
  const queue = [from];
  const seen = new Set<string>();
  while (queue.length) {
    const t = queue.shift()!;
    if (seen.has(t) || seen.size > 64) continue;
    seen.add(t);
    for (const c of g.cons(t)) {
      const n = g.node(c);
      if (n.opType === 'Reshape' && g.isConst(n.input![1])) {
        const sh = tensorNumbers(g.constant(n.input![1])!);
        if (sh.length >= 3) {
          let H = sh[sh.length - 2];
          let D = sh[sh.length - 1];
          if (D === -1 && H > 0) D = width / H;
          if (H === -1 && D > 0) H = width / D;
          if (H > 0 && D > 0 && H * D === width) return { H, D };
        }
      }
      if (MATMUL_OPS.has(n.opType) || n.opType === 'Softmax') continue;
      for (const o of n.output ?? []) if (o) queue.push(o);
    }
  }
  return null;
}

/**
 * Analyse a decoded model. Throws OnnxGraphError ("cannot find the residual stream ...") with a hint when
 * the graph is not a decoder-only LM of the supported shape.
 */
export function analyzeGraph(model: OnnxModel): GraphAnalysis {
  const g = new GraphIndex(model);
  const amb: string[] = [];
  const notLm = (why: string): OnnxGraphError =>
    new OnnxGraphError(
      `cannot find the residual stream: ${why}`,
      'LayerLab opens decoder-only causal LMs (Llama / GPT-2 family, as exported by Hugging Face Optimum or transformers.js): an embedding Gather on input_ids, pre-norm blocks with residual Adds, a final norm and an unembedding MatMul producing logits. Encoder models, merged decoders (decoder_model_merged.onnx: use decoder_model.onnx) and graphs with the blocks inside subgraphs are not supported.',
    );
  if (g.nodes.some((n) => n.opType === 'If' || n.opType === 'Loop' || n.opType === 'Scan')) {
    throw notLm('the graph has If/Loop/Scan nodes (the decoder lives in a subgraph, as in a merged decoder)');
  }
  if (g.nodes.some((n) => n.opType === 'MatMulNBits' || n.opType === 'MatMulInteger' || n.opType === 'DynamicQuantizeMatMul')) {
    amb.push('the graph holds quantized matmuls (MatMulNBits / MatMulInteger): their weights are not float initializers, so weight metrics and allocations skip them');
  }

  // 1. Embedding: Gather(table [V, C] initializer, indices from a graph input).
  const gathers = g.nodes
    .map((n, i) => [n, i] as const)
    .filter(([n]) => n.opType === 'Gather' && g.initName(n.input![0]) !== undefined && (g.dims(g.initName(n.input![0])!)?.length ?? 0) === 2 && (g.attrI(n, 'axis', 0) === 0));
  const fromInput = (t: string): string | null => {
    let x = t;
    for (let k = 0; k < 4; k++) {
      if (g.graphInputs.has(x)) return x;
      const p = g.prod(x);
      if (!p || !['Cast', 'Identity', 'Reshape', 'Unsqueeze', 'Squeeze'].includes(p.opType)) return null;
      x = p.input![0];
    }
    return null;
  };
  const tokenGathers = gathers.filter(([n]) => {
    const src = fromInput(n.input![1]);
    return src !== null && !/position/i.test(src);
  });
  if (tokenGathers.length === 0) throw notLm('no embedding lookup (Gather of a [V, C] initializer by a graph input such as input_ids)');
  if (tokenGathers.length > 1) amb.push(`several embedding-like Gathers read graph inputs (${tokenGathers.map(([n]) => n.name || n.output![0]).join(', ')}); the first is taken as the token embedding`);
  const [embNode, embIdx] = tokenGathers[0];
  const embWeight = g.initName(embNode.input![0])!;
  const [V, C] = g.dims(embWeight)!;
  const idsInput = fromInput(embNode.input![1]);

  // 2. Residual start: the embedding, plus a position embedding Add, times an optional scale.
  let h = embNode.output![0];
  let posEmb: GraphAnalysis['positionEmbedding'] = null;
  for (let k = 0; k < 3 && normsOf(g, h).length === 0; k++) {
    const cs = g.consThrough(h);
    const a = cs.find((c) => g.node(c).opType === 'Add');
    const m = cs.find((c) => g.node(c).opType === 'Mul' && g.node(c).input!.some((x) => g.scalar(x) !== undefined));
    if (a !== undefined) {
      const other = otherInput(g, g.node(a), h)!;
      const p = g.prod(other);
      // Learned positions: Gather(table, position_ids) or Slice(table, P, P + T) of a [rows, C] initializer.
      if ((p?.opType === 'Gather' || p?.opType === 'Slice') && g.initName(p.input![0]) && g.dims(g.initName(p.input![0])!)?.length === 2) {
        const w = g.initName(p.input![0])!;
        posEmb = { weight: w, rows: g.dims(w)![0] };
      }
      h = g.node(a).output![0];
    } else if (m !== undefined) h = g.node(m).output![0];
    else break;
  }
  const residualStart = h;

  // 3. Residual steps.
  const steps: ResidualStep[] = [];
  const sumOutputs = new Map<number, string>();
  let norms = normsOf(g, h);
  let finalNorm: NormInfo | null = null;
  for (let guard = 0; guard < 4096; guard++) {
    if (norms.length === 0) throw notLm(`the residual value "${h}"${steps.length ? ` (after ${steps.length} residual adds)` : ' (the embedding)'} is not read by any normalization`);
    if (norms.length > 1) amb.push(`residual "${h}" is read by ${norms.length} normalizations; the first is taken`);
    const norm = norms[0];
    const reach = g.forward(norm.output);
    const reachT = new Set<string>();
    for (const i of reach) for (const o of g.node(i).output ?? []) if (o) reachT.add(o);
    const cands: { node: number; s: string; out: string; skip: boolean }[] = [];
    for (const c of g.consThrough(h)) {
      const n = g.node(c);
      if (n.opType === 'Add') {
        const s = otherInput(g, n, h);
        if (s && reachT.has(s)) cands.push({ node: c, s, out: n.output![0], skip: false });
      } else if (SKIP_NORM_OPS.has(n.opType)) {
        const s = g.same(n.input![0], h) ? n.input![1] : g.same(n.input![1], h) ? n.input![0] : undefined;
        if (s && reachT.has(s)) {
          let out = n.output?.[3];
          if (!out) {
            out = `layerlab_residual_sum_${c}`;
            sumOutputs.set(c, out);
          }
          cands.push({ node: c, s, out, skip: true });
        }
      }
    }
    if (cands.length === 0) {
      finalNorm = norm;
      break;
    }
    if (cands.length > 1) amb.push(`residual "${h}" has ${cands.length} residual-add candidates; the first is taken`);
    const cand = cands[0];
    const region = stepRegion(g, norm.output, cand.s);
    const kind: 'attn' | 'mlp' = [...region].some((i) => ATTN_OPS.has(g.node(i).opType)) ? 'attn' : 'mlp';
    const outProj = projectionBehind(g, cand.s);
    const inProj: Record<string, Projection> = {};
    const projs = [...region]
      .sort((a, b) => a - b)
      .filter((i) => MATMUL_OPS.has(g.node(i).opType) && i !== outProj?.node)
      .map((i) => projection(g, i))
      .filter((p): p is Projection => p !== null && reachesFrom(g, p.input, norm.output));
    const label = `${kind === 'attn' ? 'attention' : 'MLP'} sublayer ${Math.floor(steps.length / 2)}`;
    if (kind === 'attn') {
      if (projs.length === 1) inProj.qkv = projs[0];
      else if (projs.length === 3) {
        const meets = projs.map((p) => meetPoint(g, g.node(p.node).output![0], region));
        const scoreNode = meets.find((m, i) => m && meets.some((o, j) => j !== i && o && o[0] === m[0]))?.[0];
        const q = projs.findIndex((_, i) => meets[i]?.[0] === scoreNode && meets[i]?.[1] === 0);
        const kk = projs.findIndex((_, i) => meets[i]?.[0] === scoreNode && meets[i]?.[1] === 1);
        const v = projs.findIndex((_, i) => i !== q && i !== kk);
        if (scoreNode !== undefined && q >= 0 && kk >= 0 && v >= 0) Object.assign(inProj, { q: projs[q], k: projs[kk], v: projs[v] });
        else {
          amb.push(`${label}: could not tell q, k and v apart from where they meet; taken in node order`);
          Object.assign(inProj, { q: projs[0], k: projs[1], v: projs[2] });
        }
      } else amb.push(`${label}: ${projs.length} input projections (expected q, k, v or one fused qkv)`);
    } else {
      if (projs.length === 1) inProj.up = projs[0];
      else if (projs.length === 2) {
        const isGate = projs.map((p) => {
          const outT = p.bias ? g.consThrough(g.node(p.node).output![0]).map((c) => g.node(c).output![0]) : [g.node(p.node).output![0]];
          return outT.some((t) => g.consThrough(t).some((c) => ACT_OPS.has(g.node(c).opType)));
        });
        const gi = isGate.indexOf(true);
        if (gi >= 0 && isGate.filter(Boolean).length === 1) Object.assign(inProj, { gate: projs[gi], up: projs[1 - gi] });
        else {
          amb.push(`${label}: could not tell the gate from the up projection; taken in node order`);
          Object.assign(inProj, { gate: projs[0], up: projs[1] });
        }
      } else amb.push(`${label}: ${projs.length} input projections (expected gate and up, or up)`);
    }
    if (!outProj) amb.push(`${label}: no output projection (MatMul/Gemm with a constant weight) produces the sublayer output`);
    const addNode = g.node(cand.node);
    const nameLayer = layerFromName(addNode.name) ?? (outProj ? layerFromName(g.node(outProj.node).name) : null);
    steps.push({ kind, resIn: h, norm, subOut: cand.s, resOut: cand.out, addNode: cand.node, outProj, inProj, nameLayer });
    h = cand.out;
    norms = cand.skip ? [fusedNorm(g, cand.node)] : normsOf(g, h);
  }
  if (!finalNorm) throw notLm('the residual chain does not end in a final normalization');
  if (steps.length === 0) throw notLm('no residual Add after the first normalization (no pre-norm blocks)');

  // 4. Blocks: (attention, MLP) pairs.
  if (steps.length % 2 !== 0) throw notLm(`found ${steps.length} residual adds, an odd number: the blocks are not attention + MLP pairs`);
  const blocks: BlockInfo[] = [];
  for (let l = 0; l < steps.length / 2; l++) {
    const a = steps[2 * l];
    const m = steps[2 * l + 1];
    if (a.kind !== 'attn' || m.kind !== 'mlp') throw notLm(`residual adds ${2 * l} and ${2 * l + 1} are ${a.kind} and ${m.kind}, not attention then MLP`);
    blocks.push({ layer: l, attn: a, mlp: m });
  }

  // 5. Unembedding: MatMul/Gemm reading the final norm output; logits.
  let unembedding: GraphAnalysis['unembedding'] = null;
  const um = [...g.forward(finalNorm.output)].sort((a, b) => a - b).find((i) => MATMUL_OPS.has(g.node(i).opType) && reachesFrom(g, g.node(i).input![0], finalNorm!.output));
  let logits: string | undefined = g.graphOutputs.find((o) => o === 'logits');
  if (um !== undefined) {
    const p = projection(g, um);
    const tied = p ? p.weight === embWeight || sameValues(g, p.weight, embWeight, p.transposed) : false;
    unembedding = p ? { node: um, weight: p.weight, transposed: p.transposed, tied, bias: p.bias } : { node: um, weight: null, transposed: false, tied: false };
    if (!p) amb.push('the unembedding matmul has no constant weight: the logit lens is not available');
    const reach = g.forward(g.node(um).output![0]);
    const outs = g.graphOutputs.filter((o) => o === g.node(um).output![0] || (g.producer.has(o) && reach.has(g.producer.get(o)!)));
    if (!logits || !outs.includes(logits)) logits = outs[0];
  } else amb.push('no unembedding matmul after the final norm: the logit lens is not available');
  if (!logits) throw notLm('no graph output (logits) follows the final normalization');

  // 6. Heads, widths.
  const a0 = blocks[0].attn;
  let heads = { nHeads: 1, nKvHeads: 1, headDim: C, fromGraph: false };
  const q = a0.inProj.q ?? a0.inProj.qkv;
  const attnOps = [...stepRegion(g, a0.norm.output, a0.subOut)].map((i) => g.node(i)).find((n) => ['GroupQueryAttention', 'MultiHeadAttention', 'Attention'].includes(n.opType));
  if (attnOps) {
    const H = g.attrI(attnOps, 'num_heads', 0);
    const Hkv = g.attrI(attnOps, 'kv_num_heads', H);
    if (H > 0 && q) heads = { nHeads: H, nKvHeads: Hkv, headDim: (a0.inProj.q?.outFeatures ?? C) / H, fromGraph: true };
  } else if (a0.inProj.qkv) {
    // Fused QKV (GPT-2): q, k and v are C wide each after the split.
    const h = headsAfter(g, g.node(a0.inProj.qkv.node).output![0], a0.inProj.qkv.outFeatures / 3);
    if (h) heads = { nHeads: h.H, nKvHeads: h.H, headDim: h.D, fromGraph: true };
  } else if (a0.inProj.q && a0.inProj.k) {
    const hq = headsAfter(g, g.node(a0.inProj.q.node).output![0], a0.inProj.q.outFeatures);
    const hk = headsAfter(g, g.node(a0.inProj.k.node).output![0], a0.inProj.k.outFeatures);
    if (hq && hk && hq.D === hk.D) heads = { nHeads: hq.H, nKvHeads: hk.H, headDim: hq.D, fromGraph: true };
  }
  if (!heads.fromGraph) {
    // Unknown: the widest head size consistent with the q and k widths (gcd), so that the shapes the
    // spec implies match the weights; the metrics do not depend on the head count.
    const qw = a0.inProj.q?.outFeatures ?? (a0.inProj.qkv ? a0.inProj.qkv.outFeatures / 3 : C);
    const kw = a0.inProj.k?.outFeatures ?? qw;
    const gcd = (x: number, y: number): number => (y === 0 ? x : gcd(y, x % y));
    const D = gcd(qw, kw);
    heads = { nHeads: qw / D, nKvHeads: kw / D, headDim: D, fromGraph: false };
    amb.push(`head count not found from Reshape constants or attention op attributes: reported as ${qw / D} heads of ${D} (only shapes depend on it)`);
  }
  const dFF = blocks[0].mlp.outProj?.inFeatures ?? blocks[0].mlp.inProj.up?.outFeatures ?? 4 * C;

  // 7. Names as a cross-check.
  let low = false;
  const withNames = blocks.filter((b) => b.attn.nameLayer !== null || b.mlp.nameLayer !== null);
  for (const b of withNames) {
    for (const s of [b.attn, b.mlp]) {
      if (s.nameLayer !== null && s.nameLayer !== b.layer) {
        amb.push(`block ${b.layer}: its ${s.kind} residual add is named for layer ${s.nameLayer}`);
        low = true;
      }
    }
  }
  if (withNames.length > 0 && withNames.length < blocks.length) amb.push(`only ${withNames.length} of ${blocks.length} blocks carry a layer index in their node names`);
  const confidence: GraphAnalysis['confidence'] = low ? 'low' : amb.length ? 'medium' : 'high';

  const inputs = graphInputs(g, idsInput);
  const posIds = inputs.find((i) => i.role === 'position_ids')?.name;
  let positionRows: number | null = posEmb?.rows ?? null;
  if (positionRows === null && posIds) {
    const tables = gathers.filter(([n]) => fromInput(n.input![1]) === posIds).map(([n]) => g.dims(g.initName(n.input![0])!)![0]);
    if (tables.length) positionRows = Math.min(...tables);
  }
  return {
    blocks,
    ambiguities: amb,
    positionRows,
    confidence,
    embedding: { gather: embIdx, weight: embWeight, vocab: V, dModel: C, output: embNode.output![0] },
    positionEmbedding: posEmb,
    residualStart,
    finalNorm,
    unembedding,
    logits,
    inputs,
    heads,
    dFF,
    sumOutputs,
  };
}

/** Whether tensor t is x or computed from x by shape-only ops (Reshape, Cast, Transpose, Squeeze). */
function reachesFrom(g: GraphIndex, t: string, x: string): boolean {
  let n = t;
  for (let k = 0; k < 6; k++) {
    if (n === x) return true;
    const p = g.prod(n);
    if (!p || !['Cast', 'Identity', 'Reshape', 'Squeeze', 'Unsqueeze', 'Flatten'].includes(p.opType)) return false;
    n = p.input![0];
  }
  return false;
}

/** Float32 view of a FLOAT initializer's raw bytes (copied when unaligned), or null. */
function f32View(t: OnnxTensor): Float32Array | null {
  if (t.dataType !== OnnxDataType.FLOAT) return null;
  const r = t.rawData;
  if (r && r.length) return r.byteOffset % 4 === 0 ? new Float32Array(r.buffer, r.byteOffset, r.byteLength / 4) : new Float32Array(new Uint8Array(r).buffer);
  return t.floatData ? Float32Array.from(t.floatData) : null;
}

/** Whether initializer a (read as [C, V] when transposed, else [V, C]) holds the embedding's values (a sample first, then all). */
function sameValues(g: GraphIndex, a: string, emb: string, transposed: boolean): boolean {
  const ta = g.inits.get(a)!;
  const te = g.inits.get(emb)!;
  const da = (ta.dims ?? []).map(Number);
  const [V, C] = (te.dims ?? []).map(Number);
  if (transposed ? da[0] !== C || da[1] !== V : da[0] !== V || da[1] !== C) return false;
  const va = f32View(ta);
  const ve = f32View(te);
  if (!va || !ve || va.length !== ve.length) return false;
  const at = (v: number, c: number): number => (transposed ? va[c * V + v] : va[v * C + c]);
  const n = V * C;
  const step = Math.max(1, Math.floor(n / 4096));
  for (let i = 0; i < n; i += step) if (at(Math.floor(i / C), i % C) !== ve[i]) return false;
  for (let i = 0; i < n; i++) if (at(Math.floor(i / C), i % C) !== ve[i]) return false;
  return true;
}
