// npm run bench (second part): the cost of a full layer-importance analysis (every metric of
// `layerlab analyze --metrics all`) on the GPU and CPU backends in one run, for stories260K with a
// 512-token calibration text, and how it grows with tokens (128, 256, 512) and layers (stories260K's 5
// blocks vs kjv-gpt2-8L's 8). Prints seconds per backend, the GPU/CPU ratio and the slowest metric group.
//   tsx bench/analysis.bench.ts [--tokens 128,256,512] [--metrics all] [--gpu-only|--cpu-only]
import '../src/gpu/shaders-node.ts';
import { resolve } from 'node:path';
import { readModelFiles } from '../src/cli/files.ts';
import { nodeGpu } from '../src/cli/node-gpu.ts';
import { parseArgs } from '../src/cli/main.ts';
import { loadModelFromFiles } from '../src/core/formats/load.ts';
import type { LoadedModel } from '../src/core/formats/types.ts';
import type { Backend } from '../src/core/model/backend.ts';
import { CpuBackend } from '../src/core/model/cpu-backend.ts';
import { analyze } from '../src/core/analysis/index.ts';
import { acquireDevice } from '../src/gpu/device.ts';
import { GpuBackend } from '../src/gpu/gpu-backend.ts';
import { GpuGrad, gpuGradSupported } from '../src/gpu/grad-backend.ts';

const args = parseArgs(process.argv.slice(2));
const modelsDir = process.env.LAYERLAB_MODELS ?? resolve(import.meta.dirname, '../../shared/models');
const tokenCounts = String(args.tokens ?? '128,256,512').split(',').map(Number);
const metrics = String(args.metrics ?? 'all').split(',');

const STORY =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. ' +
  'One day, she saw a big red ball under a tree. She ran to get it, but a small dog took the ball first. ' +
  'Lily was sad, but then the dog came back and dropped the ball at her feet. They played together all day long. ';
const BIBLE =
  'In the beginning God created the heaven and the earth. And the earth was without form, and void; and darkness ' +
  'was upon the face of the deep. And the Spirit of God moved upon the face of the waters. And God said, Let there be light: and there was light.\n';

const acquired = await acquireDevice(await nodeGpu());
console.log(`adapter: ${acquired.adapter}${acquired.software ? ' (software adapter)' : ''}; metrics: ${metrics.join(',')}\n`);

async function timeAnalysis(model: LoadedModel, ids: number[], kind: 'cpu' | 'gpu') {
  const make = async (m: LoadedModel): Promise<Backend> => (kind === 'cpu' ? new CpuBackend(m) : GpuBackend.create(acquired, m));
  const backend = await make(model);
  // As the engine does: gradients (taylor, zo's exact terms, fisher) from the WGSL backward on the GPU.
  const grad = backend instanceof GpuBackend && gpuGradSupported(model.spec) ? new GpuGrad(backend.ctx, model) : null;
  const t0 = performance.now();
  let last = '';
  const r = await analyze(backend, model, {
    ids: [ids], metrics, makeBackend: make,
    residGrad: grad ? (_m, x) => grad.residGrad(x) : undefined,
    weightGradSq: grad ? async (_m, x) => (await grad.weightGradSq(x)).sumSq : undefined,
    progress: (done, total, what) => {
      if (what !== last) console.error(`[bench]   ${kind}: ${what} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
      last = what;
    },
  });
  const seconds = (performance.now() - t0) / 1000;
  grad?.dispose();
  backend.dispose();
  const groups = Object.entries(r.timings).filter(([k]) => k !== 'total');
  const slowest = groups.sort((a, b) => b[1] - a[1])[0];
  return { seconds, slowest: slowest ? `${slowest[0]} ${(slowest[1] / 1000).toFixed(1)} s` : '-' };
}

const rows: string[][] = [['model', 'layers', 'tokens', 'cpu s', 'gpu s', 'gpu/cpu', 'slowest (cpu)', 'slowest (gpu)']];
const cases: { path: string; text: string; tokens: number[] }[] = [
  { path: `${modelsDir}/stories260K/stories260K.bin`, text: STORY, tokens: tokenCounts },
  { path: `${modelsDir}/kjv-gpt2-8L/kjv-gpt2-8L.gguf`, text: BIBLE, tokens: [Math.min(256, Math.max(...tokenCounts))] },
];
for (const c of cases) {
  const model = loadModelFromFiles(readModelFiles(c.path));
  let text = c.text;
  while (model.tokenizer.encode(text).length < Math.max(...c.tokens)) text += c.text;
  const all = model.tokenizer.encode(text);
  for (const n of c.tokens) {
    const ids = all.slice(0, Math.min(n, model.spec.contextLength));
    console.error(`[bench] ${model.spec.name} ${ids.length} tokens`);
    const cpu = args['gpu-only'] ? null : await timeAnalysis(model, ids, 'cpu');
    const gpu = args['cpu-only'] ? null : await timeAnalysis(model, ids, 'gpu');
    rows.push([
      model.spec.name, String(model.spec.nLayers), String(ids.length),
      cpu ? cpu.seconds.toFixed(1) : '-', gpu ? gpu.seconds.toFixed(1) : '-',
      cpu && gpu ? (gpu.seconds / cpu.seconds).toFixed(2) : '-', cpu?.slowest ?? '-', gpu?.slowest ?? '-',
    ]);
  }
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i])).join('  '));
process.exit(0);
