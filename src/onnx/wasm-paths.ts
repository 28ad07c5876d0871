// Where onnxruntime-web's WebAssembly runtime lives: self-hosted in the site's ort/ folder
// (scripts/vite-ort-wasm-plugin.ts copies it into the build and serves it in development), never a CDN.
// Use: `ort.env.wasm.wasmPaths = ortWasmPaths();` before the first InferenceSession.create.

/** Folder of the runtime files, relative to the site root (the folder holding index.html). */
export const ORT_WASM_DIR = 'ort/';

interface Where {
  document?: { baseURI?: string };
  location?: { href: string };
}

/**
 * The site root as an absolute URL ending in '/', from the page (document.baseURI) or from a worker
 * (its script lives in <root>/assets/ in a build; in the dev server it is served from the origin's root).
 */
export function siteRoot(where: Where = globalThis as Where): string {
  const base = where.document?.baseURI;
  if (base) return new URL('.', base).href;
  const href = where.location?.href;
  if (!href) throw new Error('siteRoot: no document or location (not in a browser page or worker)');
  const u = new URL(href);
  const i = u.pathname.lastIndexOf('/assets/');
  return i >= 0 ? `${u.origin}${u.pathname.slice(0, i + 1)}` : `${u.origin}/`;
}

/** Absolute URL prefix for ort.env.wasm.wasmPaths (ends in '/'). */
export function ortWasmPaths(where?: Where): string {
  return new URL(ORT_WASM_DIR, siteRoot(where)).href;
}
