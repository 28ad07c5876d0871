// The built static site (`vite build` into dist/, served by a plain static server under /demo/, the
// models directory mounted at /demo/models/ the way a host would hold it) in headless Chromium:
// (1) started WITHOUT --enable-unsafe-webgpu: the page says plainly that there is no WebGPU, runs
// stories260K on the CPU backend, and its NLL of the preset text equals the CPU reference in Node;
// (2) with WebGPU (SwiftShader): the software-adapter notice, the default model loads and the
// metrics x layers heatmap renders; onnxruntime-web's wasm runtime is served from the site itself, the
// build holds no model files, and every request goes to the site's own server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { ensureBuilt, startBrowser, type BrowserEnv } from '../helpers/browser.ts';
import { readModelBytes, repoRoot } from '../helpers/models.ts';
import { loadModelFromFiles } from '../../src/core/formats/load.ts';
import { CpuBackend } from '../../src/core/model/cpu-backend.ts';
import { nllOfIds } from '../../src/core/eval/perplexity.ts';
import { DEFAULT_PRESET_ID, presetById } from '../../src/app/presets.ts';

const shots = `${repoRoot}test-results/e2e`;
mkdirSync(shots, { recursive: true });

const model = loadModelFromFiles([
  { name: 'stories260K.bin', bytes: readModelBytes('stories260K/stories260K.bin') },
  { name: 'tok512.bin', bytes: readModelBytes('stories260K/tok512.bin') },
]);

async function openPage(env: BrowserEnv, path = '/'): Promise<{ page: Page; hosts: Set<string> }> {
  const page = await env.browser.newPage({ viewport: { width: 1600, height: 1000 } });
  const hosts = new Set<string>();
  page.on('request', (r) => hosts.add(new URL(r.url()).host));
  page.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
  await page.goto(`${env.baseUrl}${path}`);
  return { page, hosts };
}

describe('built site: dist/ from a static server', () => {
  it('the build holds the self-hosted onnxruntime wasm runtime and no model files', async () => {
    const dist = await ensureBuilt();
    expect(existsSync(join(dist, 'index.html'))).toBe(true);
    expect(existsSync(join(dist, 'models'))).toBe(false);
    // Only the JSEP build the page's `import 'onnxruntime-web'` requests (wasm and WebGPU EPs alike), once.
    const ort = readdirSync(join(dist, 'ort')).sort();
    expect(ort).toEqual(['ort-wasm-simd-threaded.jsep.mjs', 'ort-wasm-simd-threaded.jsep.wasm']);
    const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [e.name]));
    expect(walk(dist).filter((f) => /\.(gguf|safetensors|bin|onnx)$/.test(f))).toEqual([]);
    expect(walk(dist).filter((f) => /\.wasm$/.test(f))).toEqual(['ort-wasm-simd-threaded.jsep.wasm']);
  }, 120_000);

  describe('without WebGPU (Chromium started without --enable-unsafe-webgpu)', () => {
    let env: BrowserEnv;
    beforeAll(async () => {
      env = await startBrowser({ site: 'dist', webgpu: false });
    }, 120_000);
    afterAll(async () => {
      await env?.close();
    });

    it('says so plainly, runs stories260K on the CPU backend, and its NLL equals the CPU reference', async () => {
      const { page, hosts } = await openPage(env);
      await page.waitForSelector('[data-testid=model-status][data-status=ready]', { timeout: 180_000 });
      const notice = page.locator('[data-testid=gpu-notice]');
      await notice.waitFor({ state: 'visible', timeout: 10_000 });
      expect(await notice.getAttribute('data-kind')).toBe('no-webgpu');
      expect(await notice.textContent()).toMatch(/No WebGPU here: running on the CPU instead/);
      expect(await page.textContent('[data-testid=adapter-line]')).toMatch(/no WebGPU/);
      expect(await page.getAttribute('[data-testid=fact-params]', 'data-value')).toBe('260032');
      await page.waitForSelector('[data-testid=nll-value]', { timeout: 300_000 });
      const got = Number(await page.getAttribute('[data-testid=nll-value]', 'data-value'));
      const text = presetById(DEFAULT_PRESET_ID)!.text;
      const want = await nllOfIds(new CpuBackend(model), model.tokenizer.encode(text, {}));
      expect(Math.abs(got - want.meanNll)).toBeLessThanOrEqual(1e-4);
      expect([...hosts]).toEqual([new URL(env.baseUrl).host]);
      await page.screenshot({ path: `${shots}/built-no-webgpu.png`, fullPage: false });
      await page.close();
    }, 420_000);
  });

  describe('with WebGPU (software adapter)', () => {
    let env: BrowserEnv;
    let page: Page;
    let hosts: Set<string>;
    beforeAll(async () => {
      env = await startBrowser({ site: 'dist' });
      ({ page, hosts } = await openPage(env));
    }, 120_000);
    afterAll(async () => {
      await env?.close();
    });

    it('the default model loads from the models URL and a heatmap renders; the wasm runtime is self-hosted', async () => {
      await page.waitForSelector('[data-testid=model-status][data-status=ready]', { timeout: 180_000 });
      expect(await page.textContent('[data-testid=model-status]')).toContain('stories260K');
      expect(await page.getAttribute('[data-testid=gpu-notice]', 'data-kind')).toBe('software');
      expect(await page.textContent('[data-testid=gpu-notice]')).toMatch(/numbers will be slow/);
      await page.waitForSelector('[data-testid=heatmap-metrics] rect[data-value]', { timeout: 400_000 });
      expect(await page.locator('[data-testid=heatmap-metrics] rect[data-row="0"]').count()).toBe(5);
      // The runtime files answer from the site's own ort/ folder, relative to the page.
      const ort = await page.evaluate(async () => {
        const out: Record<string, string> = {};
        for (const f of ['ort-wasm-simd-threaded.jsep.wasm', 'ort-wasm-simd-threaded.jsep.mjs']) {
          const r = await fetch(new URL(`ort/${f}`, document.baseURI), { method: 'HEAD' });
          out[f] = `${r.status} ${r.headers.get('content-type')}`;
        }
        return out;
      });
      expect(ort).toEqual({ 'ort-wasm-simd-threaded.jsep.wasm': '200 application/wasm', 'ort-wasm-simd-threaded.jsep.mjs': '200 text/javascript' });
      expect([...hosts]).toEqual([new URL(env.baseUrl).host]);
      const req = env.staticServer!.requests;
      expect(req).toContain('/demo/models/stories260K/stories260K.bin');
      expect(req.every((p) => p.startsWith('/demo/'))).toBe(true);
      await page.screenshot({ path: `${shots}/built-start.png`, fullPage: false });
    }, 600_000);
  });
});
