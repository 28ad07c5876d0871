// Vite plugin: serve the models directory (LAYERLAB_MODELS, default ../shared/models) under /models/
// in `vite` and `vite preview`, with /models/index.json listing the model folders. Model files are data:
// they are streamed from disk, never copied into public/ or the build.
import type { Plugin, Connect } from 'vite';
import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';

export function modelsDir(): string {
  return resolve(process.env.LAYERLAB_MODELS ?? join(process.cwd(), '..', 'shared', 'models'));
}

export function listModels(root: string): { id: string; files: { path: string; bytes: number }[] }[] {
  if (!existsSync(root)) return [];
  const out: { id: string; files: { path: string; bytes: number }[] }[] = [];
  const walk = (dir: string, rel: string, depth: number) => {
    const entries = readdirSync(dir, { withFileTypes: true });
    const files = entries
      .filter((e) => e.isFile())
      .map((e) => ({ path: rel ? `${rel}/${e.name}` : e.name, bytes: statSync(join(dir, e.name)).size }));
    if (files.some((f) => /\.(gguf|bin|safetensors|onnx)$/.test(f.path))) out.push({ id: rel, files });
    if (depth < 3) for (const e of entries) if (e.isDirectory()) walk(join(dir, e.name), rel ? `${rel}/${e.name}` : e.name, depth + 1);
  };
  walk(root, '', 0);
  return out;
}

function middleware(): Connect.NextHandleFunction {
  const root = modelsDir();
  return (req, res, next) => {
    const url = decodeURIComponent((req.url ?? '').split('?')[0]);
    if (!url.startsWith('/models/')) return next();
    if (url === '/models/index.json') {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ root, models: listModels(root) }));
      return;
    }
    const file = resolve(root, '.' + url.slice('/models'.length));
    if (!file.startsWith(root + sep) || !existsSync(file) || !statSync(file).isFile()) {
      res.statusCode = 404;
      res.end('not found');
      return;
    }
    const size = statSync(file).size;
    res.setHeader('Content-Length', String(size));
    res.setHeader('Content-Type', 'application/octet-stream');
    createReadStream(file).pipe(res);
  };
}

export function modelsPlugin(): Plugin {
  return {
    name: 'layerlab-models',
    configureServer(server) {
      server.middlewares.use(middleware());
    },
    configurePreviewServer(server) {
      server.middlewares.use(middleware());
    },
  };
}
