// ONNX round trip through the built static site (dist/ under /demo/, models at /demo/models/) in headless
// Chromium with WebGPU (SwiftShader): the default model (stories260K, LayerLab's GPU engine) loads and the
// first analysis draws the metrics x layers heatmap; "Download ONNX" in the Export panel (engine.exportOnnx
// in the worker) saves the model as .onnx; that file is given back to the model file input with the
// llama2.c tokenizer, loads as format onnx (onnxruntime-web in the worker), the importance panel disables
// the metrics ONNX models do not get, and a cos-only analysis gives the same 1 - cos per layer as the
// native engine's heatmap (a different engine: onnxruntime's WebGPU EP on the exported graph). Every
// request stays on the site; onnxruntime's runtime comes from dist/ort/. Screenshot: the model panel with
// the ONNX model loaded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { startBrowser, type BrowserEnv } from '../helpers/browser.ts';
import { readModelBytes, repoRoot } from '../helpers/models.ts';
import { decodeOnnxModel } from '../../src/onnx/proto.ts';

const shots = `${repoRoot}test-results/e2e`;
mkdirSync(shots, { recursive: true });

/** Row 0 of the metrics x layers heatmap: its label and values. */
async function firstRow(page: Page): Promise<{ label: string; values: number[] }> {
  return page.evaluate(() => {
    const fig = document.querySelector('[data-testid=heatmap-metrics]')!;
    const label = fig.querySelector('g.axis text title')?.textContent ?? '';
    const cells = [...fig.querySelectorAll('rect[data-row="0"]')].sort((a, b) => Number(a.getAttribute('data-col')) - Number(b.getAttribute('data-col')));
    return { label, values: cells.map((c) => Number(c.getAttribute('data-value'))) };
  });
}

describe('built site: ONNX export from the page and back in', () => {
  let env: BrowserEnv;
  let page: Page;
  const hosts = new Set<string>();
  beforeAll(async () => {
    env = await startBrowser({ site: 'dist' });
    page = await env.browser.newPage({ viewport: { width: 1600, height: 1000 }, acceptDownloads: true });
    page.on('request', (r) => hosts.add(new URL(r.url()).host));
    page.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
    await page.goto(`${env.baseUrl}/`);
  }, 120_000);
  afterAll(async () => {
    await env?.close();
  });

  it('exports the default model as ONNX, loads it back (format onnx), and cos equals the native heatmap within 1e-4', async () => {
    await page.waitForSelector('[data-testid=model-status][data-status=ready]', { timeout: 180_000 });
    await page.waitForSelector('[data-testid=heatmap-metrics] rect[data-row="0"]', { timeout: 400_000 });
    const native = await firstRow(page);
    expect(native.label).toMatch(/cos/i);
    expect(native.values).toHaveLength(5);

    // Export panel: Download ONNX (no options: input_ids -> logits).
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 60_000 }), page.click('[data-testid=export-onnx]')]);
    expect(download.suggestedFilename()).toMatch(/\.onnx$/);
    const bytes = readFileSync((await download.path())!);
    const onnx = decodeOnnxModel(new Uint8Array(bytes));
    expect(onnx.graph?.output?.map((o) => o.name)).toEqual(['logits']);
    await page.waitForSelector('[data-testid=export-status][data-bad=false]', { timeout: 30_000 });
    expect(await page.textContent('[data-testid=export-status]')).toContain(`${bytes.length.toLocaleString('en-US')} bytes`);

    // Back in through the model file input, with the tokenizer.
    await page.setInputFiles('[data-testid=model-file-input]', [
      { name: download.suggestedFilename(), mimeType: 'application/octet-stream', buffer: bytes },
      { name: 'tok512.bin', mimeType: 'application/octet-stream', buffer: Buffer.from(readModelBytes('stories260K/tok512.bin')) },
    ]);
    await page.waitForFunction(() => document.querySelector('[data-testid=fact-format]')?.textContent === 'onnx', undefined, { timeout: 120_000 });
    expect(await page.textContent('[data-testid=fact-backend]')).toMatch(/onnxruntime-web/);
    expect(await page.textContent('[data-testid=fact-onnx]')).toMatch(/Needs a GGUF or safetensors file: ablation, quant/);
    await page.locator('[data-testid=panel-model]').screenshot({ path: `${shots}/built-onnx-model-panel.png`, style: '.app-header { position: static !important; }' });
    // Export panel: an ONNX model is not exported again.
    expect(await page.isDisabled('[data-testid=export-onnx]')).toBe(true);
    expect(await page.textContent('[data-testid=export-onnx-refused]')).toMatch(/already ONNX/);

    // Importance: ablation and quant are disabled with the reason; run cos only.
    for (const id of ['ablation', 'quant']) {
      expect(await page.isDisabled(`[data-testid=metric-${id}]`)).toBe(true);
      expect(await page.locator(`[data-testid=metric-${id}]`).locator('xpath=..').getAttribute('title')).toMatch(/not for ONNX models/);
    }
    expect(await page.textContent('[data-testid=importance-onnx-note]')).toMatch(/Not available: ablation/);
    for (const box of await page.locator('.metric-choice input[type=checkbox]').all()) {
      const id = (await box.getAttribute('data-testid'))!.replace('metric-', '');
      if ((await box.isEnabled()) && (await box.isChecked()) !== (id === 'cos')) await box.click();
    }
    await page.click('[data-testid=importance-run]');
    await page.waitForSelector('[data-testid=importance-result]:not(.stale) [data-testid=heatmap-metrics] rect[data-row="0"]', { timeout: 300_000 });
    expect(await page.locator('[data-testid=heatmap-metrics] rect[data-row="1"]').count()).toBe(0);
    const got = await firstRow(page);
    expect(got.label).toBe(native.label);
    expect(got.values).toHaveLength(5);
    for (let l = 0; l < 5; l++) expect(Math.abs(got.values[l] - native.values[l]), `layer ${l}: onnx ${got.values[l]} vs native ${native.values[l]}`).toBeLessThanOrEqual(1e-4);

    // Nothing left the site; onnxruntime's runtime came from dist/ort/ (the JSEP build the page imports).
    expect([...hosts]).toEqual([new URL(env.baseUrl).host]);
    const req = env.staticServer!.requests;
    expect(req.every((p) => p.startsWith('/demo/'))).toBe(true);
    expect(req).toContain('/demo/ort/ort-wasm-simd-threaded.jsep.wasm');
    expect(req).toContain('/demo/ort/ort-wasm-simd-threaded.jsep.mjs');
    expect(req.filter((p) => /\.wasm$/.test(p)).every((p) => p.startsWith('/demo/ort/'))).toBe(true);
  }, 900_000);
});
