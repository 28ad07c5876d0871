// WGSL sources by file name (without .wgsl), from the top-level shaders/ folder. The host installs a
// loader once: the browser bundle uses Vite's import.meta.glob (shaders-vite.ts); Node (CLI, tests)
// reads the files from disk (shaders-node.ts). Kernels only call shaderSource().

type Loader = (name: string) => string;
let loader: Loader | null = null;
const cache = new Map<string, string>();

export function setShaderLoader(fn: Loader): void {
  loader = fn;
  cache.clear();
}

export function shaderSource(name: string): string {
  let src = cache.get(name);
  if (src === undefined) {
    if (!loader) throw new Error('shader loader not installed: import src/gpu/shaders-node.ts or shaders-vite.ts first');
    src = loader(name);
    cache.set(name, src);
  }
  return src;
}
