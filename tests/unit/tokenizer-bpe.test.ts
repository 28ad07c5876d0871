// Byte-level BPE tokenizers (GGUF `gpt2` vocabularies and Hugging Face tokenizer.json) against
// kjv-gpt2-8L's documented behaviour (ids = UTF-8 bytes, checked by its authors with two tokenizer
// implementations; the greedy reference's prompt ids) and hand-computed merges on a tiny vocabulary.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { modelPath, readModelBytes, readRef } from '../helpers/models.ts';
import { byteLevelBpeFromGguf, fromTokenizerJson } from '../../src/core/formats/tokenizer-bpe.ts';
import { sentencePieceFromGguf } from '../../src/core/formats/tokenizer-spm.ts';
import type { Tokenizer } from '../../src/core/formats/tokenizer.ts';
import { ggufTokenizerFields, readGgufMetadata } from './tokenizer-gguf-meta.ts';

const utf8 = (s: string): number[] => Array.from(new TextEncoder().encode(s));
const readJson = (rel: string): object => JSON.parse(readFileSync(modelPath(rel), 'utf8')) as object;

const kjvFields = ggufTokenizerFields(readGgufMetadata(readModelBytes('kjv-gpt2-8L/kjv-gpt2-8L.gguf')));
const kjvGguf = byteLevelBpeFromGguf({
  tokens: kjvFields.tokens,
  merges: kjvFields.merges!,
  tokenTypes: kjvFields.tokenTypes,
  bosId: kjvFields.bosId,
  eosId: kjvFields.eosId,
  addBos: kjvFields.addBos ?? false,
  pre: kjvFields.pre,
});
const kjvJson = fromTokenizerJson(readJson('kjv-gpt2-8L/tokenizer.json'), readJson('kjv-gpt2-8L/tokenizer_config.json'), {
  bosId: 10,
  eosId: 10,
});

const byteTexts = [
  'In the beginning',
  'And God said, Let there be light: and there was light.',
  'tab\there\r\nCRLF\rCR\n',
  'café ☕ 123 — naïve',
  '😀 and 𝔸',
  '  leading and trailing spaces  ',
  "it's the LORD's, they'll, we've",
  'ĠĊ literal byte-unicode characters',
  '<|endoftext|>',
  '\u0000\u0001\u007f',
];

describe.each([
  ['GGUF', kjvGguf],
  ['tokenizer.json', kjvJson],
] as [string, Tokenizer][])('kjv-gpt2-8L byte vocabulary via %s', (_name, tok) => {
  it('is a 256-token byte vocabulary without BOS by default', () => {
    expect(tok.vocabSize).toBe(256);
    expect(tok.addBosDefault).toBe(false);
    expect(tok.bosId).toBe(10);
    expect(tok.eosId).toBe(10);
    expect(tok.piece(10)).toBe('Ċ');
    expect(tok.piece(32)).toBe('Ġ');
    expect(tok.piece(65)).toBe('A');
  });

  it('ids equal the UTF-8 bytes, and decode round-trips', () => {
    for (const s of byteTexts) {
      expect(tok.encode(s)).toEqual(utf8(s));
      expect(tok.decode(utf8(s))).toBe(s);
    }
  });

  it('empty string, lone surrogates, BOS on request', () => {
    expect(tok.encode('')).toEqual([]);
    expect(tok.encode('', { addBos: true })).toEqual([10]);
    expect(tok.encode('Hi', { addBos: true })).toEqual([10, 72, 105]);
    expect(tok.decode([])).toBe('');
    expect(tok.encode('a\uD800b')).toEqual([97, 0xef, 0xbf, 0xbd, 98]);
    expect(tok.encode('\uDFFF')).toEqual([0xef, 0xbf, 0xbd]);
    // newline (10) is an ordinary token here: decode keeps it
    expect(tok.decode([65, 10, 66])).toBe('A\nB');
    expect(tok.decode([0xe2, 0x98])).toBe('\uFFFD'); // a truncated UTF-8 sequence
  });

  it("the greedy reference's prompt and continuation", () => {
    const g = readRef<{ prompt: string; prompt_ids: number[]; float32: { generated_ids: number[]; generated_text: string; full_text: string } }>(
      'kjv-gpt2-8L/greedy.json',
    );
    expect(tok.encode(g.prompt)).toEqual(g.prompt_ids);
    expect(tok.decode(g.float32.generated_ids)).toBe(g.float32.generated_text);
    expect(tok.decode([...g.prompt_ids, ...g.float32.generated_ids])).toBe(g.float32.full_text);
  });

  it('a long text', () => {
    let text = '';
    for (let i = 0; i < 800; i++) text += `${i}: In the beginning God created the heaven and the earth. Ünïcödé ☕\n`;
    const t0 = performance.now();
    const ids = tok.encode(text);
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(ids).toEqual(utf8(text));
  });
});

// ---- a tiny hand-made GPT-2 style vocabulary with merges ----

// The 256 byte characters in byte order, taken from the kjv GGUF (GPT-2's bytes_to_unicode table).
const byteChars = kjvFields.tokens;
const extra = ['Ġt', 'he', 'Ġthe', 'in', "'s", '!!', '<|endoftext|>', '<|user|>'];
//              256   257   258     259   260   261   262 (control)  263 (user-defined)
const tinyTokens = [...byteChars, ...extra];
const tinyMerges = ['Ġ t', 'h e', 'Ġt he', 'i n', "' s", '! !'];
const tinyTypes = tinyTokens.map((_, i) => (i === 262 ? 3 : i === 263 ? 4 : 1));
const tiny = (pre?: string) =>
  byteLevelBpeFromGguf({ tokens: tinyTokens, merges: tinyMerges, tokenTypes: tinyTypes, bosId: 262, eosId: 262, addBos: false, pre });

describe('byteLevelBpeFromGguf: hand-computed merges', () => {
  it("pre 'gpt-2'", () => {
    const tok = tiny('gpt-2');
    expect(tok.warnings).toEqual([]);
    // " the" -> Ġ t h e -> (Ġ t) -> (h e) -> (Ġt he); " then" -> Ġthe n; " in" -> Ġ (i n)
    expect(tok.encode(' the then in')).toEqual([258, 258, 110, 32, 259]);
    expect(tok.encode('the')).toEqual([116, 257]);
    // regex split: "x" | "'s" ; "wow" | "!!"
    expect(tok.encode("x's")).toEqual([120, 260]);
    expect(tok.encode('wow!!')).toEqual([119, 111, 119, 261]);
    // "t" | " he": the space-prefixed pre-token merges "h e" but not "Ġ t" across the split
    expect(tok.encode('t he')).toEqual([116, 32, 257]);
    expect(tok.decode([258, 258, 110, 32, 259])).toBe(' the then in');
  });

  it("pre 'default' (llama.cpp's four regexes: punctuation is split off first)", () => {
    const tok = tiny('default');
    expect(tok.encode("x's")).toEqual([120, 39, 115]);
    expect(tok.encode('wow!!')).toEqual([119, 111, 119, 261]);
    expect(tok.encode(' the then in')).toEqual([258, 258, 110, 32, 259]);
    expect(tiny(undefined).encode("x's")).toEqual([120, 39, 115]);
  });

  it('an unknown pre falls back to the GPT-2 regex with a warning', () => {
    const tok = tiny('some-new-model');
    expect(tok.warnings.length).toBe(1);
    expect(tok.encode("x's")).toEqual([120, 260]);
  });

  it('control tokens are never produced from text and are dropped by decode; user-defined ones are matched', () => {
    const tok = tiny('gpt-2');
    expect(tok.encode('<|endoftext|>')).toEqual(utf8('<|endoftext|>'));
    expect(tok.encode('<|endoftext|>', { addBos: true })).toEqual([262, ...utf8('<|endoftext|>')]);
    expect(tok.decode([262, 258, 262])).toBe(' the');
    expect(tok.piece(262)).toBe('<|endoftext|>');
    expect(tok.encode('hi<|user|>there')).toEqual([104, 105, 263, 116, 257, 114, 101]);
    expect(tok.decode([104, 105, 263, 116, 257, 114, 101])).toBe('hi<|user|>there');
  });

  it('ids outside the vocabulary decode to U+FFFD', () => {
    const tok = tiny('gpt-2');
    expect(tok.decode([72, 999, 105])).toBe('H\uFFFDi');
  });
});

describe('fromTokenizerJson: special tokens, BOS from the template', () => {
  const vocab = Object.fromEntries(tinyTokens.slice(0, 262).map((t, i) => [t, i]));
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      { id: 262, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
      { id: 263, content: '<|user|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: false },
    ],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<|endoftext|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [],
      special_tokens: { '<|endoftext|>': { id: '<|endoftext|>', ids: [262], tokens: ['<|endoftext|>'] } },
    },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: tinyMerges.map((m) => m.split(' ')),
    },
  };

  it('takes BOS and addBos from the template post-processor', () => {
    const tok = fromTokenizerJson(json);
    expect(tok.kind).toBe('hf-tokenizer-json');
    expect(tok.vocabSize).toBe(264);
    expect(tok.bosId).toBe(262);
    expect(tok.addBosDefault).toBe(true);
    expect(tok.encode(' the then in')).toEqual([262, 258, 258, 110, 32, 259]);
    expect(tok.encode(' the', { addBos: false })).toEqual([258]);
    expect(tok.encode('')).toEqual([262]);
  });

  it('special tokens are not matched in text; decode drops them', () => {
    const tok = fromTokenizerJson(json, {}, { addBos: false });
    expect(tok.encode('<|endoftext|>')).toEqual(utf8('<|endoftext|>'));
    expect(tok.encode('hi<|user|>there')).toEqual([104, 105, 263, 116, 257, 114, 101]);
    expect(tok.decode([262, 258, 263])).toBe(' the<|user|>');
    expect(tok.piece(262)).toBe('<|endoftext|>');
  });

  it('config and opts override the template', () => {
    const tok = fromTokenizerJson(json, { add_bos_token: false, eos_token: '<|endoftext|>' });
    expect(tok.addBosDefault).toBe(false);
    expect(tok.eosId).toBe(262);
    expect(fromTokenizerJson(json, {}, { bosId: 65 }).encode('x')).toEqual([65, 120]);
    expect(fromTokenizerJson(json, {}, { bosId: null }).encode('x')).toEqual([262, 120]); // null: not known, derived
    expect(fromTokenizerJson(json, { bos_token: { content: '<|user|>' } }).bosId).toBe(263);
  });

  it('rejects a file without a model', () => {
    expect(() => fromTokenizerJson({ version: '1.0' })).toThrow(/model/);
  });
});

describe('fromTokenizerJson: a Llama-style (SentencePiece BPE) tokenizer.json', () => {
  // Built from the stories260K GGUF vocabulary the way Hugging Face's Llama converter does: merges = every
  // split of a piece into two pieces, ranked by the merged piece's score; normalizer Prepend("▁") +
  // Replace(" " -> "▁"); BPE with byte_fallback; decoder Replace/ByteFallback/Fuse/Strip. Then judged
  // against the run.c/llama.cpp references, so this also checks @huggingface/tokenizers on this family.
  const f = ggufTokenizerFields(readGgufMetadata(readModelBytes('stories260K-gguf/stories260K.gguf')));
  const vocab = Object.fromEntries(f.tokens.map((t, i) => [t, i]));
  const merges: { a: string; b: string; score: number; id: number }[] = [];
  f.tokens.forEach((p, id) => {
    if (f.tokenTypes![id] !== 1) return;
    const cs = Array.from(p);
    for (let k = 1; k < cs.length; k++) {
      const a = cs.slice(0, k).join('');
      const b = cs.slice(k).join('');
      if (a in vocab && b in vocab) merges.push({ a, b, score: f.scores![id], id });
    }
  });
  merges.sort((x, y) => y.score - x.score || x.id - y.id);
  const special = (id: number) => ({ id, content: f.tokens[id], single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(0), special(1), special(2)],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab, merges: merges.map((m) => [m.a, m.b]),
    },
  };
  const tok = fromTokenizerJson(json, { bos_token: '<s>', eos_token: '</s>', add_bos_token: true });
  const refs = readRef<{ cases: { text: string; bos: boolean; ids: number[] }[] }>('stories260K/tokenizer.json').cases;

  it('reproduces the stories260K reference ids and decodes back', () => {
    expect(tok.bosId).toBe(1);
    expect(tok.eosId).toBe(2);
    expect(tok.addBosDefault).toBe(true);
    for (const c of refs) {
      const ids = tok.encode(c.text, { addBos: c.bos });
      expect(ids).toEqual(c.ids);
      expect(tok.decode(ids)).toBe(c.text);
    }
    expect(tok.encode('<s>', { addBos: false })).not.toContain(1);
  });

  it('agrees with the SentencePiece tokenizer on a long text', () => {
    const spm = sentencePieceFromGguf({ ...f, addBos: true });
    const words = ['Once', 'upon', 'a', 'time', 'café', '☕', '😀', '12', 'Lily', '  ', '\n', 'the', 'park.', '"Hi!"'];
    let text = '';
    let x = 1;
    while (text.length < 20_000) {
      x = (x * 1103515245 + 12345) % 2147483648;
      text += words[x % words.length] + ' ';
    }
    const ids = tok.encode(text);
    expect(ids).toEqual(spm.encode(text));
    expect(tok.decode(ids)).toBe(text);
  });
});
