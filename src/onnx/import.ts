// Opening an ONNX causal LM: bytes (+ external data files, + a tokenizer) -> a LoadedModel LayerLab's
// analysis code understands, plus what the ONNX session (session.ts) needs to run the graph.
//
// - The .onnx file is decoded with protobufjs (proto.ts); initializers stored as EXTERNAL
//   (external_data: location / offset / length) are read from the files the user supplies and inlined,
//   so the graph handed to onnxruntime-web is self-contained (protobuf caps one message at 2 GiB: larger
//   models cannot be inlined; see README "Opening ONNX models"). A missing file is named in the error.
// - The graph analysis (graph.ts) finds the blocks; the initializers it attributes to each block are
//   exposed under LayerLab's canonical GGUF-style names (token_embd, blk.N.attn_q, ..., output_norm,
//   output) as F32 tensors in [out, in] order (ONNX MatMul weights are [in, out] and are transposed), so
//   the weight metrics (src/core/metrics/weights.ts, zd.ts) and allocations (src/core/allocation) run
//   unchanged. `canonical` remembers which initializer each name came from, to write edits back.
// - The ModelSpec holds what the graph tells (layers, widths, vocabulary, heads from Reshape constants,
//   norm kind and epsilon, tied unembedding, biases); RoPE is inside the graph and is reported as 'none'.
//   Context length: the caller's, else the rows of a table gathered by position_ids (learned positions or
//   a RoPE cache), else metadata (max_position_embeddings), else 2048.
//   The spec is not meant to drive LayerLab's own forward: ONNX models run only through onnxruntime.

import type { LoadedModel, WeightTensor } from '../core/formats/types.ts';
import type { ModelSpec } from '../core/model/spec.ts';
import type { Tokenizer } from '../core/formats/tokenizer.ts';
import { GGMLType } from '../core/quant/types.ts';
import { f16Lut } from '../core/quant/half.ts';
import { fromTokenizerJson } from '../core/formats/tokenizer-bpe.ts';
import { sentencePieceFromLlama2c } from '../core/formats/tokenizer-spm.ts';
import { isLlama2cTokenizer } from '../core/formats/llama2c.ts';
import { decodeOnnxModel, OnnxDataType, OnnxFormatError, type OnnxModel, type OnnxTensor } from './proto.ts';
import { analyzeGraph, tensorNumbers, type GraphAnalysis, type NormInfo, type Projection } from './graph.ts';

export interface NamedFile {
  name: string;
  bytes: Uint8Array;
}

/** Where a canonical tensor lives in the graph. */
export interface CanonicalSource {
  init: string;
  /** The initializer is [in, out]; the canonical tensor is its transpose. */
  transposed: boolean;
}

export interface OnnxLoaded {
  /** Canonical view (format 'onnx'); its spec and tensors serve the metrics and allocations. */
  model: LoadedModel;
  /** The decoded graph with external data inlined. */
  onnx: OnnxModel;
  analysis: GraphAnalysis;
  canonical: Map<string, CanonicalSource>;
  /** Name of the .onnx file. */
  fileName: string;
}

export interface OnnxLoadOptions {
  tokenizer?: Tokenizer;
  contextLength?: number;
  name?: string;
}

/** What ONNX models get in LayerLab (ModelInfo.features, README "Opening ONNX models"). */
export const ONNX_FEATURES = {
  supported: ['logits', 'nll', 'perplexity', 'generate', 'analyze: cos, lim, contrib, cka, lens, zd, weights, agreement', 'allocations by rewriting initializers (quantize-dequantize, drops)', 'compare'],
  needsNativeFile: ['ablation', 'quant', 'taylor', 'fisher', 'zo', 'GPU engine', 'GGUF export'],
};

/** Metric groups an ONNX model supports in analyze. */
export const ONNX_METRICS = ['cos', 'lim', 'contrib', 'cka', 'lens', 'zd', 'weights', 'agreement'];

/**
 * The metric groups to run for an ONNX model: 'all' means every group ONNX supports; a group that needs
 * LayerLab's own forward (a GGUF or safetensors file) is refused by name.
 */
export function checkOnnxMetrics(metrics: readonly string[], model?: LoadedModel): string[] {
  const asked = metrics.map((m) => m.trim().toLowerCase()).filter((m) => m);
  const noLens = model?.meta['onnx.unembedding'] === 'none';
  if (noLens && asked.includes('lens')) {
    throw new Error('metric lens is not available for this ONNX model: the graph analysis found no unembedding matmul with a constant weight after the final norm (see onnx.ambiguities in info)');
  }
  const bad = asked.filter((m) => m !== 'all' && !ONNX_METRICS.includes(m));
  if (bad.length) {
    throw new Error(
      `metric${bad.length > 1 ? 's' : ''} ${bad.join(', ')} ${bad.length > 1 ? 'are' : 'is'} not available for ONNX models: ${bad.length > 1 ? 'they need' : 'it needs'} LayerLab's own forward pass, so open the model as a GGUF or safetensors file (ONNX models support ${ONNX_METRICS.join(', ')})`,
    );
  }
  return asked.includes('all') ? ONNX_METRICS.filter((m) => !(noLens && m === 'lens')) : asked;
}

const base = (n: string): string => n.split(/[\\/]/).pop() ?? n;

/** Inline every EXTERNAL initializer from the supplied files; a missing file is named. */
export function inlineExternalData(model: OnnxModel, files: readonly NamedFile[], modelName = 'model.onnx'): void {
  const byName = new Map(files.map((f) => [base(f.name), f.bytes]));
  for (const t of model.graph?.initializer ?? []) {
    if (t.dataLocation !== 1) continue;
    const kv = new Map((t.externalData ?? []).map((e) => [e.key, e.value]));
    const loc = kv.get('location');
    if (!loc) throw new OnnxFormatError(`initializer ${t.name} is stored externally but names no file`, 'the ONNX file is damaged: export it again');
    const bytes = byName.get(base(loc));
    if (!bytes) {
      throw new OnnxFormatError(
        `initializer ${t.name} is stored in the external data file "${loc}", which was not given`,
        `add ${base(loc)} (it sits next to ${modelName} in the export folder) to the files you open`,
      );
    }
    const off = Number(kv.get('offset') ?? 0);
    const len = kv.has('length') ? Number(kv.get('length')) : bytes.length - off;
    if (off + len > bytes.length) {
      throw new OnnxFormatError(`external data for ${t.name} reaches byte ${off + len} of "${loc}", which has ${bytes.length}`, `${base(loc)} is truncated or belongs to another export`);
    }
    t.rawData = new Uint8Array(bytes.subarray(off, off + len));
    delete t.externalData;
    delete t.dataLocation;
  }
}

/** Float32 values of an initializer (FLOAT or FLOAT16), in its stored layout. */
export function initValues(t: OnnxTensor): Float32Array {
  if (t.dataType !== OnnxDataType.FLOAT && t.dataType !== OnnxDataType.FLOAT16) {
    throw new OnnxFormatError(`initializer ${t.name} has ONNX data type ${t.dataType}`, 'LayerLab reads float32 and float16 ONNX weights only');
  }
  if (t.dataType === OnnxDataType.FLOAT && t.rawData?.length) {
    // A copy (protobufjs hands out Node Buffers whose slice() is a view at any byte offset).
    const c = new Uint8Array(t.rawData);
    return new Float32Array(c.buffer, 0, c.byteLength / 4);
  }
  if (t.dataType === OnnxDataType.FLOAT16 && t.rawData?.length) {
    const h = new Uint16Array(new Uint8Array(t.rawData).buffer);
    const lut = f16Lut();
    return Float32Array.from(h, (x) => lut[x]);
  }
  return Float32Array.from(tensorNumbers(t));
}

export function transpose(x: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = x[r * cols + c];
  return out;
}

function f32(name: string, shape: number[], v: Float32Array): WeightTensor {
  return { name, type: GGMLType.F32, shape, data: new Uint8Array(v.buffer, v.byteOffset, v.byteLength) };
}

function tokenizerFrom(files: readonly NamedFile[], opts: OnnxLoadOptions): Tokenizer {
  if (opts.tokenizer) return opts.tokenizer;
  const parse = (f: NamedFile): Record<string, unknown> => JSON.parse(new TextDecoder().decode(f.bytes)) as Record<string, unknown>;
  const tj = files.find((f) => base(f.name) === 'tokenizer.json');
  if (tj) {
    const cfg = files.find((f) => base(f.name) === 'tokenizer_config.json');
    return fromTokenizerJson(parse(tj), cfg ? parse(cfg) : undefined);
  }
  const bin = files.find((f) => /\.bin$/i.test(f.name) && isLlama2cTokenizer(f.bytes));
  if (bin) return sentencePieceFromLlama2c(bin.bytes, { bosId: 1, eosId: 2, addBos: true });
  throw new OnnxFormatError(
    'an ONNX model needs its tokenizer, and none was given',
    'add the tokenizer.json from the model folder (in the CLI: put it beside the .onnx file or pass --tokenizer PATH)',
  );
}

/** Decode, inline external data, analyse the graph and build the canonical LoadedModel. */
export function loadOnnx(files: readonly NamedFile[], opts: OnnxLoadOptions = {}): OnnxLoaded {
  const main = files.find((f) => /\.onnx$/i.test(f.name));
  if (!main) throw new OnnxFormatError('no .onnx file among the files given', 'choose the model .onnx file (and its external data files and tokenizer.json)');
  const onnx = decodeOnnxModel(main.bytes);
  inlineExternalData(onnx, files.filter((f) => f !== main), base(main.name));
  const analysis = analyzeGraph(onnx);
  const inits = new Map((onnx.graph!.initializer ?? []).map((t) => [t.name ?? '', t]));
  const tensors = new Map<string, WeightTensor>();
  const canonical = new Map<string, CanonicalSource>();
  const C = analysis.embedding.dModel;
  const V = analysis.embedding.vocab;

  const put = (name: string, init: string, transposed: boolean): WeightTensor => {
    const t = inits.get(init)!;
    const dims = (t.dims ?? []).map(Number);
    let v = initValues(t);
    let shape = dims;
    if (transposed) {
      v = transpose(v, dims[0], dims[1]);
      shape = [dims[1], dims[0]];
    }
    const w = f32(name, shape, v);
    tensors.set(name, w);
    canonical.set(name, { init, transposed });
    return w;
  };
  const putNorm = (name: string, n: NormInfo): void => {
    if (n.weight) put(name, n.weight, false);
    else tensors.set(name, f32(name, [C], new Float32Array(C).fill(1)));
    if (n.bias) put(`${name}.bias`, n.bias, false);
    else if (n.kind === 'layer') tensors.set(`${name}.bias`, f32(`${name}.bias`, [C], new Float32Array(C)));
  };
  const putProj = (name: string, p: Projection | null | undefined): void => {
    if (!p) return;
    put(name, p.weight, p.transposed);
    if (p.bias) put(`${name}.bias`, p.bias, false);
  };

  put('token_embd', analysis.embedding.weight, false);
  if (analysis.positionEmbedding) put('position_embd', analysis.positionEmbedding.weight, false);
  for (const b of analysis.blocks) {
    const p = `blk.${b.layer}.`;
    putNorm(`${p}attn_norm`, b.attn.norm);
    for (const k of ['q', 'k', 'v', 'qkv']) putProj(`${p}attn_${k}`, b.attn.inProj[k]);
    putProj(`${p}attn_output`, b.attn.outProj);
    putNorm(`${p}ffn_norm`, b.mlp.norm);
    putProj(`${p}ffn_gate`, b.mlp.inProj.gate);
    putProj(`${p}ffn_up`, b.mlp.inProj.up);
    putProj(`${p}ffn_down`, b.mlp.outProj);
  }
  putNorm('output_norm', analysis.finalNorm);
  const u = analysis.unembedding;
  if (u?.weight && !u.tied) {
    put('output', u.weight, u.transposed);
    if (u.bias) put('output.bias', u.bias, false);
  }

  const tokenizer = tokenizerFrom(files, opts);
  const b0 = analysis.blocks[0];
  const metaCtx = onnx.metadataProps?.find((p) => /max_position_embeddings|context_length|n_positions/.test(p.key))?.value;
  const spec: ModelSpec = {
    arch: analysis.finalNorm.kind === 'rms' ? 'llama' : 'gpt2',
    name: opts.name ?? (onnx.graph?.name || base(main.name).replace(/\.onnx$/i, '')),
    nLayers: analysis.blocks.length,
    dModel: C,
    nHeads: analysis.heads.nHeads,
    nKvHeads: analysis.heads.nKvHeads,
    headDim: analysis.heads.headDim,
    dFF: analysis.dFF,
    vocabSize: V,
    contextLength: opts.contextLength ?? analysis.positionRows ?? (metaCtx ? Number(metaCtx) : 2048),
    norm: { kind: analysis.finalNorm.kind, eps: analysis.finalNorm.eps },
    rope: { kind: 'none', theta: 10000, dim: analysis.heads.headDim },
    learnedPositions: analysis.positionEmbedding !== null,
    mlp: b0.mlp.inProj.gate ? 'silu-gate' : 'gelu',
    tiedEmbeddings: !!u?.tied,
    qkvBias: !!(b0.attn.inProj.q?.bias ?? b0.attn.inProj.qkv?.bias),
    linearBias: !!b0.attn.outProj?.bias,
    fusedQkv: !!b0.attn.inProj.qkv,
    bosId: tokenizer.bosId,
    eosId: tokenizer.eosId,
    addBos: tokenizer.addBosDefault,
  };
  if (tokenizer.vocabSize > V) {
    throw new OnnxFormatError(`the tokenizer has ${tokenizer.vocabSize} tokens but the model's embedding has ${V} rows`, 'give the tokenizer.json that belongs to this model');
  }
  const meta: Record<string, string | number | boolean> = {
    'onnx.file': base(main.name),
    'onnx.bytes': main.bytes.length,
    'onnx.producer': `${onnx.producerName ?? '?'} ${onnx.producerVersion ?? ''}`.trim(),
    'onnx.opset': (onnx.opsetImport ?? []).map((o) => `${o.domain || 'ai.onnx'}:${o.version}`).join(' '),
    'onnx.nodes': onnx.graph!.node!.length,
    'onnx.confidence': analysis.confidence,
    'onnx.ambiguities': analysis.ambiguities.join(' | '),
    'onnx.norm': analysis.finalNorm.form,
    'onnx.heads_from_graph': analysis.heads.fromGraph,
    'onnx.past_inputs': analysis.inputs.filter((i) => i.role === 'past').length,
    'onnx.unembedding': !u?.weight ? 'none' : u.tied ? 'tied' : 'separate',
  };
  return { model: { spec, tensors, tokenizer, format: 'onnx', meta }, onnx, analysis, canonical, fileName: base(main.name) };
}
