// WGSL sources by file name (without .wgsl), from the top-level shaders/ folder. The host installs a
// loader once: the browser bundle uses Vite's import.meta.glob (shaders-vite.ts); Node (CLI, tests)
// reads the files from disk (shaders-node.ts). Kernels only call shaderSource(), which also pastes in
// the shared pieces a shader names with `//!include NAME` (e.g. the workgroup reductions, wg-reduce.wgsl).

type Loader = (name: string) => string;
let loader: Loader | null = null;
const cache = new Map<string, string>();

export function setShaderLoader(fn: Loader): void {
  loader = fn;
  cache.clear();
}

/** A line `//!include NAME` (alone on its line) is replaced by shaders/NAME.wgsl, once per shader. */
const INCLUDE = /^\/\/!include ([\w-]+)[ \t]*$/gm;

function expand(name: string, src: string, seen: Set<string>): string {
  return src.replace(INCLUDE, (_line, inc: string) => {
    if (seen.has(inc)) throw new Error(`shader ${name}.wgsl: ${inc}.wgsl is included twice (or includes itself)`);
    seen.add(inc);
    return expand(inc, loader!(inc), seen);
  });
}

export function shaderSource(name: string): string {
  let src = cache.get(name);
  if (src === undefined) {
    if (!loader) throw new Error('shader loader not installed: import src/gpu/shaders-node.ts or shaders-vite.ts first');
    src = expand(name, loader(name), new Set([name]));
    cache.set(name, src);
  }
  return src;
}
