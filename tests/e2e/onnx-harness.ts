// Test page for tests/e2e/onnx-chromium.test.ts and bench/onnx.bench.ts: fetches model files from the
// dev server's /models/, exports them with src/onnx/export.ts in the page, and runs the export with
// onnxruntime-web on the WebGPU or wasm execution provider. The runtime's wasm files come from
// node_modules/onnxruntime-web/dist as the Vite dev server serves it.
import { loadModelFromFiles } from '../../src/core/formats/load.ts';
import type { LoadedModel } from '../../src/core/formats/types.ts';
import { exportOnnx, type OnnxExportOptions } from '../../src/onnx/export.ts';
import { openOrtDecoder, openOrtModel, ort, type OrtEp, type OrtModel } from '../../src/onnx/ort-run.ts';

export const WASM_PATHS = '/node_modules/onnxruntime-web/dist/';

async function fetchModel(urls: string[], contextLength?: number): Promise<LoadedModel> {
  const files = await Promise.all(
    urls.map(async (u) => {
      const r = await fetch(u);
      if (!r.ok) throw new Error(`fetch ${u}: ${r.status}`);
      return { name: u.split('/').pop()!, bytes: new Uint8Array(await r.arrayBuffer()) };
    }),
  );
  return loadModelFromFiles(files, { contextLength });
}

const sessions = new Map<string, OrtModel>();

export interface HarnessRun {
  ok: boolean;
  error?: string;
  logits?: number[];
  outputs?: Record<string, number[]>;
  ms?: number;
}

async function adapterInfo(): Promise<string> {
  const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<{ info?: Record<string, string>; features: Set<string> } | null> } }).gpu;
  if (!gpu) return 'no navigator.gpu';
  const a = await gpu.requestAdapter();
  if (!a) return 'navigator.gpu present, requestAdapter() returned null';
  const i = a.info ?? {};
  return `${i.vendor ?? '?'} / ${i.architecture ?? '?'} / ${i.device ?? '?'} / ${i.description ?? '?'}; features: ${[...a.features].join(',')}`;
}

const api = {
  adapterInfo,
  /** Export the model at urls and open it on ep under `key`; returns the error text instead of throwing. */
  async open(key: string, ep: OrtEp, urls: string[], opts: OnnxExportOptions & { contextLength?: number } = {}): Promise<HarnessRun> {
    try {
      const m = await fetchModel(urls, opts.contextLength);
      const ex = exportOnnx(m, opts);
      const t0 = performance.now();
      sessions.set(key, await openOrtModel(ex.bytes, { ep, wasmPaths: WASM_PATHS }));
      return { ok: true, ms: performance.now() - t0 };
    } catch (e) {
      return { ok: false, error: `${(e as Error).name}: ${(e as Error).message}` };
    }
  },
  /**
   * One run of session `key` with onnxruntime's WebGPU profiling on: the kernels that ran on the GPU
   * (kernel type -> count). Empty when nothing ran on the WebGPU EP.
   */
  async gpuKernels(key: string, ids: number[]): Promise<{ ok: boolean; error?: string; kernels: Record<string, number> }> {
    const kernels: Record<string, number> = {};
    const s = sessions.get(key);
    if (!s) return { ok: false, error: `no session ${key}`, kernels };
    ort.env.webgpu.profiling = { mode: 'default', ondata: (d) => (kernels[d.kernelType] = (kernels[d.kernelType] ?? 0) + 1) };
    try {
      await s.run(ids, ['logits']);
      return { ok: true, kernels };
    } catch (e) {
      return { ok: false, error: `${(e as Error).name}: ${(e as Error).message}`, kernels };
    } finally {
      ort.env.webgpu.profiling = { mode: 'off' };
    }
  },
  /**
   * Greedy decoding with the KV-cache export (cache kept on the GPU with the WebGPU EP): the logits of
   * the prompt's last position and n generated ids.
   */
  async greedyKv(ep: OrtEp, urls: string[], prompt: number[], n: number): Promise<{ ok: boolean; error?: string; ids?: number[]; lastLogits?: number[]; locations?: string[] }> {
    try {
      const m = await fetchModel(urls);
      const d = await openOrtDecoder(exportOnnx(m, { kvCache: true }).bytes, m.spec, { ep, wasmPaths: WASM_PATHS });
      let last = await d.append(prompt);
      const lastLogits = Array.from(last);
      const ids: number[] = [];
      for (let i = 0; i < n; i++) {
        let b = 0;
        for (let j = 1; j < last.length; j++) if (last[j] > last[b]) b = j;
        ids.push(b);
        if (i + 1 < n) last = await d.append([b]);
      }
      const locations = d.cacheLocations();
      await d.release();
      return { ok: true, ids, lastLogits, locations };
    } catch (e) {
      return { ok: false, error: `${(e as Error).name}: ${(e as Error).message}` };
    }
  },
  async run(key: string, ids: number[], outputs?: string[]): Promise<HarnessRun> {
    const s = sessions.get(key);
    if (!s) return { ok: false, error: `no session ${key}` };
    try {
      const t0 = performance.now();
      const r = await s.run(ids, outputs);
      const ms = performance.now() - t0;
      const out: Record<string, number[]> = {};
      for (const [k, v] of Object.entries(r)) out[k] = Array.from(v.data);
      return { ok: true, logits: out.logits, outputs: out, ms };
    } catch (e) {
      return { ok: false, error: `${(e as Error).name}: ${(e as Error).message}` };
    }
  },
};

export type OnnxHarness = typeof api;
(window as unknown as { onnx: OnnxHarness; ready: boolean }).onnx = api;
(window as unknown as { ready: boolean }).ready = true;
