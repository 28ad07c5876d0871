// One entry point for model files: detects the format of a set of files (GGUF by its magic;
// safetensors by its header or extension, with config.json + tokenizer.json by name or content;
// llama2.c by a checkpoint whose header matches its size plus a tokenizer .bin) and loads it.
// A set that is incomplete (a checkpoint without its tokenizer, weights without config.json)
// gets a LoadError that says which file is missing.

import { buildTokenizer, estimateResidentBytes, type LoaderOptions } from './common.ts';
import { LoadError, describeBytes } from './errors.ts';
import { loadGguf, parseGguf } from './gguf.ts';
import { hasLlama2cHeader, isLlama2cCheckpoint, isLlama2cTokenizer, loadLlama2c } from './llama2c.ts';
import { loadSafetensors } from './safetensors.ts';
import { fromTokenizerJson } from './tokenizer-bpe.ts';
import type { LoadedModel } from './types.ts';

export { estimateResidentBytes };
export type { LoaderOptions };

export interface InputFile {
  /** File name (a path is fine; only the last component is used). */
  name: string;
  bytes: Uint8Array;
}

export type FileRole =
  | 'gguf'
  | 'safetensors'
  | 'safetensors-index'
  | 'config'
  | 'tokenizer-json'
  | 'tokenizer-config'
  | 'llama2c-checkpoint'
  | 'llama2c-tokenizer'
  | 'other-json'
  | 'unknown';

const baseName = (n: string): string => n.split(/[\\/]/).pop() ?? n;
const lower = (n: string): string => baseName(n).toLowerCase();
const parentDir = (n: string): string | null => {
  const parts = n.split(/[\\/]/).filter((p) => p !== '' && p !== '.');
  return parts.length >= 2 ? parts[parts.length - 2] : null;
};

function looksLikeSafetensors(b: Uint8Array): boolean {
  if (b.length < 10 || b[8] !== 0x7b) return false;
  const n = new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(0, true);
  return n >= 2n && n <= BigInt(b.length - 8);
}

function looksLikeJson(b: Uint8Array): boolean {
  for (let i = 0; i < Math.min(b.length, 64); i++) {
    const c = b[i];
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0xef || c === 0xbb || c === 0xbf) continue;
    return c === 0x7b;
  }
  return false;
}

function parseJson(f: InputFile): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder('utf-8').decode(f.bytes));
  } catch (e) {
    throw new LoadError('bad-header', `${baseName(f.name)}: not valid JSON (${e instanceof Error ? e.message : String(e)})`, 'The file is damaged: download it again.');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new LoadError('bad-header', `${baseName(f.name)}: expected a JSON object`, 'The file is damaged or is not what its name says.');
  }
  return v as Record<string, unknown>;
}

interface Classified {
  file: InputFile;
  role: FileRole;
  json?: Record<string, unknown>;
}

/** Decides what each file is, from its name and first bytes. */
export function classifyFile(f: InputFile): Classified {
  const n = lower(f.name);
  const b = f.bytes;
  if (b.length === 0) throw new LoadError('empty', `${baseName(f.name)} is empty (0 bytes)`, 'The download or copy failed: get the file again.');
  if (b.length >= 4 && b[0] === 0x47 && b[1] === 0x47 && b[2] === 0x55 && b[3] === 0x46) return { file: f, role: 'gguf' };
  if (n.endsWith('.gguf')) return { file: f, role: 'gguf' }; // the parser explains what is wrong with it
  if (n.endsWith('.json') || looksLikeJson(b)) {
    const json = parseJson(f);
    let role: FileRole = 'other-json';
    if (n === 'config.json') role = 'config';
    else if (n === 'tokenizer.json') role = 'tokenizer-json';
    else if (n === 'tokenizer_config.json') role = 'tokenizer-config';
    else if (n.endsWith('.safetensors.index.json') || 'weight_map' in json) role = 'safetensors-index';
    else if (typeof json.model_type === 'string') role = 'config';
    else if (typeof json.model === 'object' && json.model !== null && ('added_tokens' in json || 'pre_tokenizer' in json)) role = 'tokenizer-json';
    return { file: f, role, json };
  }
  if (n.endsWith('.safetensors') || looksLikeSafetensors(b)) return { file: f, role: 'safetensors' };
  if (isLlama2cCheckpoint(b)) return { file: f, role: 'llama2c-checkpoint' };
  if (isLlama2cTokenizer(b) || /^tok.*\.bin$/.test(n)) return { file: f, role: 'llama2c-tokenizer' };
  // A plausible header with the wrong size: a truncated (or padded) checkpoint; the loader says which.
  if (hasLlama2cHeader(b)) return { file: f, role: 'llama2c-checkpoint' };
  if (n.endsWith('.bin') && !/^tok/.test(n) && describeBytes(b) === null) return { file: f, role: 'llama2c-checkpoint' };
  return { file: f, role: 'unknown' };
}

const stem = (name: string): string => baseName(name).replace(/\.(gguf|bin|safetensors)$/i, '');

/**
 * Loads a model from a set of files, detecting the format:
 * - one .gguf (a tokenizer.json next to it is used only if the GGUF has no tokenizer);
 * - config.json + one or more .safetensors (+ tokenizer.json, tokenizer_config.json);
 * - a llama2.c checkpoint .bin + its tokenizer .bin.
 */
export function loadModelFromFiles(files: InputFile[], opts: LoaderOptions = {}): LoadedModel {
  if (files.length === 0) throw new LoadError('incomplete-files', 'no files were given', 'Choose a .gguf file, a llama2.c .bin with its tokenizer, or a Hugging Face folder.');
  const cls = files.map(classifyFile);
  const of = (r: FileRole): Classified[] => cls.filter((c) => c.role === r);
  const names = (cs: Classified[]): string => cs.map((c) => baseName(c.file.name)).join(', ');

  const ggufs = of('gguf');
  if (ggufs.length > 1) {
    // Split GGUFs (llama-gguf-split) carry split.count; anything else is ambiguous.
    let split = false;
    try {
      split = parseGguf(ggufs[0].file.bytes, { headerOnly: true }).metadata.has('split.count');
    } catch {
      split = false;
    }
    throw new LoadError(
      split ? 'unsupported-feature' : 'incomplete-files',
      split ? `split GGUF (${names(ggufs)}) is not supported` : `several GGUF files were given (${names(ggufs)}); a model is one GGUF file`,
      split ? 'Merge the parts into one file with `llama-gguf-split --merge`.' : 'Choose one .gguf file.',
    );
  }
  if (ggufs.length === 1) {
    const g = ggufs[0];
    let tokenizer = opts.tokenizer;
    const tj = of('tokenizer-json')[0];
    if (!tokenizer && tj) {
      // Only when the GGUF itself carries no tokenizer.
      const hdr = parseGguf(g.file.bytes, { headerOnly: true });
      if (!hdr.metadata.has('tokenizer.ggml.tokens')) {
        tokenizer = buildTokenizer(baseName(tj.file.name), () => fromTokenizerJson(tj.json!, of('tokenizer-config')[0]?.json));
      }
    }
    return loadGguf(g.file.bytes, { ...opts, fileName: baseName(g.file.name), ...(tokenizer ? { tokenizer } : {}) });
  }

  const shards = of('safetensors');
  const configs = of('config');
  if (shards.length > 0 || (configs.length > 0 && of('llama2c-checkpoint').length === 0)) {
    if (shards.length === 0) {
      throw new LoadError('incomplete-files', `${names(configs)} was given without weights`, 'Add the model\'s .safetensors file(s).');
    }
    if (configs.length === 0) {
      throw new LoadError(
        'incomplete-files',
        `safetensors weights (${names(shards)}) need the model's config.json, which was not given`,
        'Add config.json from the same model folder (and tokenizer.json).',
      );
    }
    const index = of('safetensors-index')[0];
    if (index) {
      const wm = index.json!.weight_map;
      if (typeof wm === 'object' && wm !== null) {
        const want = [...new Set(Object.values(wm as Record<string, unknown>).filter((v): v is string => typeof v === 'string'))];
        const have = new Set(shards.map((s) => lower(s.file.name)));
        const missing = want.filter((w) => !have.has(baseName(w).toLowerCase()));
        if (missing.length > 0) {
          throw new LoadError('incomplete-files', `missing safetensors shard(s): ${missing.join(', ')} (listed in ${baseName(index.file.name)})`, 'Add every shard listed in the index.');
        }
      }
    }
    const ordered = [...shards].sort((a, b) => lower(a.file.name).localeCompare(lower(b.file.name)));
    const tokJson = of('tokenizer-json')[0]?.json;
    const tokCfg = of('tokenizer-config')[0]?.json;
    if (!tokJson && !opts.tokenizer) {
      throw new LoadError(
        'incomplete-files',
        'safetensors model without tokenizer.json',
        'Add tokenizer.json (and tokenizer_config.json) from the same model folder.',
      );
    }
    return loadSafetensors(
      {
        config: configs[0].json!,
        weights: ordered.map((s) => s.file.bytes),
        weightNames: ordered.map((s) => baseName(s.file.name)),
        ...(parentDir(configs[0].file.name) ? { folderName: parentDir(configs[0].file.name)! } : {}),
        ...(tokJson ? { tokenizerJson: tokJson } : {}),
        ...(tokCfg ? { tokenizerConfig: tokCfg } : {}),
      },
      opts,
    );
  }

  const ckpts = of('llama2c-checkpoint');
  const toks = of('llama2c-tokenizer');
  if (ckpts.length > 1) {
    throw new LoadError('incomplete-files', `several llama2.c checkpoints were given (${names(ckpts)})`, 'Choose one checkpoint and its tokenizer.');
  }
  if (ckpts.length === 1) {
    const c = ckpts[0];
    if (toks.length > 1) throw new LoadError('incomplete-files', `several llama2.c tokenizer files were given (${names(toks)})`, 'Choose the tokenizer that belongs to the checkpoint.');
    if (toks.length === 0 && !opts.tokenizer) {
      const unk = of('unknown');
      throw new LoadError(
        'incomplete-files',
        `llama2.c checkpoint ${baseName(c.file.name)} needs its tokenizer file (tokenizer.bin; tok512.bin for stories260K)` +
          (unk.length ? `; ${names(unk)} is not a llama2.c tokenizer` : ''),
        'Add the tokenizer .bin that came with the checkpoint.',
      );
    }
    return loadLlama2c({ checkpoint: c.file.bytes, tokenizer: toks[0]?.file.bytes ?? null }, { ...opts, name: opts.name ?? stem(c.file.name) });
  }
  if (toks.length > 0) {
    throw new LoadError('incomplete-files', `${names(toks)} is a llama2.c tokenizer; the checkpoint .bin is missing`, 'Add the llama2.c model checkpoint (e.g. stories260K.bin).');
  }
  if (of('tokenizer-json').length > 0 || of('tokenizer-config').length > 0) {
    throw new LoadError('incomplete-files', 'only tokenizer files were given; the weights are missing', 'Add the model weights (.safetensors with config.json, or a .gguf).');
  }
  const desc = cls.map((c) => {
    const looks = describeBytes(c.file.bytes);
    return `${baseName(c.file.name)}${looks ? ` (looks like ${looks})` : ''}`;
  });
  throw new LoadError(
    'unknown-format',
    `no model format recognised in: ${desc.join(', ')}`,
    'Supported: GGUF (.gguf), Hugging Face safetensors with config.json and tokenizer.json, llama2.c checkpoint .bin with its tokenizer .bin.',
  );
}
