// npm run bench: prefill and decode tokens/s of the WebGPU backend (Dawn in Node) and the CPU reference
// backend on the same model and prompt in one run, with the peak GPU buffer bytes and the adapter.
// Figures are ratios against the CPU backend measured in the same process, not absolute claims.
//   npm run bench [-- --model PATH] [--tokens N] [--decode N] [--reps N] [--tiled]
import '../src/gpu/shaders-node.ts';
import { readModelFiles } from '../src/cli/files.ts';
import { nodeGpu } from '../src/cli/node-gpu.ts';
import { loadModelFromFiles } from '../src/core/formats/load.ts';
import { acquireDevice } from '../src/gpu/device.ts';
import { GpuBackend } from '../src/gpu/gpu-backend.ts';
import { CpuBackend } from '../src/core/model/cpu-backend.ts';
import type { Backend } from '../src/core/model/backend.ts';
import { generate } from '../src/core/eval/generate.ts';
import { parseArgs } from '../src/cli/main.ts';
import { resolve } from 'node:path';

const args = parseArgs(process.argv.slice(2));
const modelsDir = process.env.LAYERLAB_MODELS ?? resolve(import.meta.dirname, '../../shared/models');
const modelPaths = args.model ? [String(args.model)] : [`${modelsDir}/stories260K/stories260K.bin`, `${modelsDir}/kjv-gpt2-8L/kjv-gpt2-8L.gguf`];
const promptTokens = Number(args.tokens ?? 128);
const decodeTokens = Number(args.decode ?? 32);
const reps = Number(args.reps ?? 3);

const TEXT =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. ' +
  'One day, she saw a big red ball under a tree. She ran to get it, but a small dog took the ball first. ' +
  'Lily was sad, but then the dog came back and dropped the ball at her feet. They played together all day long. ';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function measure(backend: Backend, ids: number[]): Promise<{ prefill: number; decode: number }> {
  await backend.forward(ids.slice(0, 8)); // warm-up: pipelines compiled, buffers allocated
  const pre: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await backend.forward(ids);
    pre.push(performance.now() - t0);
  }
  const dec: number[] = [];
  for (let r = 0; r < Math.max(1, Math.floor(reps / 2)); r++) {
    const g = await generate(backend, ids.slice(0, 16), { maxTokens: decodeTokens + 1 });
    dec.push(g.decodeMs / decodeTokens);
  }
  return { prefill: (ids.length / median(pre)) * 1000, decode: 1000 / median(dec) };
}

const gpu = await nodeGpu();
const acquired = await acquireDevice(gpu);
console.log(`adapter: ${acquired.adapter}${acquired.software ? ' (software adapter: absolute figures are not representative of a GPU)' : ''}`);
console.log(`prompt ${promptTokens} tokens, decode ${decodeTokens} tokens, median of ${reps} runs\n`);
const rows: string[][] = [['model', 'backend', 'prefill tok/s', 'decode tok/s', 'prefill vs CPU', 'decode vs CPU', 'peak GPU bytes']];
for (const path of modelPaths) {
  const model = loadModelFromFiles(readModelFiles(path));
  let text = TEXT;
  while (model.tokenizer.encode(text).length < promptTokens) text += TEXT;
  const ids = model.tokenizer.encode(text).slice(0, Math.min(promptTokens, model.spec.contextLength - decodeTokens - 1));
  console.error(`[bench] ${model.spec.name}: cpu`);
  const cpu = await measure(new CpuBackend(model), ids);
  const variants: [string, 'simple' | 'tiled'][] = [[`gpu (${acquired.software ? 'simple' : 'tiled'} kernels)`, acquired.software ? 'simple' : 'tiled']];
  // The tiled kernels rely on workgroup barriers, which a software adapter runs very slowly: opt in.
  if (acquired.software && args.tiled) variants.push(['gpu (tiled kernels)', 'tiled']);
  rows.push([model.spec.name, 'cpu (reference)', cpu.prefill.toFixed(1), cpu.decode.toFixed(1), '1.00', '1.00', '-']);
  for (const [label, kernels] of variants) {
    console.error(`[bench] ${model.spec.name}: ${label}`);
    const b = await GpuBackend.create(acquired, model, undefined, { kernels });
    const g = await measure(b, ids);
    rows.push([model.spec.name, label, g.prefill.toFixed(1), g.decode.toFixed(1), (g.prefill / cpu.prefill).toFixed(2), (g.decode / cpu.decode).toFixed(2), String(b.peakBytes())]);
    b.dispose();
  }
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i])).join('  '));
process.exit(0);
