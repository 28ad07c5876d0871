// GGUF reader (versions 2 and 3) and the mapping of a GGUF model onto a ModelSpec + canonical tensors.
// Follows the GGUF spec (ggml docs/gguf.md): magic "GGUF", u32 version, u64 tensor count, u64 metadata
// count, metadata key/values (13 value types incl. nested arrays), tensor infos (name, n_dims, ne[],
// ggml type, offset relative to the data section), then the data section at the next multiple of
// `general.alignment` (default 32). ggml's ne[0] is the row length, so a 2-D tensor with
// ne = [in, out] becomes the row-major shape [out, in]. Tensors are zero-copy views of the file bytes
// in their stored type. Every length read is checked against the bytes that remain.

import type { ModelSpec } from '../model/spec.ts';
import { GGMLType, TYPE_INFO, type TypeInfo } from '../quant/types.ts';
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
import { ByteReader, LoadError, describeBytes, fmtBytes } from './errors.ts';
import { byteLevelBpeFromGguf } from './tokenizer-bpe.ts';
import { sentencePieceFromGguf } from './tokenizer-spm.ts';
import type { Tokenizer } from './tokenizer.ts';
import type { LoadedModel, WeightTensor } from './types.ts';

export enum GgufValueType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

/** Stored type of a metadata value (for tools that write GGUF back out). */
export interface GgufMetaType {
  type: GgufValueType;
  /** Element type when `type` is ARRAY (the outer level only for nested arrays). */
  arrayType?: GgufValueType;
}

export interface GgufTensorInfo {
  /** Name as stored (e.g. "blk.0.attn_q.weight"). */
  name: string;
  /** ggml dimensions, ne[0] = row length. */
  ne: number[];
  /** ggml type id. */
  type: number;
  typeName: string;
  /** Offset relative to the start of the data section. */
  offset: number;
  /** Offset from the start of the file. */
  absOffset: number;
  nbytes: number;
}

export interface GgufFile {
  version: number;
  /** Bytes in the buffer that was parsed. */
  byteLength: number;
  /** Values: number (all numeric types; 64-bit integers beyond 2^53 stay bigint), boolean, string, arrays of these. */
  metadata: Map<string, unknown>;
  metadataTypes: Map<string, GgufMetaType>;
  tensors: GgufTensorInfo[];
  alignment: number;
  /** Absolute offset of the tensor data section. */
  dataOffset: number;
}

const SCALAR_BYTES: Partial<Record<number, number>> = {
  [GgufValueType.UINT8]: 1,
  [GgufValueType.INT8]: 1,
  [GgufValueType.UINT16]: 2,
  [GgufValueType.INT16]: 2,
  [GgufValueType.UINT32]: 4,
  [GgufValueType.INT32]: 4,
  [GgufValueType.FLOAT32]: 4,
  [GgufValueType.BOOL]: 1,
  [GgufValueType.UINT64]: 8,
  [GgufValueType.INT64]: 8,
  [GgufValueType.FLOAT64]: 8,
};

/** Block geometry of ggml types that TYPE_INFO (src/core/quant/types.ts) does not list: parsed for
 * `info`, never computed with. */
const EXTRA_TYPES: Partial<Record<number, TypeInfo>> = {
  39: { name: 'MXFP4', blockSize: 32, typeSize: 17 },
};

/** Block geometry of a ggml type id, or undefined when the id is unknown. */
export function ggmlTypeInfo(type: number): TypeInfo | undefined {
  return TYPE_INFO[type as GGMLType] ?? EXTRA_TYPES[type];
}

const MAX_ARRAY_DEPTH = 8;
const GGUF_MAX_DIMS = 4;

function readString(r: ByteReader, field: string): string {
  const n = r.count64(`length of ${field}`, 1);
  return r.utf8(n, field);
}

function u64ToValue(v: bigint): number | bigint {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function badValueType(key: string, t: number): LoadError {
  return new LoadError(
    'bad-metadata',
    `GGUF: metadata "${key}" has unknown value type ${t} (valid: 0..12)`,
    'The file is corrupt or was written by an incompatible tool.',
  );
}

function readValue(r: ByteReader, type: number, key: string, depth: number): unknown {
  switch (type) {
    case GgufValueType.UINT8:
      return r.u8(key);
    case GgufValueType.INT8:
      return r.i8(key);
    case GgufValueType.UINT16:
      return r.u16(key);
    case GgufValueType.INT16:
      return r.i16(key);
    case GgufValueType.UINT32:
      return r.u32(key);
    case GgufValueType.INT32:
      return r.i32(key);
    case GgufValueType.FLOAT32:
      return r.f32(key);
    case GgufValueType.BOOL:
      return r.u8(key) !== 0;
    case GgufValueType.STRING:
      return readString(r, `string value of "${key}"`);
    case GgufValueType.UINT64:
      return u64ToValue(r.u64(key));
    case GgufValueType.INT64:
      return u64ToValue(r.i64(key));
    case GgufValueType.FLOAT64:
      return r.f64(key);
    case GgufValueType.ARRAY: {
      if (depth >= MAX_ARRAY_DEPTH) {
        throw new LoadError('bad-metadata', `GGUF: metadata "${key}" nests arrays deeper than ${MAX_ARRAY_DEPTH} levels`, 'The file is corrupt.');
      }
      const et = r.u32(`element type of "${key}"`);
      const unit = et === GgufValueType.STRING ? 8 : et === GgufValueType.ARRAY ? 12 : SCALAR_BYTES[et];
      if (unit === undefined) throw badValueType(`${key}[]`, et);
      const n = r.count64(`element count of array "${key}"`, unit);
      const out: unknown[] = new Array(n);
      for (let i = 0; i < n; i++) out[i] = readValue(r, et, key, depth + 1);
      return out;
    }
    default:
      throw badValueType(key, type);
  }
}

/**
 * Parses a GGUF file's header, metadata and tensor infos. With `headerOnly`, tensor data may lie
 * beyond the given bytes (for reading just the start of a large file); otherwise every tensor must
 * fit inside `bytes`.
 */
export function parseGguf(bytes: Uint8Array, opts: { headerOnly?: boolean } = {}): GgufFile {
  if (bytes.length === 0) {
    throw new LoadError('empty', 'GGUF: the file is empty (0 bytes)', 'The download or copy failed: get the file again.');
  }
  const r = new ByteReader(bytes, 'GGUF');
  r.need(4, 'magic');
  const magic = String.fromCharCode(bytes[0], bytes[1], bytes[2], bytes[3]);
  if (magic !== 'GGUF') {
    const looks = describeBytes(bytes);
    throw new LoadError(
      'bad-magic',
      `GGUF: bad magic ${JSON.stringify(magic)} (expected "GGUF")${looks ? `; the file looks like ${looks}` : ''}`,
      'This is not a GGUF file: pick the .gguf model file.',
    );
  }
  r.pos = 4;
  const version = r.u32('version');
  if (version !== 2 && version !== 3) {
    const swapped = ((version & 0xff) << 24) | ((version & 0xff00) << 8) | ((version >>> 8) & 0xff00) | (version >>> 24);
    const bigEndian = (swapped >>> 0) === 2 || (swapped >>> 0) === 3;
    throw new LoadError(
      'unsupported-version',
      bigEndian
        ? 'GGUF: this is a big-endian GGUF file; only little-endian files are supported'
        : `GGUF: unsupported GGUF version ${version} (supported: 2 and 3)`,
      version === 1
        ? 'GGUF v1 files are from 2023 and no longer supported: re-convert the model with a current llama.cpp.'
        : 'Convert the model with a current llama.cpp (little-endian GGUF v3).',
    );
  }
  // Minimal sizes: a tensor info is >= 8 (name length) + 4 (n_dims) + 4 (type) + 8 (offset) bytes;
  // a metadata pair is >= 8 (key length) + 4 (type) + 1 (value) bytes.
  const nTensors = r.count64('tensor count', 24);
  const nKv = r.count64('metadata count', 13);

  const metadata = new Map<string, unknown>();
  const metadataTypes = new Map<string, GgufMetaType>();
  for (let i = 0; i < nKv; i++) {
    const key = readString(r, `metadata key #${i}`);
    const type = r.u32(`value type of "${key}"`);
    if (metadata.has(key)) {
      throw new LoadError('bad-metadata', `GGUF: metadata key "${key}" appears twice`, 'The file is corrupt or was written by a broken tool.');
    }
    const arrayPos = r.pos;
    const value = readValue(r, type, key, 0);
    const mt: GgufMetaType = { type };
    if (type === GgufValueType.ARRAY) mt.arrayType = r.view.getUint32(arrayPos, true);
    metadata.set(key, value);
    metadataTypes.set(key, mt);
  }

  const infos: Omit<GgufTensorInfo, 'absOffset'>[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < nTensors; i++) {
    const name = readString(r, `name of tensor #${i}`);
    const nDims = r.u32(`n_dims of tensor "${name}"`);
    if (nDims > GGUF_MAX_DIMS) {
      throw new LoadError('bad-header', `GGUF: tensor "${name}" claims ${nDims} dimensions (at most ${GGUF_MAX_DIMS})`, 'The file is corrupt.');
    }
    const ne: number[] = [];
    for (let d = 0; d < nDims; d++) {
      const v = r.u64(`ne[${d}] of tensor "${name}"`);
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw new LoadError('bad-header', `GGUF: tensor "${name}" has an impossible dimension ${v}`, 'The file is corrupt.');
      }
      ne.push(Number(v));
    }
    if (ne.length === 0) ne.push(1);
    const type = r.u32(`type of tensor "${name}"`);
    const info = ggmlTypeInfo(type);
    if (!info) {
      throw new LoadError(
        'unknown-type',
        `GGUF: tensor "${name}" has unknown ggml type id ${type}`,
        'The file is corrupt, or it uses a tensor type newer than this loader: re-quantize it to a common type (F16, Q8_0, Q4_K).',
      );
    }
    const offset = r.u64(`data offset of tensor "${name}"`);
    if (seen.has(name)) throw new LoadError('bad-header', `GGUF: tensor "${name}" appears twice`, 'The file is corrupt.');
    seen.add(name);
    if (ne[0] % info.blockSize !== 0) {
      throw new LoadError(
        'bad-shape',
        `GGUF: tensor "${name}" (${info.name}) has rows of ${ne[0]} values, not a multiple of the block size ${info.blockSize}`,
        'The file is corrupt.',
      );
    }
    let numel = 1;
    for (const d of ne) numel *= d;
    if (!Number.isSafeInteger(numel)) {
      throw new LoadError('bad-header', `GGUF: tensor "${name}" has an impossible size [${ne.join(', ')}]`, 'The file is corrupt.');
    }
    infos.push({
      name,
      ne,
      type,
      typeName: info.name,
      offset: offset > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(offset),
      nbytes: (numel / info.blockSize) * info.typeSize,
    });
  }

  let alignment = 32;
  if (metadata.has('general.alignment')) {
    const a = metadata.get('general.alignment');
    if (typeof a !== 'number' || !Number.isInteger(a) || a <= 0 || (a & (a - 1)) !== 0) {
      throw new LoadError('bad-metadata', `GGUF: general.alignment is ${describeValue(a)}, not a power of two`, 'The file is corrupt.');
    }
    alignment = a;
  }
  const dataOffset = Math.ceil(r.pos / alignment) * alignment;
  const tensors: GgufTensorInfo[] = infos.map((t) => ({ ...t, absOffset: dataOffset + t.offset }));
  for (const t of tensors) {
    if (!opts.headerOnly && t.absOffset + t.nbytes > bytes.length) {
      const need = tensors.reduce((m, x) => Math.max(m, x.absOffset + x.nbytes), 0);
      throw new LoadError(
        'truncated',
        `GGUF: truncated: tensor "${t.name}" needs bytes ${t.absOffset.toLocaleString('en-US')}..${(t.absOffset + t.nbytes).toLocaleString('en-US')} ` +
          `but the file has ${fmtBytes(bytes.length)} (expected at least ${fmtBytes(need)})`,
        'The file is incomplete: download it again and check its size.',
      );
    }
    if (t.offset % alignment !== 0) {
      throw new LoadError(
        'bad-header',
        `GGUF: tensor "${t.name}" starts at data offset ${t.offset}, not a multiple of the alignment ${alignment}`,
        'The file is corrupt.',
      );
    }
  }
  return { version, byteLength: bytes.length, metadata, metadataTypes, tensors, alignment, dataOffset };
}

/** GGUF architectures this loader maps onto the engine's graphs. */
export const GGUF_ARCHITECTURES = ['llama', 'qwen2', 'gpt2'] as const;

function stem(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? name;
  return base.replace(/\.gguf$/i, '');
}

/** Builds the model from a parsed GGUF: spec, canonical zero-copy tensors, tokenizer. */
export function ggufToModel(file: GgufFile, bytes: Uint8Array, opts: LoaderOptions & { fileName?: string } = {}): LoadedModel {
  const src = 'GGUF';
  const md = file.metadata;
  const archV = md.get('general.architecture');
  if (typeof archV !== 'string') {
    throw new LoadError('bad-metadata', 'GGUF: general.architecture is missing', 'The file is not a model GGUF (or is corrupt).');
  }
  const arch = archV;
  if (!(GGUF_ARCHITECTURES as readonly string[]).includes(arch)) {
    throw new LoadError(
      'unsupported-architecture',
      `GGUF: unsupported architecture "${arch}" (supported: ${GGUF_ARCHITECTURES.join(', ')})`,
      'This engine implements only the Llama (also Qwen2) and GPT-2 graphs; pick a model of one of those families.',
    );
  }
  const k = (s: string): string => `${arch}.${s}`;
  const int = (key: string, dflt?: number): number => {
    const v = md.get(key);
    if (v === undefined && dflt !== undefined) return dflt;
    if (Array.isArray(v)) {
      throw new LoadError('unsupported-feature', `GGUF: "${key}" varies per layer (${describeValue(v)}); this engine needs one value`, 'Models with per-layer head counts or widths are not supported.');
    }
    return positiveInt(v, key, src);
  };
  const num = (key: string, dflt: number): number => (md.has(key) ? finiteNumber(md.get(key), key, src) : dflt);

  // Raw tensors under canonical names: "x.weight" -> "x", biases keep ".bias".
  const raw = new Map<string, WeightTensor>();
  for (const t of file.tensors) {
    const name = t.name.endsWith('.weight') ? t.name.slice(0, -'.weight'.length) : t.name;
    const ne = [...t.ne];
    while (ne.length > 1 && ne[ne.length - 1] === 1) ne.pop();
    if (t.absOffset + t.nbytes > bytes.length) {
      throw new LoadError('truncated', `GGUF: tensor "${t.name}" lies past the end of the file (${fmtBytes(bytes.length)})`, 'The file is incomplete: download it again.');
    }
    raw.set(name, {
      name,
      type: t.type as GGMLType,
      shape: ne.reverse(),
      data: bytes.subarray(t.absOffset, t.absOffset + t.nbytes),
    });
  }

  if (raw.has('rope_freqs')) {
    throw new LoadError('unsupported-feature', 'GGUF: the model uses per-dimension RoPE frequency factors (rope_freqs, Llama 3.1-style scaling)', 'RoPE scaling is not supported by this engine; use a model without it.');
  }
  const scaling = md.get(k('rope.scaling.type'));
  const factor = md.get(k('rope.scaling.factor'));
  if (typeof scaling === 'string' && scaling !== 'none' && !(typeof factor === 'number' && factor === 1)) {
    throw new LoadError('unsupported-feature', `GGUF: RoPE scaling "${scaling}" is not supported`, 'Use a model without RoPE scaling.');
  }
  const experts = md.get(k('expert_count'));
  if (typeof experts === 'number' && experts > 0) {
    throw new LoadError('unsupported-feature', `GGUF: mixture-of-experts models (${experts} experts) are not supported`, 'Pick a dense model.');
  }

  const embd = raw.get('token_embd');
  if (!embd) {
    throw new LoadError('missing-tensor', 'GGUF: required tensor "token_embd.weight" is missing', 'The file is incomplete or not a language model.');
  }
  const vocabSize = embd.shape[0];
  if (md.has(k('vocab_size')) && int(k('vocab_size')) !== vocabSize) {
    throw new LoadError('bad-shape', `GGUF: ${k('vocab_size')} = ${int(k('vocab_size'))} but token_embd has ${vocabSize} rows`, 'The file is inconsistent.');
  }
  const dModel = int(k('embedding_length'));
  const nLayers = int(k('block_count'));
  const nHeads = int(k('attention.head_count'));
  const nKvHeads = int(k('attention.head_count_kv'), nHeads);
  const dFF = int(k('feed_forward_length'));
  if (!md.has(k('attention.key_length')) && dModel % nHeads !== 0) {
    throw new LoadError('bad-metadata', `GGUF: embedding_length ${dModel} is not divisible by head_count ${nHeads}`, 'The metadata is inconsistent.');
  }
  const headDim = int(k('attention.key_length'), dModel / nHeads);
  if (md.has(k('attention.value_length')) && int(k('attention.value_length')) !== headDim) {
    throw new LoadError('unsupported-feature', 'GGUF: key and value head sizes differ', 'Not supported by this engine.');
  }
  if (nHeads % nKvHeads !== 0) {
    throw new LoadError('bad-metadata', `GGUF: head_count ${nHeads} is not a multiple of head_count_kv ${nKvHeads}`, 'The metadata is inconsistent.');
  }
  // Without context_length: GPT-2's position table length, else the override, else 2048.
  const storedCtx = int(k('context_length'), arch === 'gpt2' && raw.get('position_embd') ? raw.get('position_embd')!.shape[0] : (opts.contextLength ?? 2048));
  // Name: explicit option, else general.name unless it merely repeats the architecture, else the file stem.
  const gname = md.get('general.name');
  const name = opts.name ?? (typeof gname === 'string' && gname !== '' && gname !== arch ? gname : (opts.fileName ? stem(opts.fileName) : typeof gname === 'string' && gname ? gname : arch));

  // Tokenizer facts.
  const tokModel = md.get('tokenizer.ggml.model');
  const notes: string[] = [];
  const idOrNull = (key: string): number | null => {
    if (!md.has(key)) return null;
    const id = positiveInt(md.get(key), key, src, true);
    if (id < vocabSize) return id;
    notes.push(`${key} ${id} is outside the vocabulary; ignored`); // llama.cpp also warns and ignores it
    return null;
  };
  const bosId = idOrNull('tokenizer.ggml.bos_token_id');
  const eosId = idOrNull('tokenizer.ggml.eos_token_id');
  const addBosV = md.get('tokenizer.ggml.add_bos_token');
  const addBos = typeof addBosV === 'boolean' ? addBosV : arch === 'llama';

  let spec: ModelSpec;
  const common = { name, nLayers, dModel, nHeads, nKvHeads, headDim, dFF, vocabSize, contextLength: storedCtx, bosId, eosId, addBos };
  if (arch === 'gpt2') {
    spec = {
      ...common,
      arch: 'gpt2',
      norm: { kind: 'layer', eps: num(k('attention.layer_norm_epsilon'), 1e-5) },
      rope: { kind: 'none', theta: 10000, dim: 0 },
      learnedPositions: true,
      mlp: 'gelu',
      tiedEmbeddings: !raw.has('output'),
      qkvBias: true,
      linearBias: true,
      fusedQkv: true,
    };
    const pos = raw.get('position_embd');
    if (pos && pos.shape[0] !== storedCtx) {
      throw new LoadError(
        'bad-shape',
        `GGUF: tensor "position_embd" has ${pos.shape[0]} rows but ${k('context_length')} is ${storedCtx}`,
        'The metadata and the weights disagree.',
      );
    }
  } else {
    const ropeDim = int(k('rope.dimension_count'), headDim);
    if (ropeDim > headDim || ropeDim % 2 !== 0) {
      throw new LoadError('bad-metadata', `GGUF: rope.dimension_count ${ropeDim} must be even and at most the head size ${headDim}`, 'The metadata is inconsistent.');
    }
    const eps = md.has(k('attention.layer_norm_rms_epsilon')) ? num(k('attention.layer_norm_rms_epsilon'), 1e-5) : 1e-5;
    spec = {
      ...common,
      arch: 'llama',
      norm: { kind: 'rms', eps },
      // llama.cpp permutes Q/K of Llama at conversion so pairs are adjacent; Qwen2 is NEOX (half).
      rope: { kind: arch === 'qwen2' ? 'half' : 'adjacent', theta: num(k('rope.freq_base'), 10000), dim: ropeDim },
      learnedPositions: false,
      mlp: 'silu-gate',
      tiedEmbeddings: !raw.has('output'),
      qkvBias: arch === 'qwen2' || raw.has('blk.0.attn_q.bias'),
      linearBias: false,
      fusedQkv: false,
    };
  }

  const { tensors, extra } = checkTensors(spec, raw, src);
  if (extra.length > 0) throw extraTensorsError(extra, spec, src, `${k('block_count')}`);
  applyContextLength(spec, opts, src);

  const tokenizer = opts.tokenizer ?? ggufTokenizer(file, arch, { bosId, eosId, addBos });
  checkTokenizer(spec, tokenizer, src);

  const meta: Record<string, string | number | boolean> = {
    fileBytes: bytes.length,
    ggufVersion: file.version,
    tensorCount: file.tensors.length,
    metadataCount: file.metadata.size,
    architecture: arch,
    storedContextLength: storedCtx,
  };
  if (notes.length > 0) meta.warnings = notes.join('; ');
  const ft = md.get('general.file_type');
  if (typeof ft === 'number') meta.fileType = ft;
  if (typeof tokModel === 'string') meta.tokenizerModel = tokModel;
  const pre = md.get('tokenizer.ggml.pre');
  if (typeof pre === 'string') meta.tokenizerPre = pre;
  const typesSeen = new Map<string, number>();
  for (const t of tensors.values()) {
    const n = ggmlTypeInfo(t.type)?.name ?? String(t.type);
    typesSeen.set(n, (typesSeen.get(n) ?? 0) + 1);
  }
  meta.tensorTypes = [...typesSeen].map(([n, c]) => `${n}:${c}`).join(' ');
  return { spec, tensors, tokenizer, format: 'gguf', meta };
}

function stringArray(md: Map<string, unknown>, key: string): string[] | null {
  const v = md.get(key);
  if (v === undefined) return null;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
    throw new LoadError('bad-metadata', `GGUF: "${key}" should be an array of strings but is ${describeValue(v)}`, 'The tokenizer metadata is damaged.');
  }
  return v as string[];
}

function numberArray(md: Map<string, unknown>, key: string, n: number): number[] | null {
  const v = md.get(key);
  if (v === undefined) return null;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'number')) {
    throw new LoadError('bad-metadata', `GGUF: "${key}" should be an array of numbers but is ${describeValue(v)}`, 'The tokenizer metadata is damaged.');
  }
  if (v.length !== n) {
    throw new LoadError('bad-metadata', `GGUF: "${key}" has ${v.length} entries but there are ${n} tokens`, 'The tokenizer metadata is damaged.');
  }
  return v as number[];
}

/** The tokenizer a GGUF describes (tokenizer.ggml.*): SentencePiece ('llama') or byte-level BPE ('gpt2'). */
export function ggufTokenizer(file: GgufFile, arch: string, ids: { bosId: number | null; eosId: number | null; addBos: boolean }): Tokenizer {
  const md = file.metadata;
  const model = md.get('tokenizer.ggml.model');
  const tokens = stringArray(md, 'tokenizer.ggml.tokens');
  if (typeof model !== 'string' || !tokens) {
    throw new LoadError(
      'tokenizer',
      `GGUF: the file has no tokenizer (tokenizer.ggml.model / tokenizer.ggml.tokens missing)`,
      'Give a tokenizer explicitly (e.g. the model\'s tokenizer.json).',
    );
  }
  const tokenTypes = numberArray(md, 'tokenizer.ggml.token_type', tokens.length);
  const what = `GGUF tokenizer "${model}" (${arch})`;
  if (model === 'llama') {
    const scores = numberArray(md, 'tokenizer.ggml.scores', tokens.length);
    const unkV = md.get('tokenizer.ggml.unknown_token_id');
    const unkId = typeof unkV === 'number' ? unkV : null;
    return buildTokenizer(what, () => sentencePieceFromGguf({ tokens, scores, tokenTypes, bosId: ids.bosId, eosId: ids.eosId, unkId, addBos: ids.addBos }));
  }
  if (model === 'gpt2') {
    const merges = stringArray(md, 'tokenizer.ggml.merges') ?? [];
    const pre = md.get('tokenizer.ggml.pre');
    return buildTokenizer(what, () =>
      byteLevelBpeFromGguf({
        tokens,
        merges,
        tokenTypes,
        bosId: ids.bosId,
        eosId: ids.eosId,
        addBos: ids.addBos,
        ...(typeof pre === 'string' ? { pre } : {}),
      }),
    );
  }
  throw new LoadError(
    'tokenizer',
    `GGUF: tokenizer model "${model}" is not supported (supported: llama, gpt2)`,
    'Give a tokenizer explicitly (e.g. the model\'s tokenizer.json).',
  );
}

/** parseGguf + ggufToModel. `opts.fileName` (the file's name) gives a model name when general.name says nothing. */
export function loadGguf(bytes: Uint8Array, opts: LoaderOptions & { fileName?: string } = {}): LoadedModel {
  return ggufToModel(parseGguf(bytes), bytes, opts);
}
