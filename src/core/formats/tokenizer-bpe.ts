// Byte-level BPE (GPT-2 family) and Hugging Face tokenizer.json tokenizers, both run by the pure-JS
// @huggingface/tokenizers library so that the two paths share one implementation:
//   - fromTokenizerJson: a Hugging Face tokenizer.json (+ optional tokenizer_config.json) as is;
//   - byteLevelBpeFromGguf: a GGUF `tokenizer.ggml.model` = "gpt2" vocabulary turned into the equivalent
//     tokenizer.json object (model BPE: vocab = tokenizer.ggml.tokens, merges = tokenizer.ggml.merges;
//     pre-tokenizer = the regex split llama.cpp uses for `tokenizer.ggml.pre`, then ByteLevel; decoder
//     ByteLevel). Byte-level BPE follows Radford et al. 2019 (GPT-2): text -> UTF-8 bytes -> one printable
//     character per byte -> BPE merges by rank inside each pre-token.
// Policy shared by both (llama.cpp's default, parse_special = false): special/control tokens are never produced
// from plain text (a literal "<|endoftext|>" in the text is tokenized as ordinary characters); BOS is added by
// this wrapper, not by the tokenizer.json post-processor; decode drops special/control tokens and does not
// "clean up" spaces unless the config asks for it (so decode(encode(text)) === text for byte-level models).

import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import type { EncodeOptions, Tokenizer } from './tokenizer.ts';
import { LoadError } from './errors.ts';
import { TokenType, toWellFormed } from './tokenizer-spm.ts';

type Json = Record<string, unknown>;

/** A byte-level tokenizer built from GGUF metadata; `warnings` says where the conversion had to guess. */
export interface ByteLevelBpeTokenizer extends Tokenizer {
  readonly warnings: readonly string[];
}

const HINT = 'The tokenizer data is damaged or uses a feature LayerLab does not support yet.';

class HfBackedTokenizer implements ByteLevelBpeTokenizer {
  readonly kind: 'byte-level-bpe' | 'hf-tokenizer-json';
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly addBosDefault: boolean;
  readonly warnings: readonly string[];
  private readonly hf: HfTokenizer;
  private readonly pieces: string[];
  /** 1 for ids that decode drops (special added tokens, GGUF control tokens). */
  private readonly dropOnDecode: Uint8Array;
  private readonly cleanUpSpaces: boolean;

  constructor(a: {
    kind: 'byte-level-bpe' | 'hf-tokenizer-json';
    hfJson: Json;
    hfConfig: Json;
    pieces: string[];
    dropOnDecode: Uint8Array;
    bosId: number | null;
    eosId: number | null;
    addBos: boolean;
    cleanUpSpaces: boolean;
    warnings: string[];
  }) {
    this.kind = a.kind;
    try {
      this.hf = new HfTokenizer(a.hfJson, a.hfConfig);
    } catch (e) {
      throw new LoadError('tokenizer', `tokenizer could not be built: ${e instanceof Error ? e.message : String(e)}`, HINT, { cause: e });
    }
    this.pieces = a.pieces;
    this.vocabSize = a.pieces.length;
    this.dropOnDecode = a.dropOnDecode;
    const inRange = (x: number | null): number | null => (x !== null && Number.isInteger(x) && x >= 0 && x < this.vocabSize ? x : null);
    this.bosId = inRange(a.bosId);
    this.eosId = inRange(a.eosId);
    this.addBosDefault = a.addBos;
    this.cleanUpSpaces = a.cleanUpSpaces;
    this.warnings = a.warnings;
  }

  encode(text: string, opts?: EncodeOptions): number[] {
    const out: number[] = [];
    if ((opts?.addBos ?? this.addBosDefault) && this.bosId !== null) out.push(this.bosId);
    const t = toWellFormed(text);
    if (t.length === 0) return out;
    const enc = this.hf.encode(t, { add_special_tokens: false });
    for (let i = 0; i < enc.ids.length; i++) {
      const id = enc.ids[i];
      if (typeof id !== 'number') throw new Error(`tokenizer: piece ${JSON.stringify(enc.tokens[i])} has no id and the vocabulary has no unknown token`);
      out.push(id);
    }
    return out;
  }

  decode(ids: number[]): string {
    let text = '';
    let run: number[] = [];
    const flush = (): void => {
      if (run.length > 0) text += this.hf.decode(run, { skip_special_tokens: false, clean_up_tokenization_spaces: this.cleanUpSpaces });
      run = [];
    };
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize || this.pieces[id] === undefined) {
        flush();
        text += '\uFFFD'; // an id outside the vocabulary
      } else if (!this.dropOnDecode[id]) {
        run.push(id);
      }
    }
    flush();
    return text;
  }

  piece(id: number): string {
    return (id >= 0 && id < this.vocabSize ? this.pieces[id] : undefined) ?? '\uFFFD';
  }
}

// ---- pre-tokenizers for tokenizer.ggml.pre (the regexes llama.cpp's llm_tokenizer_bpe uses) ----

const GPT2_REGEX = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
const LLAMA3_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/** llama.cpp's LLAMA_VOCAB_PRE_TYPE_DEFAULT: four regexes applied one after the other. */
const DEFAULT_REGEXES = ['[\\p{P}\\$\\+<=>\\^~\\|]+', GPT2_REGEX, '\\p{N}+', '[0-9][0-9][0-9]'];

const split = (regex: string): Json => ({ type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false });
const byteLevel = (useRegex: boolean): Json => ({ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: useRegex });
const splitThenBytes = (regexes: string[]): Json => ({ type: 'Sequence', pretokenizers: [...regexes.map(split), byteLevel(false)] });

interface PreTokenizerChoice {
  preTokenizer: Json;
  ignoreMerges: boolean;
  warning?: string;
}

function preTokenizerFor(pre: string | undefined): PreTokenizerChoice {
  switch (pre ?? 'default') {
    case 'gpt-2':
    case 'gpt2':
      return { preTokenizer: byteLevel(true), ignoreMerges: false };
    case 'default':
    case '':
      return { preTokenizer: splitThenBytes(DEFAULT_REGEXES), ignoreMerges: false };
    case 'llama3':
    case 'llama-v3':
    case 'llama-bpe':
    case 'falcon3':
      return { preTokenizer: splitThenBytes([LLAMA3_REGEX]), ignoreMerges: true };
    case 'dbrx':
    case 'smaug-bpe':
      return { preTokenizer: splitThenBytes([LLAMA3_REGEX]), ignoreMerges: false };
    case 'qwen2':
    case 'qwen2.5':
    case 'deepseek-r1-qwen':
      return { preTokenizer: splitThenBytes([QWEN2_REGEX]), ignoreMerges: false };
    case 'smollm':
      return { preTokenizer: splitThenBytes(['\\p{N}', GPT2_REGEX]), ignoreMerges: false };
    default:
      return {
        preTokenizer: byteLevel(true),
        ignoreMerges: false,
        warning: `tokenizer.ggml.pre "${pre}" is not mapped; the GPT-2 pre-tokenizer regex is used, so some texts may split differently from llama.cpp`,
      };
  }
}

/** "a b" -> ["a", "b"], splitting at the first space after the first character (as llama.cpp does). */
function splitMerge(m: string): [string, string] {
  const pos = m.indexOf(' ', 1);
  if (pos < 0) throw new LoadError('tokenizer', `GGUF tokenizer: merge ${JSON.stringify(m)} has no space`, HINT);
  return [m.slice(0, pos), m.slice(pos + 1)];
}

/**
 * A GGUF `gpt2` (byte-level BPE) vocabulary. Token types: 3 (control) tokens are left out of the BPE vocabulary
 * (never produced from text) and dropped by decode; 4 (user-defined) tokens are matched literally in the text,
 * as llama.cpp does. An empty merges list is fine (every byte is then its own token).
 */
export function byteLevelBpeFromGguf(v: {
  tokens: string[];
  merges: string[];
  tokenTypes: number[] | null;
  bosId: number | null;
  eosId: number | null;
  addBos: boolean;
  pre?: string;
}): ByteLevelBpeTokenizer {
  const n = v.tokens.length;
  if (v.tokenTypes && v.tokenTypes.length !== n) {
    throw new LoadError('tokenizer', `GGUF tokenizer: ${n} tokens but ${v.tokenTypes.length} token types`, HINT);
  }
  const dropOnDecode = new Uint8Array(n);
  const vocab: [string, number][] = [];
  const added: Json[] = [];
  for (let id = 0; id < n; id++) {
    const t = v.tokenTypes ? v.tokenTypes[id] : TokenType.normal;
    if (t === TokenType.control) {
      dropOnDecode[id] = 1;
      continue;
    }
    vocab.push([v.tokens[id], id]);
    if (t === TokenType.userDefined) {
      added.push({ id, content: v.tokens[id], single_word: false, lstrip: false, rstrip: false, normalized: false, special: false });
    }
  }
  const choice = preTokenizerFor(v.pre);
  const hfJson: Json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: choice.preTokenizer,
    post_processor: null,
    decoder: byteLevel(true),
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: choice.ignoreMerges,
      vocab: Object.fromEntries(vocab), // own properties even for a token spelled "__proto__"
      merges: v.merges.map(splitMerge),
    },
  };
  return new HfBackedTokenizer({
    kind: 'byte-level-bpe',
    hfJson,
    hfConfig: {},
    pieces: v.tokens,
    dropOnDecode,
    bosId: v.bosId,
    eosId: v.eosId,
    addBos: v.addBos,
    cleanUpSpaces: false,
    warnings: choice.warning ? [choice.warning] : [],
  });
}

function isObject(x: unknown): x is Json {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** The text of a tokenizer_config.json token field: "<s>" or {"content": "<s>", ...}. */
function tokenText(x: unknown): string | null {
  if (typeof x === 'string') return x;
  if (isObject(x) && typeof x.content === 'string') return x.content;
  return null;
}

/** The template post-processor of a tokenizer.json (possibly inside a Sequence), if any. */
function templateProcessor(pp: unknown): Json | null {
  if (!isObject(pp)) return null;
  if (pp.type === 'TemplateProcessing') return pp;
  if (pp.type === 'Sequence' && Array.isArray(pp.processors)) {
    for (const p of pp.processors) {
      const t = templateProcessor(p);
      if (t) return t;
    }
  }
  return null;
}

/** The id of the special token the template puts first for a single sequence (BOS), if it does. */
function templateBosId(pp: unknown): number | null {
  const tp = templateProcessor(pp);
  if (!tp || !Array.isArray(tp.single) || !isObject(tp.single[0])) return null;
  const first = tp.single[0].SpecialToken;
  if (!isObject(first) || typeof first.id !== 'string' || !isObject(tp.special_tokens)) return null;
  const spec = tp.special_tokens[first.id];
  if (!isObject(spec) || !Array.isArray(spec.ids) || typeof spec.ids[0] !== 'number') return null;
  return spec.ids[0];
}

/**
 * A Hugging Face tokenizer.json, with tokenizer_config.json as `config` when there is one. BOS/EOS come from
 * `opts` (null or absent: not known), else from the config's bos_token/eos_token, else (BOS) from a
 * TemplateProcessing post-processor;
 * addBos from `opts`, else the config's add_bos_token, else whether that template starts with BOS.
 */
export function fromTokenizerJson(
  json: object,
  config?: object,
  opts?: { addBos?: boolean; bosId?: number | null; eosId?: number | null },
): Tokenizer {
  if (!isObject(json) || !isObject(json.model)) {
    throw new LoadError('tokenizer', 'tokenizer.json has no "model" object', 'Check that the file is a Hugging Face tokenizer.json.');
  }
  const cfg: Json = isObject(config) ? config : {};
  const model = json.model;

  // id -> piece over the model vocabulary and every added token.
  const pieces: string[] = [];
  if (Array.isArray(model.vocab)) {
    model.vocab.forEach((entry, id) => {
      if (Array.isArray(entry) && typeof entry[0] === 'string') pieces[id] = entry[0]; // Unigram: [piece, score]
    });
  } else if (isObject(model.vocab)) {
    for (const [p, id] of Object.entries(model.vocab)) if (typeof id === 'number') pieces[id] = p;
  }
  const addedAll = Array.isArray(json.added_tokens) ? json.added_tokens.filter(isObject) : [];
  for (const t of addedAll) if (typeof t.id === 'number' && typeof t.content === 'string') pieces[t.id] = t.content;
  const dropOnDecode = new Uint8Array(pieces.length);
  for (const t of addedAll) if (t.special === true && typeof t.id === 'number') dropOnDecode[t.id] = 1;

  const idOf = (text: string | null): number | null => {
    if (text === null) return null;
    const a = addedAll.find((t) => t.content === text);
    if (a && typeof a.id === 'number') return a.id;
    const i = pieces.indexOf(text);
    return i >= 0 ? i : null;
  };
  const tplBos = templateBosId(json.post_processor);
  const bosId = opts?.bosId ?? idOf(tokenText(cfg.bos_token)) ?? tplBos;
  const eosId = opts?.eosId ?? idOf(tokenText(cfg.eos_token));
  const addBos =
    opts?.addBos ?? (typeof cfg.add_bos_token === 'boolean' ? cfg.add_bos_token : tplBos !== null);

  // Special added tokens are not matched in plain text; BOS is ours to add, so no post-processor.
  const hfJson: Json = {
    ...json,
    added_tokens: addedAll.filter((t) => t.special !== true),
    post_processor: null,
    normalizer: json.normalizer ?? null,
    pre_tokenizer: json.pre_tokenizer ?? null,
    decoder: json.decoder ?? null,
  };
  return new HfBackedTokenizer({
    kind: 'hf-tokenizer-json',
    hfJson,
    hfConfig: cfg,
    pieces,
    dropOnDecode,
    bosId,
    eosId,
    addBos,
    cleanUpSpaces: cfg.clean_up_tokenization_spaces === true,
    warnings: [],
  });
}
