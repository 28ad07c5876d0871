// Node hosts (CLI, tests, benchmarks): read WGSL from <package root>/shaders.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setShaderLoader } from './shaders.ts';

// LAYERLAB_SHADERS overrides the folder (a bundled copy of the CLI or a benchmark run elsewhere).
const dir = process.env.LAYERLAB_SHADERS ? `${process.env.LAYERLAB_SHADERS.replace(/\/$/, '')}/` : fileURLToPath(new URL('../../shaders/', import.meta.url));
setShaderLoader((name) => readFileSync(`${dir}${name}.wgsl`, 'utf8'));
