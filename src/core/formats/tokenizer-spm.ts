// SentencePiece-style BPE tokenizer (the Llama 1/2 family), as llama2.c's run.c `encode`/`decode` and
// llama.cpp's SPM tokenizer (llm_tokenizer_spm) do it. Two sources of the vocabulary:
//   - llama2.c `tokenizer.bin`: int32 max_token_length, then per token float32 score, int32 byte length, bytes;
//     spaces are real spaces, byte-fallback tokens are "<0xXX>" at id = byte + 3;
//   - GGUF `tokenizer.ggml.model` = "llama": pieces use U+2581 "▁" for spaces, byte tokens "<0xXX>" have
//     token type 6 (BYTE), control tokens (BOS/EOS) type 3.
// Encoding (n = number of code points of the text):
//   1. BOS if asked; an empty text stops here (no dummy prefix);
//   2. prepend one space (SentencePiece's "dummy prefix"; "▁" in the GGUF form, where every ' ' becomes "▁");
//   3. each code point becomes the piece spelling it, or else its UTF-8 bytes as byte-fallback tokens;
//   4. repeatedly merge the adjacent pair whose concatenated spelling is a piece with the highest score,
//      ties to the leftmost pair, until no pair concatenates to a piece.
// Step 4 runs in O(n log n): a binary max-heap of candidate pairs over a doubly linked list of symbols;
// entries made stale by earlier merges are skipped when popped (they name symbols whose ids changed).
// Control, unknown and byte tokens are never the result of a lookup or merge: plain text cannot produce BOS/EOS.
// Decoding drops control tokens, turns byte tokens back into bytes, strips the dummy-prefix space at the start
// of the sequence and after each BOS (run.c strips it after BOS), and decodes the bytes as UTF-8.

import type { EncodeOptions, Tokenizer } from './tokenizer.ts';
import { LoadError } from './errors.ts';

/** GGUF token types (llama.cpp `llama_token_type`). */
export const TokenType = {
  undefined: 0,
  normal: 1,
  unknown: 2,
  control: 3,
  userDefined: 4,
  unused: 5,
  byte: 6,
} as const;

const BYTE_PIECE = /^<0x([0-9A-Fa-f]{2})>$/;
const utf8 = new TextEncoder();

/** Replaces lone UTF-16 surrogates by U+FFFD (as TextEncoder and String.prototype.toWellFormed do). */
export function toWellFormed(text: string): string {
  return text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/** UTF-8 decoding that keeps a leading U+FEFF and turns invalid sequences into U+FFFD. */
export function decodeUtf8(bytes: Uint8Array): string {
  return new TextDecoder('utf-8', { fatal: false, ignoreBOM: true }).decode(bytes);
}

interface SpmVocab {
  /** Spelling used for lookups and merges (llama2.c: raw text with spaces; GGUF: with "▁"). */
  pieces: string[];
  /** Bytes a normal piece decodes to (spaces as 0x20). */
  pieceBytes: Uint8Array[];
  scores: Float64Array;
  types: Uint8Array;
  /** byte value -> token id, -1 where the vocabulary has no such byte token. */
  byteToId: Int32Array;
  /** token id -> byte value for byte tokens, -1 otherwise. */
  idToByte: Int16Array;
  /** The character that stands for a space in `pieces`. */
  space: string;
  bosId: number | null;
  eosId: number | null;
  unkId: number | null;
  addBos: boolean;
}

/** One candidate merge: symbols `left` and `right` (adjacent when pushed) would become token `merged`. */
interface Pair {
  score: number;
  left: number;
  right: number;
  leftId: number;
  rightId: number;
  merged: number;
}

/** a before b: higher score first, then the leftmost pair. */
function before(a: Pair, b: Pair): boolean {
  return a.score > b.score || (a.score === b.score && a.left < b.left);
}

class PairHeap {
  private readonly items: Pair[] = [];
  get size(): number {
    return this.items.length;
  }
  push(p: Pair): void {
    const h = this.items;
    h.push(p);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i], h[parent])) break;
      [h[i], h[parent]] = [h[parent], h[i]];
      i = parent;
    }
  }
  pop(): Pair {
    const h = this.items;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < h.length && before(h[l], h[best])) best = l;
        if (r < h.length && before(h[r], h[best])) best = r;
        if (best === i) break;
        [h[i], h[best]] = [h[best], h[i]];
        i = best;
      }
    }
    return top;
  }
}

class SentencePieceBpe implements Tokenizer {
  readonly kind = 'sentencepiece-bpe' as const;
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly addBosDefault: boolean;
  private readonly v: SpmVocab;
  /** Spelling -> id of every token a lookup or a merge may produce (normal, user-defined, unused). */
  private readonly lookup = new Map<string, number>();

  constructor(v: SpmVocab) {
    this.v = v;
    this.vocabSize = v.pieces.length;
    this.bosId = v.bosId;
    this.eosId = v.eosId;
    this.addBosDefault = v.addBos;
    for (let id = 0; id < v.pieces.length; id++) {
      const t = v.types[id];
      if (t === TokenType.control || t === TokenType.unknown || t === TokenType.byte) continue;
      this.lookup.set(v.pieces[id], id); // a duplicated spelling keeps the last id, as llama.cpp's map does
    }
  }

  encode(text: string, opts?: EncodeOptions): number[] {
    const v = this.v;
    const out: number[] = [];
    if ((opts?.addBos ?? this.addBosDefault) && v.bosId !== null) out.push(v.bosId);
    if (text.length === 0) return out;
    let s = ' ' + toWellFormed(text);
    if (v.space !== ' ') s = s.replaceAll(' ', v.space);

    // Step 3: one symbol per code point, or per byte where the code point has no piece.
    const ids: number[] = [];
    for (const ch of s) {
      const id = this.lookup.get(ch);
      if (id !== undefined) {
        ids.push(id);
        continue;
      }
      for (const b of utf8.encode(ch)) {
        const bid = v.byteToId[b];
        if (bid >= 0) ids.push(bid);
        else if (v.unkId !== null) ids.push(v.unkId);
        else throw new Error(`tokenizer: no byte token for 0x${b.toString(16)} and no unknown token`);
      }
    }
    return out.concat(this.merge(ids));
  }

  /** Step 4 over a doubly linked list of symbols; returns the surviving symbols' ids in order. */
  private merge(ids: number[]): number[] {
    const n = ids.length;
    if (n < 2) return ids;
    const { pieces, scores } = this.v;
    const id = Int32Array.from(ids);
    const prev = new Int32Array(n);
    const next = new Int32Array(n);
    const alive = new Uint8Array(n).fill(1);
    for (let i = 0; i < n; i++) {
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    const heap = new PairHeap();
    const tryPair = (l: number, r: number): void => {
      if (l < 0 || r < 0) return;
      const m = this.lookup.get(pieces[id[l]] + pieces[id[r]]);
      if (m === undefined) return;
      heap.push({ score: scores[m], left: l, right: r, leftId: id[l], rightId: id[r], merged: m });
    };
    for (let i = 0; i + 1 < n; i++) tryPair(i, i + 1);
    while (heap.size > 0) {
      const p = heap.pop();
      const { left: l, right: r } = p;
      // Stale: a symbol was absorbed, they are no longer neighbours, or one of them has grown since.
      if (!alive[l] || !alive[r] || next[l] !== r || id[l] !== p.leftId || id[r] !== p.rightId) continue;
      id[l] = p.merged;
      alive[r] = 0;
      next[l] = next[r];
      if (next[r] >= 0) prev[next[r]] = l;
      tryPair(prev[l], l);
      tryPair(l, next[l]);
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]) out.push(id[i]);
    return out;
  }

  decode(ids: number[]): string {
    const v = this.v;
    const bytes: number[] = [];
    let atStart = true;
    for (const t of ids) {
      if (!Number.isInteger(t) || t < 0 || t >= this.vocabSize) {
        bytes.push(0xef, 0xbf, 0xbd); // U+FFFD for an id outside the vocabulary
        atStart = false;
        continue;
      }
      const type = v.types[t];
      if (type === TokenType.control) {
        if (t === v.bosId) atStart = true;
        continue;
      }
      const b = v.idToByte[t];
      if (b >= 0) {
        bytes.push(b);
      } else {
        const pb = v.pieceBytes[t];
        for (let i = atStart && pb[0] === 0x20 ? 1 : 0; i < pb.length; i++) bytes.push(pb[i]);
      }
      atStart = false;
    }
    return decodeUtf8(Uint8Array.from(bytes));
  }

  piece(id: number): string {
    return id >= 0 && id < this.vocabSize ? this.v.pieces[id] : '\uFFFD';
  }
}

function sanitizeScore(x: number): number {
  return Number.isNaN(x) ? -Infinity : x;
}

function byteMaps(n: number): { byteToId: Int32Array; idToByte: Int16Array } {
  return { byteToId: new Int32Array(256).fill(-1), idToByte: new Int16Array(n).fill(-1) };
}

function tokenizerError(message: string): LoadError {
  return new LoadError('tokenizer', message, 'The tokenizer data is damaged or not in a supported format; re-download the model or its tokenizer file.');
}

/**
 * The llama2.c tokenizer (`tokenizer.bin`, e.g. tok512.bin): read to the end of the data. Ids 0, bosId and
 * eosId are the unknown and control tokens; "<0xXX>" pieces (and, in older files, single raw bytes at ids
 * 3..258) are byte tokens; byte fallback uses id = byte + 3 as run.c does.
 */
export function sentencePieceFromLlama2c(
  tokBin: Uint8Array,
  opts: { bosId: number; eosId: number; addBos: boolean },
): Tokenizer {
  const dv = new DataView(tokBin.buffer, tokBin.byteOffset, tokBin.byteLength);
  if (tokBin.byteLength < 4) throw tokenizerError(`llama2.c tokenizer: ${tokBin.byteLength} bytes, too short for its header`);
  const raw: Uint8Array[] = [];
  const scoreList: number[] = [];
  let off = 4; // int32 max_token_length, not needed here
  while (off < tokBin.byteLength) {
    if (off + 8 > tokBin.byteLength) throw tokenizerError(`llama2.c tokenizer: token ${raw.length} truncated at byte ${off}`);
    const score = dv.getFloat32(off, true);
    const len = dv.getInt32(off + 4, true);
    off += 8;
    if (len < 0 || off + len > tokBin.byteLength) {
      throw tokenizerError(`llama2.c tokenizer: token ${raw.length} has length ${len}, past the end of the file`);
    }
    raw.push(tokBin.subarray(off, off + len));
    scoreList.push(score);
    off += len;
  }
  const n = raw.length;
  const dec = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
  const pieces = raw.map((b) => dec.decode(b));
  const types = new Uint8Array(n).fill(TokenType.normal);
  const { byteToId, idToByte } = byteMaps(n);
  for (let id = 0; id < n; id++) {
    const m = BYTE_PIECE.exec(pieces[id]);
    if (m) {
      types[id] = TokenType.byte;
      idToByte[id] = parseInt(m[1], 16);
    } else if (id >= 3 && id <= 258 && raw[id].length === 1 && raw[id][0] === id - 3) {
      types[id] = TokenType.byte; // older files store the byte itself
      idToByte[id] = id - 3;
    }
  }
  for (let b = 0; b < 256; b++) if (b + 3 < n) byteToId[b] = b + 3; // run.c: byte fallback id = byte + 3
  if (n > 0) types[0] = TokenType.unknown;
  for (const c of [opts.bosId, opts.eosId]) if (c >= 0 && c < n) types[c] = TokenType.control;
  return new SentencePieceBpe({
    pieces,
    pieceBytes: raw,
    scores: Float64Array.from(scoreList, sanitizeScore),
    types,
    byteToId,
    idToByte,
    space: ' ',
    bosId: opts.bosId,
    eosId: opts.eosId,
    unkId: n > 0 ? 0 : null,
    addBos: opts.addBos,
  });
}

/**
 * A GGUF `llama` (SentencePiece) vocabulary: tokenizer.ggml.tokens/scores/token_type. Missing scores count
 * as 0 (as llama.cpp does); missing token types are inferred ("<0xXX>" byte, bos/eos control, unk unknown).
 */
export function sentencePieceFromGguf(v: {
  tokens: string[];
  scores: number[] | null;
  tokenTypes: number[] | null;
  bosId: number | null;
  eosId: number | null;
  unkId: number | null;
  addBos: boolean;
}): Tokenizer {
  const n = v.tokens.length;
  if (v.scores && v.scores.length !== n) throw tokenizerError(`GGUF tokenizer: ${n} tokens but ${v.scores.length} scores`);
  if (v.tokenTypes && v.tokenTypes.length !== n) throw tokenizerError(`GGUF tokenizer: ${n} tokens but ${v.tokenTypes.length} token types`);
  const types = new Uint8Array(n);
  const { byteToId, idToByte } = byteMaps(n);
  for (let id = 0; id < n; id++) {
    const m = BYTE_PIECE.exec(v.tokens[id]);
    let t: number = v.tokenTypes ? v.tokenTypes[id] : m ? TokenType.byte : TokenType.normal;
    if (!v.tokenTypes) {
      if (id === v.unkId) t = TokenType.unknown;
      else if (id === v.bosId || id === v.eosId) t = TokenType.control;
    }
    types[id] = t;
    if (t === TokenType.byte && m) {
      const b = parseInt(m[1], 16);
      idToByte[id] = b;
      if (byteToId[b] < 0) byteToId[b] = id;
    }
  }
  const inRange = (x: number | null): number | null => (x !== null && x >= 0 && x < n ? x : null);
  return new SentencePieceBpe({
    pieces: v.tokens,
    pieceBytes: v.tokens.map((t) => utf8.encode(t.replaceAll('\u2581', ' '))),
    scores: v.scores ? Float64Array.from(v.scores, sanitizeScore) : new Float64Array(n),
    types,
    byteToId,
    idToByte,
    space: '\u2581',
    bosId: inRange(v.bosId),
    eosId: inRange(v.eosId),
    unkId: inRange(v.unkId),
    addBos: v.addBos,
  });
}
