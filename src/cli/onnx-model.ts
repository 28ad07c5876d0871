// --model FILE.onnx in the CLI: gather the ONNX graph, the external data files it names (read from the
// folder of the .onnx file) and its tokenizer (tokenizer.json + tokenizer_config.json beside the file,
// or --tokenizer PATH). The engine then opens it through src/onnx (graph analysis + onnxruntime-web's
// wasm backend). A missing tokenizer is a usage error; a missing external data file is named by the
// loader (src/onnx/import.ts).
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { decodeOnnxModel } from '../onnx/proto.ts';
import type { NamedBytes } from './files.ts';

function read(path: string, name = basename(path)): NamedBytes {
  const b = readFileSync(path);
  return { name, bytes: new Uint8Array(b.buffer, b.byteOffset, b.byteLength) };
}

export function isOnnxPath(path: string): boolean {
  return /\.onnx$/i.test(path);
}

/** Files for an ONNX model at `path`; `usage(msg)` builds the CLI's usage error. */
export function onnxModelFiles(path: string, tokenizerPath: string | undefined, usage: (msg: string) => Error): NamedBytes[] {
  const dir = dirname(path);
  const main = read(path);
  const out: NamedBytes[] = [main];
  // External data: every file the initializers name that exists beside the model (a missing one is
  // reported by the loader with its name).
  const locations = new Set<string>();
  for (const t of decodeOnnxModel(main.bytes).graph?.initializer ?? []) {
    const loc = t.externalData?.find((e) => e.key === 'location')?.value;
    if (t.dataLocation === 1 && loc) locations.add(loc);
  }
  for (const loc of locations) {
    const p = join(dir, loc);
    if (existsSync(p)) out.push(read(p, basename(loc)));
  }
  if (tokenizerPath) {
    if (!existsSync(tokenizerPath)) throw usage(`--tokenizer: no such file: ${tokenizerPath}`);
    const t = read(tokenizerPath);
    out.push({ name: t.name.endsWith('.json') ? 'tokenizer.json' : t.name, bytes: t.bytes });
  } else if (existsSync(join(dir, 'tokenizer.json'))) {
    out.push(read(join(dir, 'tokenizer.json')));
  } else {
    throw usage(`an ONNX model needs a tokenizer: put tokenizer.json beside ${basename(path)} or pass --tokenizer PATH`);
  }
  if (existsSync(join(dir, 'tokenizer_config.json'))) out.push(read(join(dir, 'tokenizer_config.json')));
  return out;
}
