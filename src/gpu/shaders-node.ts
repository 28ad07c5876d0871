// Node hosts (CLI, tests, benchmarks): read WGSL from <package root>/shaders.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setShaderLoader } from './shaders.ts';

const dir = fileURLToPath(new URL('../../shaders/', import.meta.url));
setShaderLoader((name) => readFileSync(`${dir}${name}.wgsl`, 'utf8'));
