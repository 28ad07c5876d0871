// Vite plugin: self-host onnxruntime-web's WebAssembly runtime. `vite build` copies the
// ort-wasm-simd-threaded*.{mjs,wasm} files of node_modules/onnxruntime-web/dist into <outDir>/ort/, and
// `vite` / `vite preview` serve them under any path ending in /ort/<file> (the page's ort/ and the dev
// worker's src/ort/ alike), so the site never fetches the runtime from a CDN. src/onnx/wasm-paths.ts
// gives the URL of that folder to ort.env.wasm.wasmPaths.
//
// Variants (LAYERLAB_ORT_WASM, comma-separated; default all four): "plain" (ort-wasm-simd-threaded: the
// `onnxruntime-web/wasm` build), "jsep" (the default `onnxruntime-web` import, WebGPU through JSEP),
// "asyncify" (`onnxruntime-web/webgpu`), "jspi" (`onnxruntime-web/jspi`).
import type { Plugin, Connect } from 'vite';
import { copyFileSync, createReadStream, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ORT_DIR_NAME = 'ort';
const VARIANTS: Record<string, string> = { plain: '', jsep: '.jsep', asyncify: '.asyncify', jspi: '.jspi' };

export function ortDistDir(root = process.cwd()): string {
  return resolve(root, 'node_modules', 'onnxruntime-web', 'dist');
}

/** The runtime files to self-host (names only), from LAYERLAB_ORT_WASM or all four variants. */
export function ortWasmFiles(env = process.env.LAYERLAB_ORT_WASM): string[] {
  const names = (env ?? Object.keys(VARIANTS).join(',')).split(',').map((s) => s.trim()).filter(Boolean);
  const out: string[] = [];
  for (const n of names) {
    if (!(n in VARIANTS)) throw new Error(`LAYERLAB_ORT_WASM: unknown variant "${n}" (plain, jsep, asyncify, jspi)`);
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
