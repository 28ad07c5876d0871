// The built site (dist/, plain static server, WebGPU on SwiftShader) driven through the new panels:
// a guided lesson run from the keyboard sets an allocation plan (checked against the CPU reference
// ranking in Node); the share link of that state restores model, preset and plan in a new page; bad
// links show an error as text and the page still works; the drop sweep of the Experiments panel equals
// the same sweep run by the CPU engine in Node; charts export as stand-alone SVG and PNG, the plan as
// JSON / llama.cpp arguments; screenshots of each panel, both themes, and a projector-sized viewport go
// to test-results/e2e/.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { startBrowser, type BrowserEnv } from '../helpers/browser.ts';
import { readModelBytes, repoRoot } from '../helpers/models.ts';
import { Engine } from '../../src/worker/engine.ts';
import { decodeShare, shareTokenOf, base64urlEncode } from '../../src/app/share.ts';
import { presetById } from '../../src/app/presets.ts';

const shots = `${repoRoot}test-results/e2e`;
mkdirSync(shots, { recursive: true });

const files = [
  { name: 'stories260K.bin', bytes: readModelBytes('stories260K/stories260K.bin') },
  { name: 'tok512.bin', bytes: readModelBytes('stories260K/tok512.bin') },
];

async function openPage(env: BrowserEnv, path = '/', viewport = { width: 1600, height: 1000 }): Promise<Page> {
  const page = await env.browser.newPage({ viewport, acceptDownloads: true });
  page.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
  await page.goto(`${env.baseUrl}${path}`);
  return page;
}

const idle = (page: Page, timeout = 400_000) => page.waitForFunction(() => !document.querySelector('[data-testid=job-line]'), undefined, { timeout });

/** A screenshot of one panel, with the sticky header unstuck so it does not cover the stitched image. */
async function panelShot(page: Page, id: string, file: string): Promise<void> {
  const tag = await page.addStyleTag({ content: '.app-header { position: static !important; }' });
  try {
    await page.locator(`[data-testid=panel-${id}]`).screenshot({ path: `${shots}/${file}` });
  } finally {
    await tag.evaluate((el) => (el as Element).remove());
  }
}

async function download(page: Page, selector: string): Promise<{ name: string; bytes: Buffer }> {
  const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 120_000 }), page.click(selector)]);
  const p = await dl.path();
  return { name: dl.suggestedFilename(), bytes: readFileSync(p) };
}

describe('built site: lessons, share links, experiments, export', () => {
  let env: BrowserEnv;
  let page: Page;
  let engine: Engine;

  beforeAll(async () => {
    env = await startBrowser({ site: 'dist' });
    page = await openPage(env);
    engine = new Engine(async () => null);
    await engine.load({ kind: 'files', files }, { backend: 'cpu' });
  }, 180_000);
  afterAll(async () => {
    await env?.close();
  });

  it('first screen; screenshots of the model, calibration and importance panels', async () => {
    await page.waitForSelector('[data-testid=model-status][data-status=ready]', { timeout: 180_000 });
    await page.waitForSelector('[data-testid=heatmap-metrics] rect[data-value]', { timeout: 400_000 });
    await idle(page);
    for (const p of ['model', 'calibration', 'importance']) await panelShot(page, p, `panel-${p}.png`);
  }, 600_000);

  it('a lesson, driven from the keyboard, runs the analysis and sets the plan the CPU ranking predicts', async () => {
    await page.click('[data-testid=lesson-open-drop]');
    await page.waitForSelector('[data-testid=lesson][data-step="0"]');
    await page.waitForSelector('[data-testid=importance-progress]', { timeout: 30_000 }).catch(() => undefined);
    await idle(page);
    await page.screenshot({ path: `${shots}/lessons.png`, fullPage: false });
    // Next has the focus: Enter moves on, and the step sets the plan.
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('lesson-next');
    await page.keyboard.press('Enter');
    await page.waitForSelector('[data-testid=lesson][data-step="1"]');
    expect(await page.textContent('[data-testid=lesson-step-title]')).toBe('Drop it');
    await page.waitForSelector('[data-testid=export-json]:not([disabled])', { timeout: 120_000 });
    const plan = JSON.parse((await download(page, '[data-testid=export-json]')).bytes.toString('utf8'));
    // The CPU reference ranks the blocks by block influence on the same text and tokens.
    const text = presetById('story')!.text;
    const cpu = await engine.analyze({ texts: [text], metrics: ['cos'], maxTokens: 128 });
    const cos = cpu.scores.find((s) => s.metricId === 'cos')!;
    const least = cos.ranking[cos.ranking.length - 1];
    expect(plan.schema).toBe('layerlab.allocation/1');
    expect(plan.layers).toEqual({ [String(least)]: { drop: 'block' } });
    await page.click('[data-testid=lesson-back]');
    await page.waitForSelector('[data-testid=lesson][data-step="0"]');
    await page.click('[data-testid=lesson-close]');
    await page.waitForSelector('[data-testid=lessons]');
  }, 600_000);

  let link = '';
  let planJson = '';

  it('the share link restores model, preset and plan in a new page', async () => {
    await idle(page);
    await page.click('[data-testid=preset-code]');
    planJson = (await download(page, '[data-testid=export-json]')).bytes.toString('utf8');
    await page.click('[data-testid=share-copy]');
    await page.waitForFunction(() => (document.querySelector('[data-testid=share-link]') as HTMLInputElement | null)?.value.includes('#s='));
    link = await page.inputValue('[data-testid=share-link]');
    const decoded = await decodeShare(shareTokenOf(link)!);
    expect(decoded.ok).toBe(true);
    if (!decoded.ok) return;
    expect(decoded.payload.model).toBe('stories260K/stories260K.bin');
    expect(decoded.payload.preset).toBe('code');
    expect(decoded.payload.allocation).toEqual(JSON.parse(planJson));

    const p2 = await openPage(env, link.slice(env.baseUrl.length));
    await p2.waitForSelector('[data-testid=model-status][data-status=ready]', { timeout: 180_000 });
    await p2.waitForSelector('[data-testid=share-notice][data-ok=true]', { timeout: 60_000 });
    expect(await p2.getAttribute('[data-testid=preset-code]', 'aria-checked')).toBe('true');
    expect(await p2.inputValue('[data-testid=calibration-text]')).toBe(presetById('code')!.text);
    await p2.waitForSelector('[data-testid=export-json]:not([disabled])', { timeout: 120_000 });
    await idle(p2);
    expect((await download(p2, '[data-testid=export-json]')).bytes.toString('utf8')).toBe(planJson);
    await p2.close();
  }, 600_000);

  it('bad links show an error as text and the page still loads the default', async () => {
    const evil = 'j' + base64urlEncode(new TextEncoder().encode(JSON.stringify({ v: 1, model: '<img src=x onerror="window.__pwned=1">.gguf', preset: null, allocation: null })));
    const missing = 'j' + base64urlEncode(new TextEncoder().encode(JSON.stringify({ v: 1, model: 'nowhere/missing.gguf', preset: 'code', allocation: null })));
    const cases = [
      [`#s=${evil}`, /model id this page does not accept/],
      ['#s=zNOT-A-LINK', /damaged/],
      [`#s=${missing}`, /names the model "nowhere\/missing.gguf", which this site's models folder does not have/],
    ] as const;
    for (const [hash, re] of cases) {
      const p = await openPage(env, `/${hash}`);
      await p.waitForSelector('[data-testid=share-error]', { timeout: 60_000 });
      expect(await p.textContent('[data-testid=share-error-message]')).toMatch(re);
      expect(await p.locator('[data-testid=share-notice] img').count()).toBe(0);
      expect(await p.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
      await p.waitForSelector('[data-testid=model-status][data-status=ready]', { timeout: 180_000 });
      expect(await p.textContent('[data-testid=model-status]')).toContain('stories260K');
      await p.close();
    }
  }, 600_000);

  it('the drop sweep draws its curves with the numbers of the CPU engine', async () => {
    await idle(page);
    await page.click('[data-testid=preset-story]');
    await page.fill('[data-testid=sweep-tokens]', '32');
    await page.selectOption('[data-testid=sweep-step]', '50');
    await page.click('[data-testid=sweep-drop-run]');
    await page.waitForSelector('[data-testid=chart-sweep-drop-nll] circle', { timeout: 400_000 });
    await page.waitForSelector('[data-testid=chart-sweep-drop-kl] circle', { timeout: 30_000 });
    const want = await engine.sweep({ text: presetById('story')!.text, maxTokens: 32, metric: 'cos', step: 50, drop: ['block', 'attn', 'mlp'], seeds: [0] });
    const kinds = ['block', 'attn', 'mlp'] as const;
    for (const [chart, key] of [['nll', 'meanNll'], ['kl', 'kl']] as const) {
      const got = await page.$$eval(`[data-testid=chart-sweep-drop-${chart}] g > circle`, (els) => els.map((e) => [Number(e.getAttribute('data-x')), Number(e.getAttribute('data-y'))]));
      const exp = kinds.flatMap((k) => want.curves.find((c) => c.drop === k && c.order === 'cos')!.points.map((p) => [p.moved, p[key]]));
      expect(got.length).toBe(exp.length);
      got.forEach(([x, y], i) => {
        expect(x).toBe(exp[i][0]);
        expect(Math.abs(y - exp[i][1]), `${chart} point ${i}: page ${y}, CPU ${exp[i][1]}`).toBeLessThanOrEqual(1e-3 + 1e-3 * Math.abs(exp[i][1]));
      });
    }
    // The quantization sweep (Layer-Wise Quantization): Q8_0 -> int2 in the metric order, reverse and random (3 seeds).
    await idle(page);
    await page.click('[data-testid=sweep-format-run]');
    await page.waitForSelector('[data-testid=chart-sweep-format-nll] circle', { timeout: 400_000 });
    const fw = await engine.sweep({ text: presetById('story')!.text, maxTokens: 32, metric: 'cos', step: 50, from: 'Q8_0', to: 'int2-g32-asym', seeds: [0, 1, 2] });
    const fgot = await page.$$eval('[data-testid=chart-sweep-format-nll] g > circle', (els) => els.map((e) => [Number(e.getAttribute('data-x')), Number(e.getAttribute('data-y'))]));
    const ordered = fw.curves.find((c) => c.order === 'cos')!.points;
    const randoms = fw.curves.filter((c) => c.order.startsWith('random:'));
    const fexp = [
      ...ordered.map((p) => [p.percent, p.meanNll]),
      ...fw.curves.find((c) => c.order === 'reverse')!.points.map((p) => [p.percent, p.meanNll]),
      ...ordered.map((p, i) => [p.percent, randoms.reduce((a, c) => a + c.points[i].meanNll, 0) / randoms.length]),
    ];
    expect(fgot.length).toBe(fexp.length);
    fgot.forEach(([x, y], i) => {
      expect(x).toBe(fexp[i][0]);
      expect(Math.abs(y - fexp[i][1]), `format NLL point ${i}: page ${y}, CPU ${fexp[i][1]}`).toBeLessThanOrEqual(1e-3 + 1e-3 * Math.abs(fexp[i][1]));
    });
    expect(await page.textContent('[data-testid=claim-drop]')).toContain('2406.15786');
    expect(await page.textContent('[data-testid=claim-lwq]')).toContain('2406.17415');
    await panelShot(page, 'experiments', 'panel-experiments.png');
  }, 600_000);

  it('exports: charts as stand-alone SVG and PNG, CSV, llama.cpp arguments; GGUF of a llama2.c model says why not', async () => {
    await idle(page);
    await page.click('[data-testid=export-list-charts]');
    await page.waitForSelector('[data-testid=export-svg-chart-sweep-drop-nll]');
    const svg = (await download(page, '[data-testid=export-svg-chart-sweep-drop-nll]')).bytes.toString('utf8');
    expect(svg.startsWith('<?xml')).toBe(true);
    expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
    expect(svg).not.toContain('class=');
    expect(svg).toMatch(/<text[^>]*style="[^"]*font-size:\s*\d+px/);
    const width = Number(/<svg[^>]* width="(\d+)"/.exec(svg)![1]);
    const png = (await download(page, '[data-testid=export-png-chart-sweep-drop-nll]')).bytes;
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(png.readUInt32BE(16)).toBe(2 * width); // IHDR width: drawn at twice the chart's size
    const csv = (await download(page, '[data-testid=export-csv]')).bytes.toString('utf8');
    expect(csv.split('\n')[0]).toBe('metric,unit,higher_is_more_important,block,sublayer,value,rank');
    const sweepCsv = (await download(page, '[data-testid=export-sweep-csv]')).bytes.toString('utf8');
    expect(sweepCsv.split('\n')[0]).toMatch(/^sweep,metric,from,to,drop,order/);
    const lq = (await download(page, '[data-testid=export-llama-quantize]')).bytes.toString('utf8');
    expect(lq).toMatch(/llama-quantize/);
    await page.click('[data-testid=export-gguf]');
    await page.waitForSelector('[data-testid=export-status][data-bad=true]', { timeout: 60_000 });
    expect(await page.textContent('[data-testid=export-status]')).toMatch(/GGUF/i);
    await panelShot(page, 'export', 'panel-export.png');
  }, 600_000);

  it('themes and a projector-sized viewport stay readable', async () => {
    const before = await page.getAttribute('html', 'data-theme');
    for (const theme of ['dark', 'light']) {
      if ((await page.getAttribute('html', 'data-theme')) !== theme) await page.click('.theme-toggle');
      expect(await page.getAttribute('html', 'data-theme')).toBe(theme);
      await panelShot(page, 'experiments', `theme-${theme}.png`);
    }
    await page.setViewportSize({ width: 1024, height: 768 });
    if ((await page.getAttribute('html', 'data-theme')) !== 'dark') await page.click('.theme-toggle');
    await page.click('[data-testid=lesson-open-mixed]');
    await page.waitForSelector('[data-testid=lesson][data-step="0"]');
    const sizes = await page.evaluate(() => ({
      body: parseFloat(getComputedStyle(document.body).fontSize),
      lesson: parseFloat(getComputedStyle(document.querySelector('[data-testid=lesson]')!).fontSize),
      axis: parseFloat(getComputedStyle(document.querySelector('.chart .axis text')!).fontSize),
    }));
    expect(sizes.body).toBeGreaterThanOrEqual(18);
    expect(sizes.lesson).toBeGreaterThanOrEqual(18);
    expect(sizes.axis).toBeGreaterThanOrEqual(14);
    await page.screenshot({ path: `${shots}/projector-dark-1024x768.png`, fullPage: false });
    await page.click('[data-testid=lesson-close]');
    if ((await page.getAttribute('html', 'data-theme')) !== before) await page.click('.theme-toggle');
  }, 300_000);
});
