// LayerLab's WebGPU engine vs onnxruntime-web (WebGPU EP and wasm EP) side by side in headless
// Chromium: one page, one adapter (each engine on its own GPUDevice, see bench/onnx-bench-page.ts), the
// same model (LayerLab's own ONNX export of it, float32), the same prompt. Prints prefill tok/s, decode
// tok/s and a 4-bit matmul (LayerLab's matmul-q Q4_0 kernel vs com.microsoft MatMulNBits in a one-node
// graph, same codes) at a few shapes, with the ratios LayerLab / onnxruntime (> 1: LayerLab faster).
// onnxruntime runs the KV-cache form of the export (export.ts kvCache; ort-run.ts openOrtDecoder keeps
// the cache on the GPU with the WebGPU EP). On a software adapter (SwiftShader) the absolute figures say nothing about a real GPU.
//   npx tsx bench/onnx.bench.ts [--model stories260K/stories260K.bin] [--tokens 64] [--decode 8] [--reps 3]
//                               [--shapes 1x1024x1024,1x4096x4096,32x1024x1024]
import { startBrowser } from '../tests/helpers/browser.ts';
import { parseArgs } from '../src/cli/main.ts';
import type { OnnxBenchPage } from './onnx-bench-page.ts';

const args = parseArgs(process.argv.slice(2));
const modelRel = String(args.model ?? 'stories260K/stories260K.bin');
const urls = modelRel.endsWith('.bin') ? [`/models/${modelRel}`, `/models/${modelRel.replace(/[^/]+$/, 'tok512.bin')}`] : [`/models/${modelRel}`];
const promptTokens = Number(args.tokens ?? 64);
const decodeTokens = Number(args.decode ?? 8);
const reps = Number(args.reps ?? 3);
const shapes = String(args.shapes ?? '1x1024x1024,1x4096x4096,32x1024x1024')
  .split(',')
  .map((s) => s.split('x').map(Number) as [number, number, number]);

const TEXT = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends.';

function printTable(t: string[][]): void {
  const widths = t[0].map((_, i) => Math.max(...t.map((r) => r[i].length)));
  for (const r of t) console.log(r.map((c, i) => c.padEnd(widths[i])).join('  '));
}

const env = await startBrowser();
try {
  const page = await env.browser.newPage();
  await page.routeWebSocket(/.*/, () => {});
  page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
  await page.goto(`${env.baseUrl}/bench/onnx-bench.html`);
  await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
  type W = { bench: OnnxBenchPage };
  const info = await page.evaluate((urls) => (window as unknown as W).bench.setup(urls, 512), urls);
  console.log(`adapter: ${info.adapter}${info.software ? ' (software adapter: absolute figures are not representative of a GPU)' : ''}`);
  console.log(`model: ${info.model}; LayerLab kernels: ${info.layerlabKernels} (its default on this adapter; 'layerlab-alt' = ${info.layerlabAltKernels}); onnxruntime's WebGPU adapter: ${info.ortAdapter} (its own GPUDevice on the same adapter)`);
  console.log(`onnxruntime-web wasm: 1 thread (crossOriginIsolated ${info.crossOriginIsolated}); prompt ${promptTokens} tokens, decode ${decodeTokens} tokens greedy, median of ${reps} runs`);
  console.log('onnxruntime runs LayerLab\'s KV-cache export (present_key/value fed back; on the GPU with the WebGPU EP)\n');

  const ids = await page.evaluate(({ t, n }) => (window as unknown as W).bench.promptIds(t, n), { t: TEXT, n: promptTokens });
  const engines = ['layerlab', 'layerlab-alt', 'ort-webgpu', 'ort-wasm'] as const;
  const res: Record<string, { prefill: number; decode: number; ids: number[] }> = {};
  for (const e of engines) {
    console.error(`[bench] ${e}`);
    const pre = await page.evaluate(({ e, ids, reps }) => (window as unknown as W).bench.prefill(e, ids, reps), { e, ids, reps });
    const dec = await page.evaluate(({ e, ids, n }) => (window as unknown as W).bench.decode(e, ids, n), { e, ids, n: decodeTokens });
    res[e] = { prefill: (ids.length / pre) * 1000, decode: 1000 / dec.msPerToken, ids: dec.ids };
  }
  const ll = res.layerlab;
  const rows = [['engine', 'prefill tok/s', 'decode tok/s', 'LayerLab / this (prefill)', 'LayerLab / this (decode)', 'greedy ids = LayerLab']];
  for (const e of engines) {
    const r = res[e];
    const same = r.ids.slice(0, decodeTokens).join(',') === ll.ids.slice(0, decodeTokens).join(',');
    rows.push([e === 'layerlab-alt' ? `layerlab (${info.layerlabAltKernels})` : e, r.prefill.toFixed(1), r.decode.toFixed(1), (ll.prefill / r.prefill).toFixed(2), (ll.decode / r.decode).toFixed(2), e === 'layerlab' ? '-' : String(same)]);
  }
  printTable(rows);
  const prof = await page.evaluate((ids) => (window as unknown as W).bench.profileOrtWebgpu(ids), ids);
  console.log(`onnxruntime WebGPU prefill, profiled: ${prof.kernels} kernels, ${prof.gpuMs.toFixed(1)} ms GPU time in ${prof.wallMs.toFixed(1)} ms wall; most GPU time (ms): ${prof.top.join(', ')}`);

  console.log(`\n4-bit matmul y[M,N] = x[M,K] W^T (block 32; LayerLab matmul-q Q4_0 vs MatMulNBits on the WebGPU EP; upload x + read y included), median of ${reps}:`);
  const mrows = [['M x N x K', `LayerLab ${info.layerlabKernels} ms`, `LayerLab ${info.layerlabAltKernels} ms`, 'ORT WebGPU ms', 'LayerLab / ORT speed', `(${info.layerlabAltKernels})`, 'max |dy| / max |y|']];
  for (const [M, N, K] of shapes) {
    console.error(`[bench] matmul ${M}x${N}x${K}`);
    const r = await page.evaluate(({ M, N, K, reps }) => (window as unknown as W).bench.matmulQ4(M, N, K, reps), { M, N, K, reps });
    mrows.push([`${M} x ${N} x ${K}`, r.layerlabMs.toFixed(2), r.layerlabAltMs.toFixed(2), r.ortMs.toFixed(2), (r.ortMs / r.layerlabMs).toFixed(2), (r.ortMs / r.layerlabAltMs).toFixed(2), r.relDiff.toExponential(1)]);
  }
  printTable(mrows);
} finally {
  await env.close();
}
process.exit(0);
