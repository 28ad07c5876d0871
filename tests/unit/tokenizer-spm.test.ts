// SentencePiece-style BPE tokenizers (llama2.c tokenizer.bin and GGUF `llama` vocabularies) against the ids
// and pieces that llama2.c run.c and llama.cpp produced for stories260K (../shared/refs/stories260K/tokenizer.json),
// well-known Llama 2 tokenizations on the real 32k vocabulary (llama-2-tiny-random.gguf), hand-computed edge
// cases, and a naive O(n^2) re-implementation of run.c's merge loop written here as an independent check.
import { describe, expect, it } from 'vitest';
import { readModelBytes, readRef } from '../helpers/models.ts';
import { sentencePieceFromGguf, sentencePieceFromLlama2c } from '../../src/core/formats/tokenizer-spm.ts';
import type { Tokenizer } from '../../src/core/formats/tokenizer.ts';
import { ggufTokenizerFields, readGgufMetadata } from './tokenizer-gguf-meta.ts';

interface RefCase {
  text: string;
  bos: boolean;
  ids: number[];
  pieces: string[];
}
const refs = readRef<{ cases: RefCase[] }>('stories260K/tokenizer.json').cases;
const utf8 = (s: string): number[] => Array.from(new TextEncoder().encode(s));

// ---- an independent naive encoder: run.c's encode() loop, literally O(n^2) ----

/** The vocabulary as run.c sees it: raw spellings and scores, spelling -> id over the whole vocabulary. */
interface NaiveVocab {
  pieces: string[];
  scores: number[];
  byteId: (b: number) => number;
  space: string;
}

function naiveEncode(v: NaiveVocab, text: string, bos: number | null): number[] {
  const lookup = new Map<string, number>();
  v.pieces.forEach((p, i) => lookup.set(p, i));
  const toks: number[] = bos === null ? [] : [bos];
  if (text === '') return toks;
  const s = (' ' + text).split(' ').join(v.space);
  const body: number[] = [];
  for (const ch of Array.from(s)) {
    const id = lookup.get(ch);
    if (id !== undefined) body.push(id);
    else for (const b of utf8(ch)) body.push(v.byteId(b));
  }
  // score of merging body[i] and body[i+1] (or null), recomputed only next to a merge
  const pairOf = (i: number): { score: number; id: number } | null => {
    const id = lookup.get(v.pieces[body[i]] + v.pieces[body[i + 1]]);
    return id === undefined ? null : { score: v.scores[id], id };
  };
  const pairs = body.slice(0, -1).map((_, i) => pairOf(i));
  for (;;) {
    let best = -1;
    let bestScore = -1e10; // run.c's starting best_score; strictly greater wins, so ties go to the leftmost
    for (let i = 0; i < pairs.length; i++) {
      const p = pairs[i];
      if (p !== null && p.score > bestScore) {
        bestScore = p.score;
        best = i;
      }
    }
    if (best < 0) break;
    body[best] = pairs[best]!.id;
    body.splice(best + 1, 1);
    pairs.splice(best, 1);
    if (best > 0) pairs[best - 1] = pairOf(best - 1);
    if (best < pairs.length) pairs[best] = pairOf(best);
  }
  return toks.concat(body);
}

/** tok512.bin read here independently: [spelling, score] per token. */
function readTokBin(bytes: Uint8Array): NaiveVocab {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const pieces: string[] = [];
  const scores: number[] = [];
  for (let o = 4; o < bytes.length; ) {
    scores.push(dv.getFloat32(o, true));
    const n = dv.getInt32(o + 4, true);
    pieces.push(new TextDecoder().decode(bytes.subarray(o + 8, o + 8 + n)));
    o += 8 + n;
  }
  return { pieces, scores, byteId: (b) => b + 3, space: ' ' };
}

/** A deterministic ~20k-character text: story words, punctuation, digits, newlines, accents, emoji. */
function longText(nChars: number, seed = 12345): string {
  const words = ['Once', 'upon', 'a', 'time', 'there', 'was', 'little', 'girl', 'named', 'Lily', 'She', 'loved',
    'to', 'play', 'with', 'her', 'big', 'red', 'ball', 'in', 'the', 'park', 'One', 'day', 'saw', 'happy', 'dog',
    'café', 'naïve', 'über', '☕', '😀', '123', '42', 'Tim', 'said', '"Hi!"', 'mom.', 'it\'s', 'résumé', '日本'];
  const seps = [' ', ' ', ' ', ' ', ', ', '. ', '\n', '  ', '! ', '? ', '\t'];
  let x = seed;
  const rnd = (n: number): number => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return (x >>> 8) % n;
  };
  let s = '';
  while (s.length < nChars) s += words[rnd(words.length)] + seps[rnd(seps.length)];
  return s.slice(0, nChars);
}

function minTimeMs(f: () => void, runs = 3): number {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    f();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

// ---- llama2.c tokenizer.bin ----

describe('sentencePieceFromLlama2c (stories260K tok512.bin)', () => {
  const bin = readModelBytes('stories260K/tok512.bin');
  const tok = sentencePieceFromLlama2c(bin, { bosId: 1, eosId: 2, addBos: true });
  const naive = readTokBin(bin);

  it('has the vocabulary of the file', () => {
    expect(tok.kind).toBe('sentencepiece-bpe');
    expect(tok.vocabSize).toBe(512);
    expect(tok.bosId).toBe(1);
    expect(tok.eosId).toBe(2);
    expect(tok.addBosDefault).toBe(true);
    expect(tok.piece(1)).toBe('\n<s>\n');
    expect(tok.piece(259)).toBe(' t');
  });

  for (const c of refs) {
    it(`reference ids and pieces: ${JSON.stringify(c.text)} bos=${c.bos}`, () => {
      const ids = tok.encode(c.text, { addBos: c.bos });
      expect(ids).toEqual(c.ids);
      expect(ids.map((i) => tok.piece(i))).toEqual(c.pieces);
      expect(tok.decode(ids)).toBe(c.text);
      // the naive loop agrees with the references too (so it is a fair judge below)
      expect(naiveEncode(naive, c.text, c.bos ? 1 : null)).toEqual(c.ids);
    });
  }

  it('addBos defaults to the tokenizer default', () => {
    expect(tok.encode('Once upon a time')).toEqual([1, 403, 407, 261, 378]);
    const noBos = sentencePieceFromLlama2c(bin, { bosId: 1, eosId: 2, addBos: false });
    expect(noBos.encode('Once upon a time')).toEqual([403, 407, 261, 378]);
    expect(noBos.addBosDefault).toBe(false);
  });

  it('edge cases (hand-computed from tok512: " " = 410, byte b = b + 3)', () => {
    expect(tok.encode('', { addBos: true })).toEqual([1]);
    expect(tok.encode('', { addBos: false })).toEqual([]);
    // tok512 has no "  " piece: dummy prefix + three spaces = four single spaces
    expect(tok.encode('   ', { addBos: false })).toEqual([410, 410, 410, 410]);
    // newline has no piece: byte 0x0A -> 13
    expect(tok.encode('\n', { addBos: false })).toEqual([410, 13]);
    expect(tok.encode('a\nb', { addBos: false })).toEqual([261, 13, 430]); // " a", <0x0A>, "b"
    // 4-byte UTF-8 (U+1F600 = F0 9F 98 80)
    expect(tok.encode('😀', { addBos: false })).toEqual([410, 0xf0 + 3, 0x9f + 3, 0x98 + 3, 0x80 + 3]);
    // a lone surrogate is U+FFFD (EF BF BD), never a crash
    expect(tok.encode('\uD800', { addBos: false })).toEqual([410, 0xef + 3, 0xbf + 3, 0xbd + 3]);
    expect(tok.encode('x\uDC00y', { addBos: false })).toEqual(tok.encode('x\uFFFDy', { addBos: false }));
  });

  it('decode: drops BOS/EOS, strips the dummy space at the start and after BOS, rebuilds UTF-8 from bytes', () => {
    expect(tok.decode([])).toBe('');
    expect(tok.decode([1])).toBe('');
    expect(tok.decode([1, 403, 407, 2])).toBe('Once upon');
    expect(tok.decode([403, 407])).toBe('Once upon');
    expect(tok.decode([407, 1, 403])).toBe('uponOnce');
    expect(tok.decode([412, 403])).toBe('a Once');
    expect(tok.decode([410, 0xf0 + 3, 0x9f + 3, 0x98 + 3, 0x80 + 3])).toBe('😀');
    expect(tok.decode([0xe2 + 3])).toBe('\uFFFD'); // a truncated UTF-8 sequence
    for (const s of ['   ', '\n\n', 'a\tb\r\nc', '😀 ☕ café', '\uFEFFbom', ' leading space']) {
      expect(tok.decode(tok.encode(s))).toBe(s);
    }
  });

  it('plain text never produces BOS/EOS', () => {
    const ids = tok.encode('\n<s>\n hello \n</s>\n <unk>', { addBos: false });
    expect(ids).not.toContain(0);
    expect(ids).not.toContain(1);
    expect(ids).not.toContain(2);
  });

  it('a 20k-character text: fast, and equal to the naive O(n^2) loop', () => {
    const text = longText(20_000);
    const ms = minTimeMs(() => tok.encode(text));
    const ids = tok.encode(text);
    expect(ids).toEqual(naiveEncode(naive, text, 1));
    expect(tok.decode(ids)).toBe(text);
    expect(ms).toBeLessThan(1000);
  });

  it('rejects a truncated file', () => {
    expect(() => sentencePieceFromLlama2c(bin.subarray(0, 101), { bosId: 1, eosId: 2, addBos: true })).toThrow(/truncated|past the end/);
  });
});

// ---- GGUF llama vocabularies ----

function ggufSpm(rel: string): { tok: Tokenizer; naive: NaiveVocab; f: ReturnType<typeof ggufTokenizerFields> } {
  const f = ggufTokenizerFields(readGgufMetadata(readModelBytes(rel)));
  expect(f.model).toBe('llama');
  const tok = sentencePieceFromGguf({
    tokens: f.tokens,
    scores: f.scores,
    tokenTypes: f.tokenTypes,
    bosId: f.bosId,
    eosId: f.eosId,
    unkId: f.unkId,
    addBos: f.addBos ?? true,
  });
  const byteIds = new Map<number, number>();
  f.tokens.forEach((t, i) => {
    const m = /^<0x([0-9A-F]{2})>$/.exec(t);
    if (m) byteIds.set(parseInt(m[1], 16), i);
  });
  const naive: NaiveVocab = { pieces: f.tokens, scores: f.scores!, byteId: (b) => byteIds.get(b)!, space: '\u2581' };
  return { tok, naive, f };
}

describe('sentencePieceFromGguf (stories260K.gguf, same vocabulary as tok512.bin)', () => {
  const { tok, naive } = ggufSpm('stories260K-gguf/stories260K.gguf');

  it('has the GGUF vocabulary', () => {
    expect(tok.vocabSize).toBe(512);
    expect(tok.bosId).toBe(1);
    expect(tok.eosId).toBe(2);
    expect(tok.piece(1)).toBe('<s>');
    expect(tok.piece(259)).toBe('\u2581t');
  });

  for (const c of refs) {
    it(`reference ids and pieces: ${JSON.stringify(c.text)} bos=${c.bos}`, () => {
      const ids = tok.encode(c.text, { addBos: c.bos });
      expect(ids).toEqual(c.ids);
      // GGUF spells spaces "▁" and BOS "<s>"; the reference pieces are the tok512 spellings
      const want = c.pieces.map((p, i) => (c.bos && i === 0 ? '<s>' : p.split(' ').join('\u2581')));
      expect(ids.map((i) => tok.piece(i))).toEqual(want);
      expect(tok.decode(ids)).toBe(c.text);
      expect(naiveEncode(naive, c.text, c.bos ? 1 : null)).toEqual(c.ids);
    });
  }

  it('edge cases', () => {
    expect(tok.encode('')).toEqual([1]);
    expect(tok.encode('', { addBos: false })).toEqual([]);
    expect(tok.encode('   ', { addBos: false })).toEqual([410, 410, 410, 410]);
    expect(tok.encode('\n', { addBos: false })).toEqual([410, 13]);
    expect(tok.encode('😀', { addBos: false })).toEqual([410, 0xf0 + 3, 0x9f + 3, 0x98 + 3, 0x80 + 3]);
    expect(tok.encode('\uDBFF', { addBos: false })).toEqual([410, 0xef + 3, 0xbf + 3, 0xbd + 3]);
    expect(tok.decode(tok.encode('a\tb\r\nc 😀'))).toBe('a\tb\r\nc 😀');
    const ids = tok.encode('<s></s><unk><0x0A>', { addBos: false });
    expect(ids).not.toContain(0);
    expect(ids).not.toContain(1);
    expect(ids).not.toContain(2);
    expect(ids).not.toContain(13);
  });

  it('a 20k-character text equals the llama2.c tokenizer and the naive loop', () => {
    const text = longText(20_000, 777);
    const ids = tok.encode(text);
    const bin = sentencePieceFromLlama2c(readModelBytes('stories260K/tok512.bin'), { bosId: 1, eosId: 2, addBos: true });
    expect(ids).toEqual(bin.encode(text));
    expect(ids).toEqual(naiveEncode(naive, text, 1));
  });

  it('infers token types when the file has none', () => {
    const f = ggufTokenizerFields(readGgufMetadata(readModelBytes('stories260K-gguf/stories260K.gguf')));
    const t = sentencePieceFromGguf({ ...f, scores: f.scores, tokenTypes: null, addBos: true });
    for (const c of refs) expect(t.encode(c.text, { addBos: c.bos })).toEqual(c.ids);
    expect(t.decode([1, 403, 2])).toBe('Once');
  });
});

describe('sentencePieceFromGguf (llama-2-tiny-random.gguf: the real 32k Llama 2 vocabulary)', () => {
  const { tok, naive, f } = ggufSpm('wild/llama-2-tiny-random/llama-2-tiny-random.gguf');

  it('has the Llama 2 vocabulary', () => {
    expect(tok.vocabSize).toBe(32000);
    expect(tok.bosId).toBe(1);
    expect(tok.eosId).toBe(2);
    expect(tok.piece(13)).toBe('<0x0A>');
    expect(tok.piece(29871)).toBe('\u2581');
  });

  it('known Llama 2 tokenizations', () => {
    // "Hello world" -> [1, 15043, 3186] (▁Hello, ▁world) is the well-known Llama 2 result
    expect(tok.encode('Hello world')).toEqual([1, 15043, 3186]);
    expect(tok.piece(15043)).toBe('\u2581Hello');
    expect(tok.piece(3186)).toBe('\u2581world');
    expect(tok.encode('Hello world', { addBos: false })).toEqual([15043, 3186]);
    expect(tok.decode([1, 15043, 3186, 2])).toBe('Hello world');
    // a lone newline is "▁" (29871, the dummy prefix) then the byte token <0x0A> (13), a well-known Llama 2 quirk
    expect(tok.encode('\n')).toEqual([1, 29871, 13]);
    expect(tok.encode('Hello\nworld', { addBos: false })).toContain(13);
  });

  it('byte fallback for a character outside the vocabulary', () => {
    const rare = '\u{1D538}'; // MATHEMATICAL DOUBLE-STRUCK CAPITAL A, F0 9D 94 B8
    expect(f.tokens.some((t) => t.includes(rare))).toBe(false);
    // "▁" (29871) for the dummy prefix, then the four byte tokens <0xF0> <0x9D> <0x94> <0xB8> (byte + 3)
    expect(tok.encode(rare)).toEqual([1, 29871, 0xf0 + 3, 0x9d + 3, 0x94 + 3, 0xb8 + 3]);
    expect(tok.decode(tok.encode(rare))).toBe(rare);
  });

  it('agrees with the naive loop and round-trips', () => {
    for (const s of ['Hello world', 'The quick brown fox jumps over the lazy dog.', '  two  spaces  ', 'naïve café ☕ 😀', '日本語のテキスト', 'a\n\nb\tc']) {
      expect(tok.encode(s)).toEqual(naiveEncode(naive, s, 1));
      expect(tok.decode(tok.encode(s))).toBe(s);
    }
    const text = longText(20_000, 99);
    const ms = minTimeMs(() => tok.encode(text));
    expect(tok.encode(text)).toEqual(naiveEncode(naive, text, 1));
    expect(ms).toBeLessThan(1000);
  });

  it('does not hang on a long text', () => {
    const text = longText(200_000, 5) + ' '.repeat(5000) + 'x'.repeat(5000);
    const t0 = performance.now();
    const ids = tok.encode(text);
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(tok.decode(ids)).toBe(text);
  });
});

describe('sentencePieceFromGguf: a hand-made vocabulary', () => {
  //              0        1      2       3     4    5     6     7     8     9       10
  const tokens = ['<unk>', '<s>', '</s>', '▁', 'a', 'aa', 'b', 'c', 'ab', 'bc', '<0x62>'];
  const types = [2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 6];
  const make = (scores: number[]) =>
    sentencePieceFromGguf({ tokens, scores, tokenTypes: types, bosId: 1, eosId: 2, unkId: 0, addBos: false });

  it('equal scores: the leftmost pair merges first', () => {
    const tok = make(tokens.map(() => 0));
    // ▁ a a a: the pairs (a a) at 1 and 2 tie; the left one wins, then "aaa" is no piece
    expect(tok.encode('aaa')).toEqual([3, 5, 4]);
    expect(tok.encode('aaaa')).toEqual([3, 5, 5]);
  });

  it('the highest score wins, wherever it is', () => {
    const s = tokens.map(() => 0);
    s[8] = -1; // ab
    s[9] = -2; // bc
    expect(make(s).encode('abc')).toEqual([3, 8, 7]);
    s[8] = -3;
    expect(make(s).encode('abc')).toEqual([3, 4, 9]);
  });

  it('byte fallback to the unknown token where a byte token is missing', () => {
    const tok = make(tokens.map(() => 0));
    // "x" has no piece; 0x78 has no byte token -> <unk>; "é" = C3 A9 -> two <unk>
    expect(tok.encode('x')).toEqual([3, 0]);
    expect(tok.encode('é')).toEqual([3, 0, 0]);
    expect(tok.decode([3, 0, 4])).toBe('<unk>a');
    // a byte token is used when present (0x62 = "b" only if "b" had no piece; here "b" has one)
    expect(tok.encode('b')).toEqual([3, 6]);
    expect(tok.decode([4, 10])).toBe('ab');
  });
});
