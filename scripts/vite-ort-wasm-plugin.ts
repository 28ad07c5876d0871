// Vite plugin: self-host onnxruntime-web's WebAssembly runtime. `vite build` copies the runtime files the
// page's onnxruntime-web import requests from node_modules/onnxruntime-web/dist into <outDir>/ort/, and
// `vite` / `vite preview` serve them under any path ending in /ort/<file> (the page's ort/ and the dev
// worker's src/ort/ alike), so the site never fetches the runtime from a CDN. src/onnx/wasm-paths.ts
// gives the URL of that folder to ort.env.wasm.wasmPaths (session.ts and ort-run.ts set it in a browser).
//
// Which files the page requests: src/onnx imports plain `onnxruntime-web`, whose browser build is the JSEP
// one (WebGPU EP through JSEP plus the wasm EP in the same binary). With wasmPaths set it loads
// ort-wasm-simd-threaded.jsep.mjs (the Emscripten glue, dynamic import) and ort-wasm-simd-threaded.jsep.wasm
// from that folder, for both the 'wasm' and the 'webgpu' execution provider: the default variant "jsep"
// (about 28 MB). The other variants belong to other entry points the page does not import.
//
// In a build, `onnxruntime-web` resolves to dist/ort.min.mjs (the package's "onnxruntime-web-use-extern-wasm"
// entry) instead of ort.bundle.min.mjs: the bundle embeds the glue and names the .wasm with
// `new URL('ort-wasm-simd-threaded.jsep.wasm', import.meta.url)`, which made Vite emit a second 28 MB copy
// into assets/ that the page never fetched (wasmPaths overrides it). The extern-wasm entry has no such
// reference: the runtime exists once, under ort/.
//
// Variants (LAYERLAB_ORT_WASM, comma-separated, or "all"; default "jsep"): "jsep" (the default
// `onnxruntime-web` import, WebGPU through JSEP), "plain" (ort-wasm-simd-threaded: the
// `onnxruntime-web/wasm` build), "asyncify" (`onnxruntime-web/webgpu`), "jspi" (`onnxruntime-web/jspi`).
import type { Plugin, Connect } from 'vite';
import { copyFileSync, createReadStream, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ORT_DIR_NAME = 'ort';
const VARIANTS: Record<string, string> = { plain: '', jsep: '.jsep', asyncify: '.asyncify', jspi: '.jspi' };

export function ortDistDir(root = process.cwd()): string {
  return resolve(root, 'node_modules', 'onnxruntime-web', 'dist');
}

/** The variant the page's `import 'onnxruntime-web'` requests (see the header). */
export const DEFAULT_ORT_VARIANTS = 'jsep';

/** The runtime files to self-host (names only), from LAYERLAB_ORT_WASM or the default variant. */
export function ortWasmFiles(env = process.env.LAYERLAB_ORT_WASM): string[] {
  const spec = env?.trim() || DEFAULT_ORT_VARIANTS;
  const names = (spec === 'all' ? Object.keys(VARIANTS).join(',') : spec).split(',').map((s) => s.trim()).filter(Boolean);
  const out: string[] = [];
  for (const n of names) {
    if (!(n in VARIANTS)) throw new Error(`LAYERLAB_ORT_WASM: unknown variant "${n}" (jsep, plain, asyncify, jspi or all)`);
    for (const ext of ['mjs', 'wasm']) out.push(`ort-wasm-simd-threaded${VARIANTS[n]}.${ext}`);
  }
  return out;
}

function serve(dir: string): Connect.NextHandleFunction {
  return (req, res, next) => {
    const path = (req.url ?? '').split('?')[0];
    const m = /\/ort\/(ort-wasm-simd-threaded(?:\.[a-z]+)?\.(?:mjs|wasm))$/.exec(path);
    if (!m) return next();
    const file = join(dir, m[1]);
    if (!existsSync(file)) return next();
    res.setHeader('Content-Type', m[1].endsWith('.wasm') ? 'application/wasm' : 'text/javascript');
    res.setHeader('Content-Length', String(statSync(file).size));
    createReadStream(file).pipe(res);
  };
}

export function ortWasmPlugin(): Plugin {
  let outDir = 'dist';
  let root = process.cwd();
  return {
    name: 'layerlab-ort-wasm',
    config(_c, env) {
      // Build only: the extern-wasm entry (see the header). The dev server keeps the package's default.
      if (env.command !== 'build') return;
      return { resolve: { alias: [{ find: /^onnxruntime-web$/, replacement: join(ortDistDir(_c.root ? resolve(_c.root) : process.cwd()), 'ort.min.mjs') }] } };
    },
    configResolved(c) {
      root = c.root;
      outDir = resolve(c.root, c.build.outDir);
    },
    configureServer(server) {
      server.middlewares.use(serve(ortDistDir(root)));
    },
    configurePreviewServer(server) {
      server.middlewares.use(serve(ortDistDir(root)));
    },
    writeBundle() {
      const src = ortDistDir(root);
      const dest = join(outDir, ORT_DIR_NAME);
      mkdirSync(dest, { recursive: true });
      const have = new Set(existsSync(src) ? readdirSync(src) : []);
      for (const f of ortWasmFiles()) {
        if (!have.has(f)) throw new Error(`onnxruntime-web has no ${f} in ${src} (npm install?)`);
        copyFileSync(join(src, f), join(dest, f));
      }
    },
  };
}
