// Hugging Face safetensors (+ config.json) loader. safetensors format (huggingface/safetensors README):
// u64 little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]},
// "__metadata__": {...}}, then the data; offsets are relative to byte 8 + N. One or more shards.
// config.json's model_type picks the graph:
// - llama / mistral / qwen2: names model.layers.N.self_attn.q_proj ... mapped onto canonical GGUF names;
//   Hugging Face keeps Q/K in the rotate_half layout, so RoPE kind is 'half' (no permutation). Qwen2 adds
//   q/k/v biases.
// - gpt2: Conv1D weights are stored [in, out] (y = x W + b); they are transposed here into the
//   canonical [out, in] as F32 (a copy). c_attn -> attn_qkv (fused), attn.c_proj -> attn_output,
//   c_fc -> ffn_up, mlp.c_proj -> ffn_down, ln_1/ln_2/ln_f -> attn_norm/ffn_norm/output_norm,
//   wte/wpe -> token_embd/position_embd; the output head is tied to wte unless the config says otherwise.
// Untransposed tensors are zero-copy views of the shard bytes.

import type { ModelSpec } from '../model/spec.ts';
import { GGMLType, typeName } from '../quant/types.ts';
import { bf16ToF32, f16ToF32 } from '../tensor.ts';
import {
  applyContextLength,
  buildTokenizer,
  checkTensors,
  checkTokenizer,
  describeValue,
  extraTensorsError,
  finiteNumber,
  positiveInt,
  type LoaderOptions,
} from './common.ts';
import { LoadError, describeBytes, fmtBytes } from './errors.ts';
import { fromTokenizerJson } from './tokenizer-bpe.ts';
import type { LoadedModel, WeightTensor } from './types.ts';

export interface SafetensorsEntry {
  name: string;
  dtype: string;
  shape: number[];
  /** Absolute byte range inside the shard. */
  begin: number;
  end: number;
  /** Index of the shard in the weights array. */
  shard: number;
}

export interface SafetensorsFile {
  entries: Map<string, SafetensorsEntry>;
  metadata: Record<string, string> | null;
  /** Absolute offset of the data section (8 + header length). */
  dataOffset: number;
}

/** Bytes per element of the safetensors dtypes. */
const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, F8_E8M0: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  I64: 8, U64: 8, F64: 8,
};
const DTYPE_TO_GGML: Record<string, GGMLType> = { F32: GGMLType.F32, F16: GGMLType.F16, BF16: GGMLType.BF16 };
const MAX_HEADER = 100 * 1024 * 1024; // the safetensors reference implementation's limit

function badHeader(label: string, why: string, bytes?: Uint8Array): LoadError {
  const looks = bytes ? describeBytes(bytes) : null;
  return new LoadError(
    'bad-header',
    `safetensors ${label}: ${why}${looks && looks !== 'a safetensors file' ? `; the file looks like ${looks}` : ''}`,
    'This is not a valid .safetensors file: download it again or pick the right file.',
  );
}

/** Parses one safetensors shard's header (bounds-checked; no tensor bytes are copied). */
export function parseSafetensors(bytes: Uint8Array, shard = 0, label = 'model.safetensors'): SafetensorsFile {
  if (bytes.length === 0) throw new LoadError('empty', `safetensors ${label}: the file is empty (0 bytes)`, 'The download or copy failed: get the file again.');
  if (bytes.length < 8) {
    throw new LoadError('truncated', `safetensors ${label}: ${fmtBytes(bytes.length)}, too short for the 8-byte header length`, 'The file is incomplete: download it again.');
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = dv.getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER)) {
    throw badHeader(label, `header length ${n64.toLocaleString('en-US')} is implausible (limit ${fmtBytes(MAX_HEADER)})`, bytes);
  }
  const n = Number(n64);
  if (8 + n > bytes.length) {
    // A real header that runs past the end means truncation; otherwise it is not a safetensors file.
    if (bytes[8] === 0x7b) {
      throw new LoadError(
        'truncated',
        `safetensors ${label}: truncated: the header claims ${fmtBytes(n)} but only ${fmtBytes(bytes.length - 8)} follow the length field`,
        'The file is incomplete: download it again and check its size.',
      );
    }
    throw badHeader(label, `header length ${n.toLocaleString('en-US')} exceeds the file size ${fmtBytes(bytes.length)}`, bytes);
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    throw badHeader(label, `the header is not valid JSON (${e instanceof Error ? e.message : String(e)})`, bytes);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw badHeader(label, 'the header is not a JSON object', bytes);
  const dataOffset = 8 + n;
  const entries = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> | null = null;
  for (const [name, v] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof v === 'object' && v !== null) metadata = v as Record<string, string>;
      continue;
    }
    if (typeof v !== 'object' || v === null) throw badHeader(label, `entry "${name}" is not an object`);
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const shape = e.shape;
    const offs = e.data_offsets;
    if (typeof e.dtype !== 'string') throw badHeader(label, `tensor "${name}" has no dtype`);
    if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
      throw badHeader(label, `tensor "${name}" has an invalid shape ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(offs) || offs.length !== 2 || offs.some((d) => !Number.isSafeInteger(d) || d < 0) || offs[0] > offs[1]) {
      throw badHeader(label, `tensor "${name}" has invalid data_offsets ${JSON.stringify(offs)}`);
    }
    const begin = dataOffset + (offs[0] as number);
    const end = dataOffset + (offs[1] as number);
    const numel = (shape as number[]).reduce((a, b) => a * b, 1);
    const eb = DTYPE_BYTES[e.dtype];
    if (eb !== undefined && numel * eb !== end - begin) {
      throw badHeader(label, `tensor "${name}" (${e.dtype} [${shape.join(', ')}]) needs ${fmtBytes(numel * eb)} but its data_offsets span ${fmtBytes(end - begin)}`);
    }
    if (end > bytes.length) {
      throw new LoadError(
        'truncated',
        `safetensors ${label}: truncated: tensor "${name}" needs bytes ${begin.toLocaleString('en-US')}..${end.toLocaleString('en-US')} but the file has ${fmtBytes(bytes.length)}`,
        'The file is incomplete: download it again and check its size.',
      );
    }
    entries.set(name, { name, dtype: e.dtype, shape: shape as number[], begin, end, shard });
  }
  return { entries, metadata, dataOffset };
}

/** Model types whose config.json this loader understands. */
export const HF_MODEL_TYPES = ['llama', 'mistral', 'qwen2', 'gpt2'] as const;

export interface SafetensorsInput {
  /** Parsed config.json. */
  config: object;
  /** One or more .safetensors shards. */
  weights: Uint8Array[];
  /** Parsed tokenizer.json. */
  tokenizerJson?: object;
  /** Parsed tokenizer_config.json. */
  tokenizerConfig?: object;
  /** Shard file names, for messages. */
  weightNames?: string[];
  /** Name of the folder the files came from (a model name when config.json has no _name_or_path). */
  folderName?: string;
}

type Cfg = Record<string, unknown>;

/** First number of a number or a list of numbers (eos_token_id may be a list); null otherwise. */
function firstId(v: unknown): number | null {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  if (Array.isArray(v) && typeof v[0] === 'number') return firstId(v[0]);
  return null;
}

/** Transposes a 2-D [rows, cols] tensor of F32/F16/BF16 into [cols, rows] F32. */
function transposeToF32(src: Uint8Array, dtype: string, rows: number, cols: number): Uint8Array {
  const out = new Float32Array(rows * cols);
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      const v = dtype === 'F32' ? dv.getFloat32(4 * i, true) : dtype === 'F16' ? f16ToF32(dv.getUint16(2 * i, true)) : bf16ToF32(dv.getUint16(2 * i, true));
      out[c * rows + r] = v;
    }
  }
  return new Uint8Array(out.buffer);
}

/** Maps a Hugging Face tensor name (prefix already stripped) to its canonical name, for the llama family. */
function llamaName(n: string): string | null {
  if (n === 'embed_tokens.weight') return 'token_embd';
  if (n === 'norm.weight') return 'output_norm';
  if (n === 'lm_head.weight') return 'output';
  const m = /^layers\.(\d+)\.(.+)$/.exec(n);
  if (!m) return null;
  const b = `blk.${m[1]}.`;
  const map: Record<string, string> = {
    'input_layernorm.weight': 'attn_norm',
    'post_attention_layernorm.weight': 'ffn_norm',
    'self_attn.q_proj.weight': 'attn_q',
    'self_attn.k_proj.weight': 'attn_k',
    'self_attn.v_proj.weight': 'attn_v',
    'self_attn.q_proj.bias': 'attn_q.bias',
    'self_attn.k_proj.bias': 'attn_k.bias',
    'self_attn.v_proj.bias': 'attn_v.bias',
    'self_attn.o_proj.weight': 'attn_output',
    'self_attn.o_proj.bias': 'attn_output.bias',
    'mlp.gate_proj.weight': 'ffn_gate',
    'mlp.up_proj.weight': 'ffn_up',
    'mlp.down_proj.weight': 'ffn_down',
  };
  return map[m[2]] !== undefined ? b + map[m[2]] : null;
}

/** Canonical name for a GPT-2 tensor and whether it is a Conv1D weight that needs a transpose. */
function gpt2Name(n: string): { name: string; transpose: boolean } | null {
  const top: Record<string, string> = {
    'wte.weight': 'token_embd',
    'wpe.weight': 'position_embd',
    'ln_f.weight': 'output_norm',
    'ln_f.bias': 'output_norm.bias',
    'lm_head.weight': 'output',
  };
  if (top[n] !== undefined) return { name: top[n], transpose: false };
  const m = /^h\.(\d+)\.(.+)$/.exec(n);
  if (!m) return null;
  const b = `blk.${m[1]}.`;
  const map: Record<string, [string, boolean]> = {
    'ln_1.weight': ['attn_norm', false],
    'ln_1.bias': ['attn_norm.bias', false],
    'ln_2.weight': ['ffn_norm', false],
    'ln_2.bias': ['ffn_norm.bias', false],
    'attn.c_attn.weight': ['attn_qkv', true],
    'attn.c_attn.bias': ['attn_qkv.bias', false],
    'attn.c_proj.weight': ['attn_output', true],
    'attn.c_proj.bias': ['attn_output.bias', false],
    'mlp.c_fc.weight': ['ffn_up', true],
    'mlp.c_fc.bias': ['ffn_up.bias', false],
    'mlp.c_proj.weight': ['ffn_down', true],
    'mlp.c_proj.bias': ['ffn_down.bias', false],
  };
  const hit = map[m[2]];
  return hit ? { name: b + hit[0], transpose: hit[1] } : null;
}

/** Buffers some checkpoints carry that are not weights (causal masks, cached RoPE frequencies). */
const IGNORABLE = [/^h\.\d+\.attn\.(bias|masked_bias)$/, /^layers\.\d+\.self_attn\.rotary_emb\.inv_freq$/];

/** Loads a Hugging Face model from config.json + safetensors shards (+ tokenizer files). */
export function loadSafetensors(files: SafetensorsInput, opts: LoaderOptions = {}): LoadedModel {
  const src = 'safetensors';
  const cfg = files.config as Cfg;
  if (typeof cfg !== 'object' || cfg === null) {
    throw new LoadError('bad-metadata', 'config.json is not a JSON object', 'Give the config.json of the Hugging Face model.');
  }
  const modelType = cfg.model_type;
  if (typeof modelType !== 'string') {
    throw new LoadError('bad-metadata', 'config.json has no "model_type"', 'Give the config.json of the Hugging Face model (it names the architecture in model_type).');
  }
  if (!(HF_MODEL_TYPES as readonly string[]).includes(modelType)) {
    throw new LoadError(
      'unsupported-architecture',
      `config.json: unsupported model_type "${modelType}" (supported: ${HF_MODEL_TYPES.join(', ')})`,
      'This engine implements only the Llama (also Mistral, Qwen2) and GPT-2 graphs; pick a model of one of those families.',
    );
  }
  if (files.weights.length === 0) {
    throw new LoadError('incomplete-files', 'safetensors: no weight files were given', 'Add the model\'s .safetensors file(s).');
  }

  // Parse every shard; merge their tensor tables.
  const entries = new Map<string, SafetensorsEntry>();
  files.weights.forEach((w, i) => {
    const label = files.weightNames?.[i] ?? (files.weights.length > 1 ? `shard ${i + 1}/${files.weights.length}` : 'model.safetensors');
    for (const [name, e] of parseSafetensors(w, i, label).entries) {
      if (entries.has(name)) throw badHeader(label, `tensor "${name}" also appears in another shard`);
      entries.set(name, e);
    }
  });

  const isGpt2 = modelType === 'gpt2';
  const int = (key: string, dflt?: number): number => (cfg[key] === undefined || cfg[key] === null) && dflt !== undefined ? dflt : positiveInt(cfg[key], key, 'config.json');
  const num = (key: string, dflt: number): number => (cfg[key] === undefined || cfg[key] === null ? dflt : finiteNumber(cfg[key], key, 'config.json'));
  const unsupported = (what: string): LoadError =>
    new LoadError('unsupported-feature', `config.json: ${what} is not supported by this engine`, 'Pick a model without this feature.');

  // Raw canonical tensors.
  const tied = typeof cfg.tie_word_embeddings === 'boolean' ? cfg.tie_word_embeddings : isGpt2;
  const raw = new Map<string, WeightTensor>();
  const unknown: string[] = [];
  for (const e of entries.values()) {
    const stripped = e.name.replace(/^(transformer|model)\./, '');
    const mapped = isGpt2 ? gpt2Name(stripped) : ((n) => (n ? { name: n, transpose: false } : null))(llamaName(stripped));
    if (!mapped) {
      if (!IGNORABLE.some((re) => re.test(stripped))) unknown.push(e.name);
      continue;
    }
    if (mapped.name === 'output' && tied) continue; // the tied head is the embedding
    const type = DTYPE_TO_GGML[e.dtype];
    if (type === undefined) {
      throw new LoadError(
        'unsupported-type',
        `safetensors: tensor "${e.name}" has dtype ${e.dtype}; supported dtypes are F32, F16 and BF16`,
        'Convert the checkpoint to float32/float16/bfloat16 safetensors, or use a GGUF of the model.',
      );
    }
    const bytes = files.weights[e.shard].subarray(e.begin, e.end);
    if (mapped.transpose) {
      if (e.shape.length !== 2) {
        throw new LoadError('bad-shape', `safetensors: Conv1D weight "${e.name}" has shape [${e.shape.join(', ')}], expected 2 dimensions [in, out]`, 'The checkpoint is not a GPT-2 model.');
      }
      const [rows, cols] = e.shape;
      raw.set(mapped.name, { name: mapped.name, type: GGMLType.F32, shape: [cols, rows], data: transposeToF32(bytes, e.dtype, rows, cols) });
    } else {
      raw.set(mapped.name, { name: mapped.name, type, shape: [...e.shape], data: bytes });
    }
  }
  if (unknown.length > 0) {
    throw new LoadError(
      'unsupported-feature',
      `safetensors: the ${modelType} checkpoint has tensors this engine does not know: ${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? ` and ${unknown.length - 5} more` : ''}`,
      'Ignoring them would compute a different model; this variant is not supported.',
    );
  }

  const embd = raw.get('token_embd');
  if (!embd) {
    throw new LoadError(
      'missing-tensor',
      `safetensors: required tensor "${isGpt2 ? 'transformer.wte.weight' : 'model.embed_tokens.weight'}" (token_embd) is missing`,
      'Give every shard of the model (see model.safetensors.index.json).',
    );
  }
  const vocabSize = embd.shape[0];
  if (cfg.vocab_size !== undefined && int('vocab_size') !== vocabSize) {
    throw new LoadError(
      'bad-shape',
      `safetensors: tensor "token_embd" has ${vocabSize} rows but config.json vocab_size is ${int('vocab_size')}`,
      'config.json and the weights belong to different models.',
    );
  }
  const bosId = firstId(cfg.bos_token_id);
  const eosId = firstId(cfg.eos_token_id);
  const tcfg = (files.tokenizerConfig ?? {}) as Cfg;
  const addBos = typeof tcfg.add_bos_token === 'boolean' ? tcfg.add_bos_token : modelType === 'llama' || modelType === 'mistral';
  const name = opts.name ?? (typeof cfg._name_or_path === 'string' && cfg._name_or_path ? cfg._name_or_path : (files.folderName ?? modelType));

  let spec: ModelSpec;
  let positionRows: number | undefined;
  if (isGpt2) {
    const act = cfg.activation_function ?? 'gelu_new';
    if (act !== 'gelu_new' && act !== 'gelu_pytorch_tanh' && act !== 'gelu_fast') throw unsupported(`activation_function ${describeValue(act)} (only the tanh GELU)`);
    if (cfg.scale_attn_by_inverse_layer_idx === true) throw unsupported('scale_attn_by_inverse_layer_idx');
    if (cfg.scale_attn_weights === false) throw unsupported('scale_attn_weights = false');
    if (cfg.add_cross_attention === true) throw unsupported('add_cross_attention');
    const dModel = int('n_embd');
    const nHeads = int('n_head');
    if (dModel % nHeads !== 0) throw new LoadError('bad-metadata', `config.json: n_embd ${dModel} is not divisible by n_head ${nHeads}`, 'The config is inconsistent.');
    const ctx = int('n_positions', typeof cfg.n_ctx === 'number' ? cfg.n_ctx : 1024);
    positionRows = ctx;
    spec = {
      arch: 'gpt2',
      name,
      nLayers: int('n_layer'),
      dModel,
      nHeads,
      nKvHeads: nHeads,
      headDim: dModel / nHeads,
      dFF: int('n_inner', 4 * dModel),
      vocabSize,
      contextLength: ctx,
      norm: { kind: 'layer', eps: num('layer_norm_epsilon', 1e-5) },
      rope: { kind: 'none', theta: 10000, dim: 0 },
      learnedPositions: true,
      mlp: 'gelu',
      tiedEmbeddings: tied,
      qkvBias: true,
      linearBias: true,
      fusedQkv: true,
      bosId,
      eosId,
      addBos,
    };
  } else {
    const act = cfg.hidden_act ?? 'silu';
    if (act !== 'silu' && act !== 'swish') throw unsupported(`hidden_act ${describeValue(act)} (only SiLU)`);
    if (cfg.attention_bias === true) throw unsupported('attention_bias (a bias on the attention output projection)');
    if (cfg.mlp_bias === true) throw unsupported('mlp_bias');
    const rs = cfg.rope_scaling as Cfg | null | undefined;
    if (rs && typeof rs === 'object') {
      const kind = rs.rope_type ?? rs.type;
      if (kind !== 'default' && !(kind === 'linear' && rs.factor === 1)) throw unsupported(`rope_scaling ${describeValue(kind)}`);
    }
    const dModel = int('hidden_size');
    const nHeads = int('num_attention_heads');
    if (cfg.head_dim == null && dModel % nHeads !== 0) {
      throw new LoadError('bad-metadata', `config.json: hidden_size ${dModel} is not divisible by num_attention_heads ${nHeads}`, 'The config is inconsistent.');
    }
    const headDim = int('head_dim', dModel / nHeads);
    const nKvHeads = int('num_key_value_heads', nHeads);
    if (nHeads % nKvHeads !== 0) {
      throw new LoadError('bad-metadata', `config.json: num_attention_heads ${nHeads} is not a multiple of num_key_value_heads ${nKvHeads}`, 'The config is inconsistent.');
    }
    let ctx = int('max_position_embeddings', 2048);
    // Sliding-window attention equals full causal attention up to the window: cap the context there.
    const window = modelType === 'mistral' || (modelType === 'qwen2' && cfg.use_sliding_window === true) ? cfg.sliding_window : null;
    if (typeof window === 'number' && window > 0 && window < ctx) ctx = window;
    const partial = cfg.partial_rotary_factor;
    if (typeof partial === 'number' && partial !== 1) throw unsupported(`partial_rotary_factor ${partial}`);
    spec = {
      arch: 'llama',
      name,
      nLayers: int('num_hidden_layers'),
      dModel,
      nHeads,
      nKvHeads,
      headDim,
      dFF: int('intermediate_size'),
      vocabSize,
      contextLength: ctx,
      norm: { kind: 'rms', eps: num('rms_norm_eps', 1e-6) },
      // Hugging Face Llama weights use rotate_half pairs (i, i + d/2): no permutation, 'half' RoPE.
      rope: { kind: 'half', theta: num('rope_theta', 10000), dim: headDim },
      learnedPositions: false,
      mlp: 'silu-gate',
      tiedEmbeddings: tied,
      qkvBias: modelType === 'qwen2' || raw.has('blk.0.attn_q.bias'),
      linearBias: false,
      fusedQkv: false,
      bosId,
      eosId,
      addBos,
    };
  }

  const { tensors, extra } = checkTensors(spec, raw, src, positionRows);
  if (extra.length > 0) throw extraTensorsError(extra, spec, src, 'config.json');
  applyContextLength(spec, opts, src);

  let tokenizer = opts.tokenizer;
  if (!tokenizer) {
    const tj = files.tokenizerJson;
    if (!tj) {
      throw new LoadError('incomplete-files', 'safetensors: tokenizer.json is missing', 'Add the model\'s tokenizer.json (and tokenizer_config.json if there is one).');
    }
    tokenizer = buildTokenizer('tokenizer.json', () => fromTokenizerJson(tj, files.tokenizerConfig, { addBos, bosId, eosId }));
  }
  checkTokenizer(spec, tokenizer, src);

  const meta: Record<string, string | number | boolean> = {
    modelType,
    shards: files.weights.length,
    fileBytes: files.weights.reduce((a, w) => a + w.length, 0),
    dtypes: [...new Set([...tensors.values()].map((t) => typeName(t.type)))].join(' '),
  };
  return { spec, tensors, tokenizer, format: 'safetensors', meta };
}
