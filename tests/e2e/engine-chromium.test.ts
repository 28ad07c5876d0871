// The engine in headless Chromium: the real worker (comlink, WebGPU on the page's adapter — SwiftShader
// here) loads stories260K from the models directory as llama2.c and as GGUF, and must reproduce the
// independent references: the token ids of every case in refs/stories260K/tokenizer.json, the prompt
// logits within 1e-4, and the 64 greedy ids. kjv-gpt2-8L (GPT-2 path) is checked on its prompt logits.
// Comparisons happen here in Node against the reference files.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { startBrowser, type BrowserEnv } from '../helpers/browser.ts';
import { readRef } from '../helpers/models.ts';
import { expectAllClose } from '../helpers/close.ts';
import { kjvLogits, storiesGreedy, storiesLogits } from '../helpers/parity.ts';

interface TokCase { text: string; bos: boolean; ids: number[] }

const MODELS = {
  'stories260K (llama2.c)': { urls: ['/models/stories260K/stories260K.bin', '/models/stories260K/tok512.bin'], contextLength: undefined as number | undefined },
  'stories260K (GGUF)': { urls: ['/models/stories260K-gguf/stories260K.gguf'], contextLength: 512 },
};

async function openHarness(env: BrowserEnv): Promise<Page> {
  const page = await env.browser.newPage();
  // Answer Vite's HMR socket with a mock so edits elsewhere in the tree never reload the page mid-test.
  await page.routeWebSocket(/.*/, () => {});
  page.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
  await page.goto(`${env.baseUrl}/tests/e2e/engine-harness.html`);
  await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
  return page;
}

type EngineWindow = { engine: import('../../src/worker/client.ts').EngineClient };

async function load(page: Page, urls: string[], contextLength?: number) {
  return page.evaluate(
    async ({ urls, contextLength }) => {
      const info = await (window as unknown as EngineWindow).engine.load({ kind: 'urls', urls }, { backend: 'gpu', contextLength });
      return { backend: info.backend, nLayers: info.spec.nLayers, contextLength: info.spec.contextLength };
    },
    { urls, contextLength },
  );
}

describe('engine in Chromium (WebGPU)', () => {
  let env: BrowserEnv;
  let page: Page;
  beforeAll(async () => {
    env = await startBrowser();
    page = await openHarness(env);
  }, 120_000);
  afterAll(async () => {
    await env?.close();
  });

  describe.each(Object.keys(MODELS) as (keyof typeof MODELS)[])('%s', (name) => {
    it('loads on the GPU backend', async () => {
      const m = MODELS[name];
      const info = await load(page, m.urls, m.contextLength);
      expect(info.backend.kind).toBe('gpu');
      expect(info.nLayers).toBe(5);
      expect(info.contextLength).toBe(512);
    }, 120_000);

    it('tokenizes every reference case', async () => {
      const cases = readRef<{ cases: TokCase[] }>('stories260K/tokenizer.json').cases;
      const got = await page.evaluate(async (cases) => {
        const e = (window as unknown as EngineWindow).engine;
        const out: number[][] = [];
        for (const c of cases) out.push((await e.tokenize(c.text, c.bos)).ids);
        return out;
      }, cases);
      expect(got).toEqual(cases.map((c) => c.ids));
    });

    it('prompt logits match the reference within 1e-4', async () => {
      const ref = storiesLogits();
      const got = await page.evaluate(async (ids) => {
        const r = await (window as unknown as EngineWindow).engine.forward({ ids });
        return Array.from(r.logits);
      }, ref.ids);
      expectAllClose(got, ref.logits.flat(), { atol: 1e-4, rtol: 0 }, `${name} prompt logits in Chromium`);
    }, 120_000);

    it('64 greedy tokens match the reference', async () => {
      const ref = storiesGreedy();
      const got = await page.evaluate(async () => {
        const r = await (window as unknown as EngineWindow).engine.generate({ prompt: 'Once upon a time', maxTokens: 64 });
        return { prompt: r.promptIds, gen: r.generatedIds };
      });
      expect(got.prompt).toEqual(ref.prompt_ids);
      expect(got.gen).toEqual(ref.generated_ids);
    }, 240_000);
  });

  it('kjv-gpt2-8L (safetensors folder): prompt logits match the PyTorch float64 reference within 1e-4', async () => {
    const base = '/models/kjv-gpt2-8L/';
    await load(page, ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'].map((f) => base + f));
    const ref = kjvLogits();
    const got = await page.evaluate(async (ids) => Array.from((await (window as unknown as EngineWindow).engine.forward({ ids })).logits), ref.ids);
    expectAllClose(got, ref.logits.flat(), { atol: 1e-4, rtol: 0 }, 'kjv-gpt2-8L logits in Chromium');
  }, 120_000);
});
