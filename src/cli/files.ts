// Gather the files that make up a model from a path on disk: a GGUF file; a llama.c checkpoint (.bin)
// with its tokenizer beside it; a safetensors file or a Hugging Face folder (config.json,
// model*.safetensors, tokenizer.json, tokenizer_config.json). --tokenizer overrides the tokenizer.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface NamedBytes {
  name: string;
  bytes: Uint8Array;
}

function read(path: string): NamedBytes {
  const b = readFileSync(path);
  return { name: basename(path), bytes: new Uint8Array(b.buffer, b.byteOffset, b.byteLength) };
}

const HF_SIDE_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json'];

export function readModelFiles(path: string, tokenizerPath?: string): NamedBytes[] {
  if (!existsSync(path)) throw new Error(`no such file or folder: ${path}`);
  const out: NamedBytes[] = [];
  const st = statSync(path);
  const dir = st.isDirectory() ? path : dirname(path);
  const entries = readdirSync(dir);
  if (st.isDirectory()) {
    const weights = entries.filter((f) => /\.(gguf|safetensors|onnx)$/.test(f));
    const bins = entries.filter((f) => /\.bin$/.test(f) && !/^tok/.test(f) && f !== 'tokenizer.bin');
    if (weights.length === 0 && bins.length === 0) throw new Error(`${path} holds no model file (.gguf, .safetensors, .bin, .onnx)`);
    const ggufs = weights.filter((f) => f.endsWith('.gguf'));
    if (ggufs.length > 1) throw new Error(`${path} holds several GGUF files (${ggufs.join(', ')}): name one with --model`);
    for (const f of weights.length ? weights : bins) out.push(read(join(dir, f)));
  } else {
    out.push(read(path));
  }
  const main = out[0].name;
  if (/\.bin$/.test(main) && !tokenizerPath) {
    const tok = ['tokenizer.bin', ...entries.filter((f) => /^tok.*\.bin$/.test(f))].find((f) => existsSync(join(dir, f)));
    if (tok) out.push(read(join(dir, tok)));
  }
  if (/\.(safetensors|onnx)$/.test(main)) {
    for (const f of HF_SIDE_FILES) if (existsSync(join(dir, f)) && !(tokenizerPath && f === 'tokenizer.json')) out.push(read(join(dir, f)));
  }
  if (tokenizerPath) {
    if (!existsSync(tokenizerPath)) throw new Error(`--tokenizer: no such file: ${tokenizerPath}`);
    const t = read(tokenizerPath);
    // Keep the name the loaders recognise: tokenizer.json, or a llama2.c tokenizer .bin.
    out.push({ name: t.name.endsWith('.json') ? 'tokenizer.json' : t.name, bytes: t.bytes });
  }
  return out;
}
