// llama2.c checkpoint reader (Karpathy's run.c "legacy" format, version 0): a 28-byte header of 7
// little-endian int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len; a negative
// vocab_size means the classifier is stored separately), then float32 arrays in this order:
// token_embedding [V][C], rms_att [L][C], wq [L][C][C], wk [L][kv][C], wv [L][kv][C], wo [L][C][C],
// rms_ffn [L][C], w1 [L][H][C], w2 [L][C][H], w3 [L][H][C], rms_final [C],
// freq_cis_real/imag [seq_len][head_size/2] each (unused), wcls [V][C] when not shared.
// w1 = gate, w3 = up, w2 = down; RoPE rotates adjacent pairs, theta 10000; RMSNorm eps 1e-5.
// Tensors are zero-copy F32 views of the checkpoint bytes.

import type { ModelSpec } from '../model/spec.ts';
import { GGMLType } from '../quant/types.ts';
import { applyContextLength, buildTokenizer, checkTensors, checkTokenizer, type LoaderOptions } from './common.ts';
import { ByteReader, LoadError, describeBytes, fmtBytes } from './errors.ts';
import { sentencePieceFromLlama2c } from './tokenizer-spm.ts';
import type { LoadedModel, WeightTensor } from './types.ts';

export interface Llama2cHeader {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number;
  seqLen: number;
  /** vocab_size was positive: the classifier is the token embedding. */
  sharedClassifier: boolean;
}

export const LLAMA2C_HEADER_BYTES = 28;
const MAX_DIM = 1 << 16;
const MAX_VOCAB = 1 << 22;
const MAX_SEQ = 1 << 22;

/** Reads and sanity-checks the 7-int header. Throws LoadError ('empty', 'truncated', 'bad-header', 'bad-magic'). */
export function parseLlama2cHeader(bytes: Uint8Array): Llama2cHeader {
  if (bytes.length === 0) {
    throw new LoadError('empty', 'llama2.c: the checkpoint file is empty (0 bytes)', 'The download or copy failed: get the file again.');
  }
  if (bytes.length >= 4 && bytes[0] === 0x32 && bytes[1] === 0x34 && bytes[2] === 0x6b && bytes[3] === 0x61) {
    throw new LoadError(
      'unsupported-version',
      'llama2.c: this is a versioned "ak42" export (export.py --version 1 or 2); only the legacy (version 0) format is supported',
      'Export with llama2.c `export.py --version 0` (legacy), or convert the model to GGUF.',
    );
  }
  const r = new ByteReader(bytes, 'llama2.c checkpoint');
  const h = [0, 0, 0, 0, 0, 0, 0];
  const fields = ['dim', 'hidden_dim', 'n_layers', 'n_heads', 'n_kv_heads', 'vocab_size', 'seq_len'];
  for (let i = 0; i < 7; i++) h[i] = r.i32(`header field ${fields[i]}`);
  const [dim, hiddenDim, nLayers, nHeads, nKvHeads, vocab, seqLen] = h;
  const problems: string[] = [];
  const inRange = (v: number, lo: number, hi: number, f: string): void => {
    if (!(v >= lo && v <= hi)) problems.push(`${f} = ${v}`);
  };
  inRange(dim, 1, MAX_DIM, 'dim');
  inRange(hiddenDim, 1, 16 * MAX_DIM, 'hidden_dim');
  inRange(nLayers, 1, 4096, 'n_layers');
  inRange(nHeads, 1, dim, 'n_heads');
  inRange(nKvHeads, 1, nHeads, 'n_kv_heads');
  inRange(Math.abs(vocab), 1, MAX_VOCAB, '|vocab_size|');
  inRange(seqLen, 1, MAX_SEQ, 'seq_len');
  if (problems.length === 0) {
    if (dim % nHeads !== 0) problems.push(`dim ${dim} not divisible by n_heads ${nHeads}`);
    else if ((dim / nHeads) % 2 !== 0) problems.push(`head size ${dim / nHeads} is odd`);
    if (nHeads % nKvHeads !== 0) problems.push(`n_heads ${nHeads} not a multiple of n_kv_heads ${nKvHeads}`);
  }
  if (problems.length > 0) {
    const looks = describeBytes(bytes);
    throw new LoadError(
      'bad-header',
      `llama2.c: not a valid checkpoint header (${problems.join(', ')})${looks ? `; the file looks like ${looks}` : ''}`,
      'Pick the llama2.c model checkpoint (e.g. stories260K.bin), not the tokenizer or another file.',
    );
  }
  return { dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize: Math.abs(vocab), seqLen, sharedClassifier: vocab > 0 };
}

/** Bytes a checkpoint with this header takes (header + weights + the unused RoPE tables). */
export function llama2cExpectedBytes(h: Llama2cHeader): number {
  const C = h.dim;
  const L = h.nLayers;
  const kv = (h.dim / h.nHeads) * h.nKvHeads;
  const H = h.hiddenDim;
  const floats =
    h.vocabSize * C + // token_embedding
    L * C + // rms_att
    L * C * C + // wq
    2 * L * kv * C + // wk, wv
    L * C * C + // wo
    L * C + // rms_ffn
    3 * L * H * C + // w1, w2, w3
    C + // rms_final
    h.seqLen * (C / h.nHeads) + // freq_cis_real + freq_cis_imag: seq_len * head_size/2 each
    (h.sharedClassifier ? 0 : h.vocabSize * C);
  return LLAMA2C_HEADER_BYTES + 4 * floats;
}

/** True when `bytes` has a plausible llama2.c header and exactly the size that header implies. */
export function isLlama2cCheckpoint(bytes: Uint8Array): boolean {
  try {
    return llama2cExpectedBytes(parseLlama2cHeader(bytes)) === bytes.length;
  } catch {
    return false;
  }
}

/** True when the header is plausible (the size may be wrong: a truncated or padded checkpoint). */
export function hasLlama2cHeader(bytes: Uint8Array): boolean {
  try {
    parseLlama2cHeader(bytes);
    return true;
  } catch {
    return false;
  }
}

/**
 * Why `bytes` is not a llama2.c tokenizer file (int32 max_token_length, then records of float32 score,
 * int32 length <= max_token_length and the bytes, up to the end of the file), or null when it is one.
 * `truncated` is set when a record runs past the end of the file or (given `vocabSize`, the checkpoint's)
 * when there are fewer records than the vocabulary has tokens.
 */
export function llama2cTokenizerProblem(bytes: Uint8Array, vocabSize?: number): { why: string; truncated: boolean } | null {
  if (bytes.length === 0) return { why: 'the file is empty', truncated: true };
  if (bytes.length < 4) return { why: `${fmtBytes(bytes.length)} is too short for the 4-byte header`, truncated: true };
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const maxLen = v.getInt32(0, true);
  if (maxLen < 1 || maxLen > 4096) return { why: `max_token_length ${maxLen} is implausible`, truncated: false };
  let p = 4;
  let n = 0;
  while (p < bytes.length) {
    if (p + 8 > bytes.length) {
      return { why: `token ${n} at byte ${p} is cut off (needs 8 header bytes, ${bytes.length - p} remain)`, truncated: true };
    }
    if (!Number.isFinite(v.getFloat32(p, true))) return { why: `token ${n} at byte ${p} has a non-finite score`, truncated: false };
    const len = v.getInt32(p + 4, true);
    if (len < 0 || len > maxLen) return { why: `token ${n} at byte ${p} has length ${len} (max_token_length is ${maxLen})`, truncated: false };
    if (p + 8 + len > bytes.length) {
      return { why: `token ${n} at byte ${p} needs ${len} bytes but ${bytes.length - p - 8} remain`, truncated: true };
    }
    p += 8 + len;
    n++;
  }
  if (n === 0) return { why: 'it holds no tokens', truncated: true };
  // run.c reads exactly vocab_size records.
  if (vocabSize !== undefined && n < vocabSize) return { why: `it holds ${n} tokens but the checkpoint's vocabulary has ${vocabSize}`, truncated: true };
  return null;
}

/** True when `bytes` walks exactly as a llama2.c tokenizer file. */
export function isLlama2cTokenizer(bytes: Uint8Array): boolean {
  return llama2cTokenizerProblem(bytes) === null;
}

export interface Llama2cFiles {
  checkpoint: Uint8Array;
  /** The tokenizer .bin (tokenizer.bin / tok512.bin); may be null only when opts.tokenizer is given. */
  tokenizer: Uint8Array | null;
}

/** Loads a llama2.c checkpoint + tokenizer. BOS 1, EOS 2, BOS prepended by default (as run.c). */
export function loadLlama2c(files: Llama2cFiles, opts: LoaderOptions = {}): LoadedModel {
  const src = 'llama2.c checkpoint';
  const bytes = files.checkpoint;
  const h = parseLlama2cHeader(bytes);
  const expected = llama2cExpectedBytes(h);
  if (bytes.length < expected) {
    throw new LoadError(
      'truncated',
      `llama2.c: truncated checkpoint: the header (dim ${h.dim}, hidden ${h.hiddenDim}, ${h.nLayers} layers, vocab ${h.vocabSize}, seq_len ${h.seqLen}) ` +
        `needs ${fmtBytes(expected)} but the file has ${fmtBytes(bytes.length)}`,
      'The file is incomplete: download it again and check its size.',
    );
  }
  const C = h.dim;
  const L = h.nLayers;
  const headDim = C / h.nHeads;
  const kv = headDim * h.nKvHeads;
  const H = h.hiddenDim;

  let off = LLAMA2C_HEADER_BYTES;
  const raw = new Map<string, WeightTensor>();
  const take = (shape: number[]): Uint8Array => {
    const n = shape.reduce((a, b) => a * b, 1) * 4;
    const v = bytes.subarray(off, off + n);
    off += n;
    return v;
  };
  const put = (name: string, shape: number[]): void => {
    raw.set(name, { name, type: GGMLType.F32, shape, data: take(shape) });
  };
  const perLayer = (suffix: string, shape: number[]): void => {
    for (let l = 0; l < L; l++) put(`blk.${l}.${suffix}`, shape);
  };
  put('token_embd', [h.vocabSize, C]);
  perLayer('attn_norm', [C]);
  perLayer('attn_q', [C, C]);
  perLayer('attn_k', [kv, C]);
  perLayer('attn_v', [kv, C]);
  perLayer('attn_output', [C, C]);
  perLayer('ffn_norm', [C]);
  perLayer('ffn_gate', [H, C]); // w1
  perLayer('ffn_down', [C, H]); // w2
  perLayer('ffn_up', [H, C]); // w3
  put('output_norm', [C]);
  off += 4 * h.seqLen * headDim; // freq_cis_real + freq_cis_imag (legacy RoPE tables, unused)
  if (!h.sharedClassifier) put('output', [h.vocabSize, C]);

  const spec: ModelSpec = {
    arch: 'llama',
    name: opts.name ?? 'llama2c',
    nLayers: L,
    dModel: C,
    nHeads: h.nHeads,
    nKvHeads: h.nKvHeads,
    headDim,
    dFF: H,
    vocabSize: h.vocabSize,
    contextLength: h.seqLen,
    norm: { kind: 'rms', eps: 1e-5 },
    rope: { kind: 'adjacent', theta: 10000, dim: headDim },
    learnedPositions: false,
    mlp: 'silu-gate',
    tiedEmbeddings: h.sharedClassifier,
    qkvBias: false,
    linearBias: false,
    fusedQkv: false,
    bosId: 1,
    eosId: 2,
    addBos: true,
  };
  const { tensors } = checkTensors(spec, raw, src);
  applyContextLength(spec, opts, src);

  let tokenizer = opts.tokenizer;
  if (!tokenizer) {
    const tok = files.tokenizer;
    if (!tok) {
      throw new LoadError(
        'incomplete-files',
        'llama2.c: the checkpoint has no tokenizer: give its tokenizer file too (tokenizer.bin, e.g. tok512.bin for stories260K)',
        'Add the llama2.c tokenizer .bin that belongs to this checkpoint.',
      );
    }
    const problem = llama2cTokenizerProblem(tok, h.vocabSize);
    if (problem) {
      const looks = describeBytes(tok);
      throw new LoadError(
        problem.truncated ? 'truncated' : 'bad-header',
        `llama2.c tokenizer: ${problem.truncated ? 'truncated: ' : 'not a llama2.c tokenizer file: '}${problem.why} (file has ${fmtBytes(tok.length)})` +
          (looks && !problem.truncated ? `; it looks like ${looks}` : ''),
        problem.truncated ? 'The tokenizer file is incomplete: download it again.' : 'Give the tokenizer .bin that came with the checkpoint.',
      );
    }
    tokenizer = buildTokenizer('llama2.c tokenizer', () => sentencePieceFromLlama2c(tok, { bosId: 1, eosId: 2, addBos: true }));
  }
  checkTokenizer(spec, tokenizer, src);

  return {
    spec,
    tensors,
    tokenizer,
    format: 'llama2c',
    meta: {
      fileBytes: bytes.length,
      headerSeqLen: h.seqLen,
      sharedClassifier: h.sharedClassifier,
      trailingBytes: bytes.length - expected,
    },
  };
}
