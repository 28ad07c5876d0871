// The ONNX export run by onnxruntime-web in headless Chromium, on the WebGPU execution provider (the
// page's adapter: SwiftShader here) and on wasm. The page fetches the model from /models/, exports it
// with src/onnx/export.ts and runs it (tests/e2e/onnx-harness.ts); comparisons happen here in Node:
// - stories260K float32 export: prompt logits within 1e-4 of refs/stories260K/logits_prompt.json on both
//   EPs; the residual outputs within 1e-4 of LayerLab's CPU engine taps, same cosine metric (1e-6);
// - the stories260K Q4_0 GGUF exported with 4-bit MatMulNBits: logits within 1e-4 of LayerLab's CPU
//   engine on the same file (bit-identical weights, float32 activations; see tests/unit/onnx-export);
// - the KV-cache export on WebGPU (present_key/value kept as GPU buffers and fed back): 12 greedy ids
//   equal refs/stories260K/greedy.json;
// - onnxruntime's WebGPU profiler shows the graph's kernels (MatMulNBits, MatMul, Softmax) ran on the GPU.
// WebGPU EP on SwiftShader: it runs (verified here). If it fails, the test fails with onnxruntime's error
// and the adapter; LAYERLAB_SKIP_ORT_WEBGPU=1 skips the WebGPU cases explicitly, with a printed line.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { startBrowser, type BrowserEnv } from '../helpers/browser.ts';
import { expectAllClose } from '../helpers/close.ts';
import { storiesGreedy, storiesLogits } from '../helpers/parity.ts';
import { readModelBytes } from '../helpers/models.ts';
import type { HarnessRun, OnnxHarness } from './onnx-harness.ts';
import { CpuBackend } from '../../src/core/model/cpu-backend.ts';
import { allBlockTaps } from '../../src/core/model/taps.ts';
import { compute as cosMetric } from '../../src/core/metrics/cos.ts';
import { loadModelFromFiles } from '../../src/core/formats/load.ts';
import { tapsFromResidualOutputs } from '../../src/onnx/export.ts';

const SKIP_WEBGPU = process.env.LAYERLAB_SKIP_ORT_WEBGPU === '1';
if (SKIP_WEBGPU) console.log('[onnx-chromium] LAYERLAB_SKIP_ORT_WEBGPU=1: the onnxruntime WebGPU EP cases are SKIPPED (wasm cases still run)');

const STORIES = ['/models/stories260K/stories260K.bin', '/models/stories260K/tok512.bin'];
const STORIES_Q4 = ['/models/stories260K-gguf/quantized/stories260K-Q4_0.gguf'];
const TOL = { atol: 1e-4, rtol: 0 };

type W = { onnx: OnnxHarness };

function ok(r: HarnessRun, what: string, adapter: string): HarnessRun {
  if (!r.ok) throw new Error(`${what} failed in Chromium: ${r.error}\n  adapter: ${adapter}`);
  return r;
}

describe('ONNX export in Chromium (onnxruntime-web)', () => {
  let env: BrowserEnv;
  let page: Page;
  let adapter = '';
  const ref = storiesLogits();
  beforeAll(async () => {
    env = await startBrowser();
    page = await env.browser.newPage();
    await page.routeWebSocket(/.*/, () => {}); // no HMR reloads mid-test
    page.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
    await page.goto(`${env.baseUrl}/tests/e2e/onnx-harness.html`);
    await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
    adapter = await page.evaluate(() => (window as unknown as W).onnx.adapterInfo());
    console.log(`[onnx-chromium] adapter: ${adapter}`);
  }, 120_000);
  afterAll(async () => {
    await env?.close();
  });

  const open = (key: string, ep: 'wasm' | 'webgpu', urls: string[], opts: Record<string, unknown>) =>
    page.evaluate(({ key, ep, urls, opts }) => (window as unknown as W).onnx.open(key, ep, urls, opts), { key, ep, urls, opts });
  const run = (key: string, ids: number[], outputs?: string[]) =>
    page.evaluate(({ key, ids, outputs }) => (window as unknown as W).onnx.run(key, ids, outputs), { key, ids, outputs });

  it('wasm EP: stories260K logits within 1e-4 of the reference', async () => {
    ok(await open('wasm', 'wasm', STORIES, {}), 'open (wasm)', adapter);
    const r = ok(await run('wasm', ref.ids), 'run (wasm)', adapter);
    expectAllClose(r.logits!, ref.logits.flat(), TOL, 'ORT wasm in Chromium');
  }, 120_000);

  it.skipIf(SKIP_WEBGPU)('WebGPU EP: stories260K logits within 1e-4 of the reference; residual outputs match the engine', async () => {
    ok(await open('gpu', 'webgpu', STORIES, { residualOutputs: true }), 'open (webgpu)', adapter);
    const r = ok(await run('gpu', ref.ids), 'run (webgpu)', adapter);
    expectAllClose(r.logits!, ref.logits.flat(), TOL, 'ORT WebGPU in Chromium');

    const model = loadModelFromFiles([
      { name: 'stories260K.bin', bytes: readModelBytes('stories260K/stories260K.bin') },
      { name: 'tok512.bin', bytes: readModelBytes('stories260K/tok512.bin') },
    ]);
    const cpu = await new CpuBackend(model).forward(ref.ids, { taps: allBlockTaps(5) });
    const hidden: Record<string, Float32Array> = {};
    for (const [k, v] of Object.entries(r.outputs!)) if (k !== 'logits') hidden[k] = Float32Array.from(v);
    const taps = tapsFromResidualOutputs(hidden, 5);
    for (let l = 0; l < 5; l++) expectAllClose(taps[`blk.${l}.out`], cpu.taps[`blk.${l}.out`], { atol: 1e-4, rtol: 1e-4 }, `WebGPU blk.${l}.out`);
    const T = ref.ids.length;
    const a = cosMetric({ taps, T, C: 64, nLayers: 5 });
    const b = cosMetric({ taps: cpu.taps, T, C: 64, nLayers: 5 });
    expectAllClose(a.perBlock, b.perBlock, { atol: 1e-6, rtol: 0 }, 'WebGPU block influence');
    expectAllClose(a.perSublayer!.attn, b.perSublayer!.attn, { atol: 1e-6, rtol: 0 }, 'WebGPU attention 1-cos');
  }, 180_000);

  it.skipIf(SKIP_WEBGPU)('WebGPU EP with the KV-cache export (cache on the GPU): prompt logits within 1e-4, 12 greedy ids = the reference', async () => {
    const g = storiesGreedy();
    const r = await page.evaluate(({ urls, p }) => (window as unknown as W).onnx.greedyKv('webgpu', urls, p, 12), { urls: STORIES, p: g.prompt_ids });
    if (!r.ok) throw new Error(`KV decode on WebGPU failed: ${r.error}\n  adapter: ${adapter}`);
    expectAllClose(r.lastLogits!, ref.logits[ref.logits.length - 1], TOL, 'KV prefill on WebGPU');
    expect(r.ids).toEqual(g.generated_ids.slice(0, 12));
    expect(new Set(r.locations)).toEqual(new Set(['gpu-buffer']));
  }, 180_000);

  describe('4-bit (MatMulNBits) export of the stories260K Q4_0 GGUF', () => {
    let engine: Float32Array;
    beforeAll(async () => {
      const m = loadModelFromFiles([{ name: 'q4.gguf', bytes: readModelBytes('stories260K-gguf/quantized/stories260K-Q4_0.gguf') }], { contextLength: 512 });
      engine = (await new CpuBackend(m).forward(ref.ids)).logits;
    });

    it('wasm EP: logits within 1e-4 of LayerLab on the same Q4_0 weights', async () => {
      ok(await open('q4wasm', 'wasm', STORIES_Q4, { weights4bit: true, contextLength: 512 }), 'open (wasm, 4-bit)', adapter);
      const r = ok(await run('q4wasm', ref.ids), 'run (wasm, 4-bit)', adapter);
      expectAllClose(r.logits!, engine, TOL, 'ORT wasm MatMulNBits vs engine');
    }, 120_000);

    it.skipIf(SKIP_WEBGPU)('WebGPU EP: logits within 1e-4 of LayerLab; MatMulNBits, MatMul and Softmax ran as WebGPU kernels', async () => {
      ok(await open('q4gpu', 'webgpu', STORIES_Q4, { weights4bit: true, contextLength: 512 }), 'open (webgpu, 4-bit)', adapter);
      const r = ok(await run('q4gpu', ref.ids), 'run (webgpu, 4-bit)', adapter);
      expectAllClose(r.logits!, engine, TOL, 'ORT WebGPU MatMulNBits vs engine');
      const k = await page.evaluate((ids) => (window as unknown as W).onnx.gpuKernels('q4gpu', ids), ref.ids);
      expect(k.ok, k.error).toBe(true);
      console.log(`[onnx-chromium] WebGPU kernels in one 4-bit run: ${JSON.stringify(k.kernels)}`);
      expect(k.kernels.MatMulNBits).toBe(30);
      expect(k.kernels.MatMul).toBe(10);
      expect(k.kernels.Softmax).toBe(5);
    }, 180_000);
  });
});
