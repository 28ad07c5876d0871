// Where the built site finds its pieces: the self-hosted onnxruntime wasm folder (from a page or from the
// engine worker's script URL in assets/), the models folder (next to the page, or LAYERLAB_MODELS_URL),
// and the plain-words GPU notice. Expected URLs are written out by hand.
import { describe, expect, it } from 'vitest';
import { ortWasmPaths, siteRoot } from '../../src/onnx/wasm-paths.ts';
import { configuredModelsUrl, modelFileUrl, modelsBaseUrl } from '../../src/actions/models-url.ts';
import { gpuNotice } from '../../src/app/gpu-notice.tsx';
import type { ModelInfo } from '../../src/worker/api.ts';
import { ortWasmFiles } from '../../scripts/vite-ort-wasm-plugin.ts';

describe('site root and ort wasm paths', () => {
  it('from a page: the folder of the page, whatever the host path', () => {
    expect(siteRoot({ document: { baseURI: 'https://example.org/demo/layerlab/index.html?x=1#h' } })).toBe('https://example.org/demo/layerlab/');
    expect(ortWasmPaths({ document: { baseURI: 'https://example.org/demo/layerlab/' } })).toBe('https://example.org/demo/layerlab/ort/');
  });
  it('from the worker of a build (assets/engine.worker-*.js) and of the dev server', () => {
    expect(ortWasmPaths({ location: { href: 'https://h.io/a/b/assets/engine.worker-C9C03yvX.js' } })).toBe('https://h.io/a/b/ort/');
    expect(ortWasmPaths({ location: { href: 'http://localhost:5173/src/worker/engine.worker.ts?type=module&worker_file' } })).toBe('http://localhost:5173/ort/');
  });
  it('no document and no location is an error, not a guess', () => {
    expect(() => siteRoot({})).toThrow(/no document or location/);
  });
  it('the build copies the jsep pair the page requests by default, every variant for "all", or the ones named', () => {
    expect(ortWasmFiles('')).toEqual(['ort-wasm-simd-threaded.jsep.mjs', 'ort-wasm-simd-threaded.jsep.wasm']);
    expect(ortWasmFiles('all')).toHaveLength(8);
    expect(ortWasmFiles('plain,jsep')).toEqual(['ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm', 'ort-wasm-simd-threaded.jsep.mjs', 'ort-wasm-simd-threaded.jsep.wasm']);
    expect(() => ortWasmFiles('webgl')).toThrow(/unknown variant/);
  });
});

describe('models URL', () => {
  it('defaults to models/ next to the page', () => {
    expect(configuredModelsUrl()).toBe('models/');
    expect(modelFileUrl('stories260K/tok512.bin', 'https://x.org/demo/index.html')).toBe('https://x.org/demo/models/stories260K/tok512.bin');
  });
  it('a configured absolute URL (the hub) is used as is; segments are encoded', () => {
    const hub = 'https://huggingface.co/karpathy/tinyllamas/resolve/main';
    expect(modelsBaseUrl('https://x.org/demo/', hub)).toBe(hub);
    expect(modelFileUrl('stories260K/stories260K.bin', 'https://x.org/demo/', `${hub}/`)).toBe(`${hub}/stories260K/stories260K.bin`);
    expect(modelFileUrl('a b/c#d.gguf', 'https://x.org/', 'models/')).toBe('https://x.org/models/a%20b/c%23d.gguf');
  });
});

describe('GPU notice', () => {
  const info = (backend: ModelInfo['backend']): ModelInfo => ({ backend }) as ModelInfo;
  it('CPU fallback names the reason and the CPU backend', () => {
    const n = gpuNotice(info({ kind: 'cpu', adapter: 'CPU', software: true, weightBytes: 1, gpuUnavailable: 'No WebGPU adapter was found (x). Use the CPU backend.' }))!;
    expect(n.kind).toBe('no-webgpu');
    expect(n.body).toMatch(/^No WebGPU adapter was found \(x\)\. LayerLab computes everything with its JavaScript CPU backend/);
  });
  it('software adapter: slow numbers; hardware GPU: nothing', () => {
    expect(gpuNotice(info({ kind: 'gpu', adapter: 'Google SwiftShader', software: true, weightBytes: 1 }))!.title).toMatch(/numbers will be slow/);
    expect(gpuNotice(info({ kind: 'gpu', adapter: 'nvidia', software: false, weightBytes: 1 }))).toBeNull();
    expect(gpuNotice(null)).toBeNull();
  });
});
