// Headless Chromium with WebGPU (SwiftShader on machines without a GPU) driving pages served by Vite
// from this repository, with the models directory under /models/. Chromium is Debian's
// (/usr/bin/chromium, or LAYERLAB_CHROMIUM); nothing is downloaded.
import { chromium, type Browser, type Page } from 'playwright-core';
import { createServer, type ViteDevServer } from 'vite';
import { existsSync } from 'node:fs';
import { repoRoot } from './models.ts';

export const chromiumPath = process.env.LAYERLAB_CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-dev-shm-usage',
];

export interface BrowserEnv {
  browser: Browser;
  server: ViteDevServer;
  baseUrl: string;
  page(path: string): Promise<Page>;
  close(): Promise<void>;
}

export async function startBrowser(): Promise<BrowserEnv> {
  if (!existsSync(chromiumPath)) {
    throw new Error(`Chromium not found at ${chromiumPath}: run "apt-get install -y chromium libvulkan1" (npm test does this when it can) or set LAYERLAB_CHROMIUM`);
  }
  const server = await createServer({ root: repoRoot, configFile: `${repoRoot}vite.config.ts`, logLevel: 'error', server: { port: 0, host: '127.0.0.1', hmr: false, watch: null } });
  await server.listen();
  const addr = server.httpServer?.address();
  if (!addr || typeof addr === 'string') throw new Error('vite server has no port');
  const baseUrl = `http://localhost:${addr.port}`;
  const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: CHROMIUM_ARGS });
  const logs: string[] = [];
  return {
    browser,
    server,
    baseUrl,
    async page(path: string) {
      const p = await browser.newPage();
      p.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') logs.push(`[browser ${m.type()}] ${m.text()}`);
      });
      p.on('pageerror', (e) => logs.push(`[page error] ${e.message}`));
      await p.goto(`${baseUrl}${path}`);
      return p;
    },
    async close() {
      if (logs.length) console.log(logs.slice(0, 40).join('\n'));
      await browser.close();
      await server.close();
    },
  };
}
