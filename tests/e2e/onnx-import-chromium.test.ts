// Opening an ONNX causal LM in the browser: the real engine worker (tests/e2e/engine-harness.html) is
// given the Optimum-style stories260K graph of tests/unit/onnx-import-fixtures.ts (past_key_values inputs,
// decomposed RMSNorm) and the llama2.c tokenizer as dropped files. On backend 'auto' it runs on
// onnxruntime-web's WebGPU execution provider (the page's adapter: SwiftShader here; wasm if WebGPU
// cannot start, which info() reports), on 'cpu' on wasm. Logits and a residual tap must equal LayerLab's
// CPU engine in Node on the checkpoint (1e-4), greedy generation (through the graph's KV cache) its ids.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { startBrowser, type BrowserEnv } from '../helpers/browser.ts';
import { readModelBytes } from '../helpers/models.ts';
import { expectAllClose } from '../helpers/close.ts';
import { loadModelFromFiles } from '../../src/core/formats/load.ts';
import { CpuBackend } from '../../src/core/model/cpu-backend.ts';
import { generate } from '../../src/core/eval/generate.ts';
import { encodeOnnxModel } from '../../src/onnx/proto.ts';
import { llamaOnnx } from '../unit/onnx-import-fixtures.ts';

const native = loadModelFromFiles([
  { name: 'stories260K.bin', bytes: readModelBytes('stories260K/stories260K.bin') },
  { name: 'tok512.bin', bytes: readModelBytes('stories260K/tok512.bin') },
]);
const ids = native.tokenizer.encode('Once upon a time, there was a little girl', { addBos: true });
const prompt = native.tokenizer.encode('Once upon a time', { addBos: true });

interface PageResult {
  format: string;
  kind: string;
  adapter: string;
  needsNative: string[];
  logits: number[];
  tap: number[];
  gen: number[];
}

async function runInPage(page: Page, backend: 'auto' | 'cpu'): Promise<PageResult> {
  const onnx = Array.from(encodeOnnxModel(llamaOnnx(native, { style: 'optimum', past: true })));
  const tok = Array.from(readModelBytes('stories260K/tok512.bin'));
  return page.evaluate(
    async ({ onnx, tok, ids, backend }) => {
      type E = import('../../src/worker/client.ts').EngineClient;
      const e = (window as unknown as { engine: E }).engine;
      const info = await e.load({ kind: 'files', files: [{ name: 'model.onnx', bytes: new Uint8Array(onnx) }, { name: 'tok512.bin', bytes: new Uint8Array(tok) }] }, { backend });
      const f = await e.forward({ ids, taps: ['blk.2.out'] });
      const g = await e.generate({ prompt: 'Once upon a time', maxTokens: 6, temperature: 0 });
      return {
        format: info.format,
        kind: info.backend.kind,
        adapter: info.backend.adapter,
        needsNative: info.features?.needsNativeFile ?? [],
        logits: Array.from(f.logits),
        tap: Array.from(f.taps['blk.2.out']),
        gen: g.generatedIds,
      };
    },
    { onnx, tok, ids, backend },
  );
}

describe('ONNX model dropped on the engine in Chromium', () => {
  let env: BrowserEnv;
  let page: Page;
  beforeAll(async () => {
    env = await startBrowser();
    page = await env.browser.newPage();
    await page.routeWebSocket(/.*/, () => {});
    page.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
    await page.goto(`${env.baseUrl}/tests/e2e/engine-harness.html`);
    await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
  }, 120_000);
  afterAll(async () => {
    await env?.close();
  });

  for (const backend of ['auto', 'cpu'] as const) {
    it(`backend ${backend}: ${backend === 'auto' ? 'WebGPU' : 'wasm'} execution provider, logits / tap / greedy ids equal the CPU engine`, async () => {
      const cpu = new CpuBackend(native);
      const want = await cpu.forward(ids, { taps: ['blk.2.out'] });
      const wantGen = await generate(cpu, prompt, { maxTokens: 6, temperature: 0 });
      const r = await runInPage(page, backend);
      console.log(`[onnx-import-chromium] backend ${backend}: ${r.kind}, ${r.adapter}`);
      expect(r.format).toBe('onnx');
      expect(r.needsNative).toContain('taylor');
      if (backend === 'auto') {
        expect(r.adapter).toMatch(/webgpu/);
        expect(r.adapter).not.toMatch(/failed/);
        expect(r.kind).toBe('gpu');
      } else expect(r.adapter).toMatch(/\(wasm\)/);
      expectAllClose(Float32Array.from(r.logits), want.logits, { atol: 1e-4, rtol: 1e-4 }, 'logits');
      expectAllClose(Float32Array.from(r.tap), want.taps['blk.2.out'], { atol: 1e-4, rtol: 1e-4 }, 'blk.2.out');
      expect(r.gen).toEqual(wantGen.generatedIds);
    }, 180_000);
  }
});
