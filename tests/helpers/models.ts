// Where tests find model files and references: LAYERLAB_MODELS (default ../shared/models relative to
// the repository root) and ../shared/refs. A missing model is a test failure, not a skip.
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const modelsDir = resolve(process.env.LAYERLAB_MODELS ?? resolve(repoRoot, '..', 'shared', 'models'));
export const refsDir = resolve(process.env.LAYERLAB_REFS ?? resolve(repoRoot, '..', 'shared', 'refs'));

export function modelPath(rel: string): string {
  const p = resolve(modelsDir, rel);
  if (!existsSync(p)) throw new Error(`test model missing: ${p} (set LAYERLAB_MODELS to the models directory)`);
  return p;
}

export function readModelBytes(rel: string): Uint8Array {
  const b = readFileSync(modelPath(rel));
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export function readRef<T = unknown>(rel: string): T {
  return JSON.parse(readFileSync(resolve(refsDir, rel), 'utf8')) as T;
}
