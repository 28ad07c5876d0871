// Browser bundle: every shaders/*.wgsl inlined as a string at build time.
import { setShaderLoader } from './shaders.ts';

const files = import.meta.glob('../../shaders/*.wgsl', { query: '?raw', import: 'default', eager: true }) as Record<string, string>;
const byName = new Map<string, string>();
for (const [path, src] of Object.entries(files)) byName.set(path.replace(/^.*\//, '').replace(/\.wgsl$/, ''), src);
setShaderLoader((name) => {
  const src = byName.get(name);
  if (src === undefined) throw new Error(`no shader named ${name}.wgsl in the bundle`);
  return src;
});
