// Headless Chromium driving the workbench, served either by Vite's dev server from this repository
// (site 'dev', the default) or as the built static site (site 'dist': `vite build` into dist/ unless
// dist/ is newer than every source file, then served by a plain static server under /demo/ with the
// models directory mounted at /demo/models/, the way a static host would hold them). WebGPU is on
// (SwiftShader on machines without a GPU) unless `webgpu: false`, which starts Chromium without
// --enable-unsafe-webgpu. Chromium is Debian's (/usr/bin/chromium, or LAYERLAB_CHROMIUM); nothing is downloaded.
import { chromium, type Browser, type Page } from 'playwright-core';
import { build, createServer } from 'vite';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { modelsDir, repoRoot } from './models.ts';
import { startStaticServer, type StaticServer } from './static-server.ts';
import { listModels } from '../../scripts/vite-models-plugin.ts';

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
  /** Where the site is: `${baseUrl}/` is its page. */
  baseUrl: string;
  site: 'dev' | 'dist';
  /** The static server of a 'dist' site (its request log), null for the dev server. */
  staticServer: StaticServer | null;
  page(path: string): Promise<Page>;
  close(): Promise<void>;
}

export interface BrowserOptions {
  site?: 'dev' | 'dist';
  /** false: Chromium without --enable-unsafe-webgpu (navigator.gpu absent or without an adapter). */
  webgpu?: boolean;
}

const distDir = join(repoRoot, 'dist');

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let m = st.mtimeMs;
  for (const e of readdirSync(path)) m = Math.max(m, newestMtime(join(path, e)));
  return m;
}

function distIsFresh(): boolean {
  const inputs = ['src', 'shaders', 'scripts', 'index.html', 'vite.config.ts', 'package.json'].map((p) => newestMtime(join(repoRoot, p)));
  const built = existsSync(join(distDir, 'index.html')) ? statSync(join(distDir, 'index.html')).mtimeMs : 0;
  return built > Math.max(...inputs) && existsSync(join(distDir, 'ort'));
}

const buildLock = join(repoRoot, 'dist.lock');
const LOCK_STALE_MS = 10 * 60_000;

/**
 * Builds dist/ with `vite build` unless it is newer than the sources, the shaders and the configs.
 * Test files run in parallel workers (separate processes), so the build is serialised by a lock
 * directory (mkdir is atomic): one worker builds, the others wait and then find dist/ fresh. A lock
 * older than ten minutes is taken to be left by a killed run and removed.
 */
export async function ensureBuilt(): Promise<string> {
  if (distIsFresh()) return distDir;
  for (;;) {
    try {
      mkdirSync(buildLock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const held = statSync(buildLock, { throwIfNoEntry: false });
      if (held && Date.now() - held.mtimeMs > LOCK_STALE_MS) rmSync(buildLock, { recursive: true, force: true });
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    if (!distIsFresh()) await build({ root: repoRoot, configFile: join(repoRoot, 'vite.config.ts'), logLevel: 'error', build: { outDir: distDir, emptyOutDir: true } });
  } finally {
    rmSync(buildLock, { recursive: true, force: true });
  }
  return distDir;
}

async function serveDist(): Promise<{ url: string; server: StaticServer }> {
  const dir = await ensureBuilt();
  const server = await startStaticServer(
    { '/demo/': dir, '/demo/models/': modelsDir },
    {
      prefix: '/demo/',
      extra: (path) => (path === '/demo/models/index.json' ? { type: 'application/json', body: JSON.stringify({ models: listModels(modelsDir) }) } : null),
    },
  );
  return { url: server.url, server };
}

export async function startBrowser(opts: BrowserOptions = {}): Promise<BrowserEnv> {
  if (!existsSync(chromiumPath)) {
    throw new Error(`Chromium not found at ${chromiumPath}: run "apt-get install -y chromium libvulkan1" (npm test does this when it can) or set LAYERLAB_CHROMIUM`);
  }
  const site = opts.site ?? 'dev';
  let baseUrl: string;
  let stop: () => Promise<void>;
  let staticServer: StaticServer | null = null;
  if (site === 'dist') {
    const s = await serveDist();
    baseUrl = s.url;
    staticServer = s.server;
    stop = () => s.server.close();
  } else {
    const server = await createServer({ root: repoRoot, configFile: `${repoRoot}vite.config.ts`, logLevel: 'error', server: { port: 0, host: '127.0.0.1', hmr: false, watch: null } });
    await server.listen();
    const addr = server.httpServer?.address();
    if (!addr || typeof addr === 'string') throw new Error('vite server has no port');
    baseUrl = `http://localhost:${addr.port}`;
    stop = () => server.close();
  }
  const args = opts.webgpu === false ? CHROMIUM_ARGS.filter((a) => a !== '--enable-unsafe-webgpu') : CHROMIUM_ARGS;
  const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args });
  const logs: string[] = [];
  return {
    browser,
    baseUrl,
    site,
    staticServer,
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
      await stop();
    },
  };
}
