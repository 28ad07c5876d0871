// npm run bench: prefill and decode tokens/s of the WebGPU backend (Dawn in Node) and the CPU reference
// backend on the same model and prompt in one run, with the peak GPU buffer bytes and the adapter.
// Figures are ratios against the CPU backend measured in the same process, not absolute claims.
//   npm run bench [-- --model PATH] [--tokens N] [--decode N] [--reps N] [--tiled] [--legacy-host 1]
//                 [--synthetic small|1b --type F32|Q8_0|Q4_0|Q4_K|... [--cpu]] [--format-rows 0]
// Then, unless --synthetic or --format-rows 0: the stories260K GGUF with its blocks' linear weights at F32,
// Q8_0, Q4_0 and Q4_K (applyAllocation of a uniform allocation: packed blocks on the quantized-matmul
// kernels; rows a format's block does not fit fall back as llama-quantize does, counted per tensor), GPU
// prefill / decode tok/s and the resident bytes of each.
// --synthetic builds a Llama-shaped model with seeded random weights in memory (bench/synthetic.ts), for
// sizes the bundled models do not reach; its CPU run is opt-in (--cpu) because the reference is slow.
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
import { SYNTHETIC_SIZES, syntheticModel } from './synthetic.ts';
import { GGMLType } from '../src/core/quant/types.ts';
import type { LoadedModel } from '../src/core/formats/types.ts';
import { mulberry32 } from '../src/core/tensor.ts';
import { applyAllocation } from '../src/core/allocation/apply-weights.ts';
import { uniform } from '../src/core/allocation/strategies.ts';

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

function promptIds(model: LoadedModel, n: number): number[] {
  let text = TEXT;
  while (model.tokenizer.encode(text).length < promptTokens) text += TEXT;
  return model.tokenizer.encode(text).slice(0, n);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function measure(backend: Backend, ids: number[]): Promise<{ prefill: number; decode: number; hostMs?: number }> {
  await backend.forward(ids.slice(0, 8)); // warm-up: pipelines compiled, buffers allocated
  const pre: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await backend.forward(ids);
    pre.push(performance.now() - t0);
  }
  const dec: number[] = [];
  // GPU: host milliseconds per decode step spent recording it (dispatches, uniforms, bind groups; the submit
  // excluded, since a software adapter runs part of the work inside it): the host overhead proper.
  const ht = backend instanceof GpuBackend ? backend.hostTime : null;
  const h0 = ht ? { ...ht } : null;
  for (let r = 0; r < Math.max(1, Math.floor(reps / 2)); r++) {
    const g = await generate(backend, ids.slice(0, 16), { maxTokens: decodeTokens + 1 });
    dec.push(g.decodeMs / decodeTokens);
  }
  const hostMs = ht && h0 ? (ht.encodeMs - h0.encodeMs) / (ht.records - h0.records) : undefined;
  return { prefill: (ids.length / median(pre)) * 1000, decode: 1000 / median(dec), hostMs };
}

const gpu = await nodeGpu();
const acquired = await acquireDevice(gpu);
console.log(`adapter: ${acquired.adapter}${acquired.software ? ' (software adapter: absolute figures are not representative of a GPU)' : ''}`);
console.log(`prompt ${promptTokens} tokens, decode ${decodeTokens} tokens, median of ${reps} runs\n`);
const rows: string[][] = [['model', 'backend', 'prefill tok/s', 'decode tok/s', 'prefill vs CPU', 'decode vs CPU', 'peak GPU bytes', 'host encode ms/decode step']];
const models: { model: LoadedModel; cpu: boolean }[] = [];
if (args.synthetic) {
  const shape = SYNTHETIC_SIZES[String(args.synthetic)];
  if (!shape) throw new Error(`--synthetic must be one of ${Object.keys(SYNTHETIC_SIZES).join(', ')}`);
  const type = GGMLType[String(args.type ?? 'F32') as keyof typeof GGMLType];
  if (type === undefined) throw new Error(`unknown --type ${args.type}`);
  models.push({ model: syntheticModel(shape, type), cpu: args.cpu === true });
} else {
  for (const path of modelPaths) models.push({ model: loadModelFromFiles(readModelFiles(path)), cpu: true });
}
let hostPaths: boolean[] = [true];
for (const { model, cpu: withCpu } of models) {
  let ids: number[];
  const n = Math.min(promptTokens, model.spec.contextLength - decodeTokens - 1);
  if (model.format === 'synthetic') {
    const rnd = mulberry32(7);
    ids = Array.from({ length: n }, () => 3 + Math.floor(rnd() * (model.spec.vocabSize - 3)));
  } else {
    ids = promptIds(model, n);
  }
  let cpu: { prefill: number; decode: number } | null = null;
  if (withCpu) {
    console.error(`[bench] ${model.spec.name}: cpu`);
    cpu = await measure(new CpuBackend(model), ids);
    rows.push([model.spec.name, 'cpu (reference)', cpu.prefill.toFixed(1), cpu.decode.toFixed(1), '1.00', '1.00', '-', '-']);
  }
  const variants: [string, 'simple' | 'tiled'][] = [[`gpu (${acquired.software ? 'simple' : 'tiled'} kernels)`, acquired.software ? 'simple' : 'tiled']];
  // The tiled kernels rely on workgroup barriers, which a software adapter runs very slowly: opt in.
  if (acquired.software && args.tiled) variants.push(['gpu (tiled kernels)', 'tiled']);
  if (!acquired.software && args.simple) variants.push(['gpu (simple kernels)', 'simple']);
  // --legacy-host 1: also run the previous host path (a uniform write and a bind group per dispatch, full
  // logits readback per token; GpuBackend hostCache: false) in the same process, for a before/after ratio.
  hostPaths = args['legacy-host'] !== undefined && String(args['legacy-host']) !== '0' ? [false, true] : [true];
  for (const [label, kernels] of variants) {
    let legacy: { prefill: number; decode: number; hostMs?: number } | null = null;
    for (const hostCache of hostPaths) {
      const l = hostCache ? label : `${label}, legacy host path`;
      console.error(`[bench] ${model.spec.name}: ${l}`);
      const b = await GpuBackend.create(acquired, model, undefined, { kernels, hostCache });
      const g = await measure(b, ids);
      const ratio = (x: number, y: number | undefined) => (y ? (x / y).toFixed(2) : '-');
      const vsLegacy = legacy ? ` (vs legacy: prefill ${ratio(g.prefill, legacy.prefill)}x, decode ${ratio(g.decode, legacy.decode)}x, host encode ms/step ${ratio(g.hostMs ?? 0, legacy.hostMs)}x)` : '';
      rows.push([model.spec.name, l + vsLegacy, g.prefill.toFixed(1), g.decode.toFixed(1), ratio(g.prefill, cpu?.prefill), ratio(g.decode, cpu?.decode), String(b.peakBytes()), g.hostMs?.toFixed(3) ?? '-']);
      if (!hostCache) legacy = g;
      b.dispose();
    }
  }
}
function printTable(t: string[][]): void {
  const widths = t[0].map((_, i) => Math.max(...t.map((r) => r[i].length)));
  for (const r of t) console.log(r.map((c, i) => c.padEnd(widths[i])).join('  '));
}
printTable(rows);

// --legacy-host 1: an interleaved A/B of the decode host path on each model: rounds of 16 greedy decode
// steps alternate between the legacy and the current path, and the best round of each is kept (the
// minimum is robust to other load on a shared machine). Prints ms per step and host encode ms per step.
if (hostPaths.length > 1) {
  const ab: string[][] = [['model', 'host path', 'best ms/decode step', 'best host encode ms/step', 'bind groups created/step', 'uniform writes/step']];
  for (const { model } of models) {
    const kernels = acquired.software ? 'simple' : 'tiled';
    const bs = { legacy: await GpuBackend.create(acquired, model, undefined, { kernels, hostCache: false }), current: await GpuBackend.create(acquired, model, undefined, { kernels, hostCache: true }) };
    const best: Record<string, { ms: number; enc: number; groups: number; writes: number }> = {};
    const prompt = model.format === 'synthetic' ? [1, 2, 3, 4] : promptIds(model, 8);
    for (let round = 0; round < 2 * reps + 2; round++) {
      for (const [name, b] of Object.entries(bs)) {
        const s = b.session(prompt.length + 17);
        let id = (await s.step!(prompt, { wantLogits: false })).id;
        const h0 = { ...b.hostTime };
        const st0 = { ...b.ctx.stats };
        const t0 = performance.now();
        for (let i = 0; i < 16; i++) id = (await s.step!([id], { wantLogits: false })).id;
        const ms = (performance.now() - t0) / 16;
        const enc = (b.hostTime.encodeMs - h0.encodeMs) / 16;
        s.dispose();
        if (round < 2) continue; // warm-up rounds (pipelines, caches)
        const cur = best[name];
        const groups = (b.ctx.stats.bindGroupsCreated - st0.bindGroupsCreated) / 16;
        const writes = (b.ctx.stats.uniformWrites - st0.uniformWrites) / 16;
        best[name] = { ms: Math.min(cur?.ms ?? Infinity, ms), enc: Math.min(cur?.enc ?? Infinity, enc), groups, writes };
      }
    }
    for (const [name, r] of Object.entries(best)) ab.push([model.spec.name, name, r.ms.toFixed(2), r.enc.toFixed(3), r.groups.toFixed(1), r.writes.toFixed(1)]);
    ab.push([model.spec.name, 'current / legacy', (best.current.ms / best.legacy.ms).toFixed(2) + 'x', (best.current.enc / best.legacy.enc).toFixed(2) + 'x', '', '']);
    bs.legacy.dispose();
    bs.current.dispose();
  }
  console.log('\ndecode host path A/B (interleaved rounds of 16 greedy steps, best round each):');
  printTable(ab);
}

// Weight formats on one model: the same GGUF at F32 / Q8_0 / Q4_0 / Q4_K linear weights, GPU backend.
if (!args.synthetic && String(args['format-rows'] ?? '1') !== '0') {
  const path = `${modelsDir}/stories260K-gguf/stories260K.gguf`;
  const base = loadModelFromFiles(readModelFiles(path), { contextLength: 512 });
  const ids = promptIds(base, Math.min(promptTokens, base.spec.contextLength - decodeTokens - 1));
  const kernels = acquired.software ? 'simple' : 'tiled';
  const fr: string[][] = [['model', 'linear weights', 'backend', 'prefill tok/s', 'decode tok/s', 'resident bytes', 'bits/weight (matrices)', 'fallbacks', 'peak GPU bytes']];
  for (const format of ['F32', 'Q8_0', 'Q4_0', 'Q4_K']) {
    console.error(`[bench] ${base.spec.name} (GGUF): ${format} linear weights`);
    const applied = applyAllocation(base, uniform(base.spec, format));
    const b = await GpuBackend.create(acquired, applied.model, undefined, { kernels });
    const g = await measure(b, ids);
    const fb = applied.plan.fallbacks;
    const to = [...new Set(fb.map((f) => f.to))].join('/');
    fr.push([`${base.spec.name} (GGUF)`, format, `gpu (${kernels})`, g.prefill.toFixed(1), g.decode.toFixed(1), String(applied.size.residentBytes),
      applied.size.matrixBitsPerWeight.toFixed(3), fb.length ? `${fb.length} (-> ${to})` : '0', String(b.peakBytes())]);
    b.dispose();
  }
  console.log(`\nweight formats (prompt ${ids.length} tokens, decode ${decodeTokens} tokens):`);
  printTable(fr);
}
process.exit(0);
