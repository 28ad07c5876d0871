// The page side of bench/onnx.bench.ts: one page, one adapter. LayerLab's GpuBackend runs on the device
// acquired by src/gpu/device.ts; onnxruntime-web's WebGPU EP requests its own device from the page's
// adapter (onnxruntime-web 1.30's WebGPU backend always calls adapter.requestDevice itself and ignores a
// device set in ort.env.webgpu.device, and a GPUAdapter hands out one device only, so the two engines
// share the physical adapter, not the GPUDevice). The wasm EP runs in the same page (1 thread: the page
// is not cross-origin isolated, so no SharedArrayBuffer).
import '../src/gpu/shaders-vite.ts';
import { loadModelFromFiles } from '../src/core/formats/load.ts';
import type { LoadedModel } from '../src/core/formats/types.ts';
import { generate } from '../src/core/eval/generate.ts';
import { quantize } from '../src/core/quant/quantize.ts';
import { GGMLType } from '../src/core/quant/types.ts';
import { mulberry32 } from '../src/core/tensor.ts';
import { browserGpu } from '../src/gpu/browser-gpu.ts';
import { acquireDevice, type AcquiredDevice } from '../src/gpu/device.ts';
import { GpuBackend } from '../src/gpu/gpu-backend.ts';
import { uploadWeight } from '../src/gpu/weights.ts';
import { encodeMatmulQ } from '../src/gpu/kernels/matmul-q.ts';
import { exportOnnx, MS_DOMAIN, q4_0ToNBits } from '../src/onnx/export.ts';
import { openOrtDecoder, ort, type OrtDecoder } from '../src/onnx/ort-run.ts';
import { encodeOnnxModel, float32Tensor, OnnxAttrType, OnnxDataType, tensorValueInfo } from '../src/onnx/proto.ts';

const WASM_PATHS = '/node_modules/onnxruntime-web/dist/';

let acquired: AcquiredDevice;
let model: LoadedModel;
let layerlab: GpuBackend;
/** The same engine with the other kernel family (tiled on a software adapter, simple on hardware). */
let layerlabAlt: GpuBackend;
const ortModels: Record<string, OrtDecoder> = {};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function argmaxLast(logits: Float32Array, V: number): number {
  let best = 0;
  const o = logits.length - V;
  for (let i = 1; i < V; i++) if (logits[o + i] > logits[o + best]) best = i;
  return best;
}

type Engine = 'layerlab' | 'layerlab-alt' | 'ort-webgpu' | 'ort-wasm';

const api = {
  async setup(urls: string[], contextLength?: number) {
    const files = await Promise.all(urls.map(async (u) => ({ name: u.split('/').pop()!, bytes: new Uint8Array(await (await fetch(u)).arrayBuffer()) })));
    model = loadModelFromFiles(files, { contextLength });
    acquired = await acquireDevice(browserGpu());
    layerlab = await GpuBackend.create(acquired, model);
    layerlabAlt = await GpuBackend.create(acquired, model, undefined, { kernels: layerlab.simple ? 'tiled' : 'simple' });
    // One KV-cache export for both EPs: a prefill is a call with an empty cache (P = 0).
    const bytes = exportOnnx(model, { kvCache: true }).bytes;
    ortModels['ort-webgpu'] = await openOrtDecoder(bytes, model.spec, { ep: 'webgpu', wasmPaths: WASM_PATHS });
    ortModels['ort-wasm'] = await openOrtDecoder(bytes, model.spec, { ep: 'wasm', wasmPaths: WASM_PATHS });
    const oa = (ort.env.webgpu.adapter as unknown as { info?: { vendor?: string; architecture?: string } } | undefined)?.info;
    return {
      adapter: acquired.adapter,
      software: acquired.software,
      layerlabKernels: layerlab.simple ? 'simple' : 'tiled',
      layerlabAltKernels: layerlabAlt.simple ? 'simple' : 'tiled',
      ortAdapter: oa ? `${oa.vendor ?? '?'} ${oa.architecture ?? '?'}` : 'unknown',
      model: `${model.spec.name} (${model.spec.arch}, ${model.spec.nLayers} layers, d ${model.spec.dModel}, vocab ${model.spec.vocabSize})`,
      crossOriginIsolated: (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true,
    };
  },

  promptIds(text: string, n: number): number[] {
    let t = text;
    while (model.tokenizer.encode(t).length < n) t += ' ' + text;
    return model.tokenizer.encode(t).slice(0, n);
  },

  /**
   * Median ms of a prefill of ids from an empty cache. LayerLab: forward() returns all T logits rows to
   * the CPU; onnxruntime: the graph computes all T rows and its decoder copies them to the CPU too.
   */
  async prefill(engine: Engine, ids: number[], reps: number): Promise<number> {
    const ll = engine === 'layerlab' ? layerlab : engine === 'layerlab-alt' ? layerlabAlt : null;
    const d = ortModels[engine];
    const once = ll
      ? () => ll.forward(ids)
      : async () => {
          d.reset();
          return d.append(ids);
        };
    await once(); // warm-up: pipelines, buffers
    const ms: number[] = [];
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      await once();
      ms.push(performance.now() - t0);
    }
    return median(ms);
  },

  /** One onnxruntime WebGPU run with its profiler on: kernels, summed GPU time (ms) and wall time (ms). */
  async profileOrtWebgpu(ids: number[]) {
    let kernels = 0;
    let gpuNs = 0;
    const byType: Record<string, number> = {};
    ort.env.webgpu.profiling = {
      mode: 'default',
      ondata: (d) => {
        kernels++;
        const ns = Number(d.endTime) - Number(d.startTime);
        gpuNs += ns;
        byType[d.kernelType] = (byType[d.kernelType] ?? 0) + ns / 1e6;
      },
    };
    const t0 = performance.now();
    ortModels['ort-webgpu'].reset();
    await ortModels['ort-webgpu'].append(ids);
    const wall = performance.now() - t0;
    ort.env.webgpu.profiling = { mode: 'off' };
    const top = Object.entries(byType).sort((a, b) => b[1] - a[1]).slice(0, 5).map(([k, v]) => `${k} ${v.toFixed(1)}`);
    return { kernels, gpuMs: gpuNs / 1e6, wallMs: wall, top };
  },

  /**
   * Greedy decode of n tokens after the prompt: ms per token and the ids. Both engines append one token
   * at a time to a KV cache: LayerLab's on its device; onnxruntime's present_key/value outputs stay on
   * the GPU with the WebGPU EP (gpu-buffer outputs fed back as the next pasts), in wasm memory with wasm.
   */
  async decode(engine: Engine, prompt: number[], n: number): Promise<{ msPerToken: number; ids: number[] }> {
    const ll = engine === 'layerlab' ? layerlab : engine === 'layerlab-alt' ? layerlabAlt : null;
    if (ll) {
      await generate(ll, prompt.slice(0, 4), { maxTokens: 2 });
      const g = await generate(ll, prompt, { maxTokens: n + 1 });
      return { msPerToken: g.decodeMs / n, ids: g.generatedIds.slice(0, n + 1) };
    }
    const s = ortModels[engine];
    const V = model.spec.vocabSize;
    s.reset();
    const out = [argmaxLast(await s.append(prompt), V)]; // prefill, not timed
    const t0 = performance.now();
    for (let i = 0; i < n; i++) out.push(argmaxLast(await s.append([out[out.length - 1]]), V));
    return { msPerToken: (performance.now() - t0) / n, ids: out };
  },

  /**
   * y[M, N] = x[M, K] W^T with W 4-bit (block 32): LayerLab's matmul-q kernel on Q4_0 vs a one-node
   * MatMulNBits graph on the WebGPU EP, same codes and scales. Both include uploading x and reading y
   * back. Returns median ms and the largest |difference| relative to max |y|.
   */
  async matmulQ4(M: number, N: number, K: number, reps: number) {
    const rnd = mulberry32(M * 7 + N * 13 + K);
    const wf = new Float32Array(N * K).map(() => (rnd() - 0.5) * 0.2);
    const x = new Float32Array(M * K).map(() => rnd() - 0.5);
    const q4 = quantize(GGMLType.Q4_0, wf);
    const ctx = layerlab.ctx;
    const w = uploadWeight(ctx, { name: 'bench.w', type: GGMLType.Q4_0, shape: [N, K], data: q4 });
    const xBuf = ctx.storage(M * K * 4);
    const yBuf = ctx.storage(M * N * 4);
    const llOnce = async (simple: boolean) => {
      ctx.device.queue.writeBuffer(xBuf, 0, x);
      const enc = ctx.device.createCommandEncoder();
      const pass = enc.beginComputePass();
      encodeMatmulQ(ctx, pass, { x: xBuf, w, y: yBuf, M, simple });
      pass.end();
      await ctx.submit([enc.finish()]);
      return ctx.readF32(yBuf, M * N);
    };
    const nb = q4_0ToNBits(q4, N, K);
    const graph = encodeOnnxModel({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }, { domain: MS_DOMAIN, version: 1 }],
      graph: {
        name: 'matmul_nbits',
        node: [{
          opType: 'MatMulNBits', domain: MS_DOMAIN, input: ['x', 'B', 'scales'], output: ['y'],
          attribute: [
            { name: 'K', type: OnnxAttrType.INT, i: K }, { name: 'N', type: OnnxAttrType.INT, i: N },
            { name: 'bits', type: OnnxAttrType.INT, i: 4 }, { name: 'block_size', type: OnnxAttrType.INT, i: 32 },
          ],
        }],
        initializer: [{ name: 'B', dims: [N, K / 32, 16], dataType: OnnxDataType.UINT8, rawData: nb.b }, float32Tensor('scales', [(N * K) / 32], nb.scales)],
        input: [tensorValueInfo('x', OnnxDataType.FLOAT, [M, K])],
        output: [tensorValueInfo('y', OnnxDataType.FLOAT, [M, N])],
      },
    });
    const session = await ort.InferenceSession.create(graph, { executionProviders: ['webgpu'] });
    const xt = new ort.Tensor('float32', x, [M, K]);
    const ortOnce = async () => {
      const r = await session.run({ x: xt });
      const y = r.y.data as Float32Array;
      r.y.dispose();
      return y;
    };
    const time = async (f: () => Promise<Float32Array>) => {
      const y = await f();
      const ms: number[] = [];
      for (let r = 0; r < reps; r++) {
        const t0 = performance.now();
        await f();
        ms.push(performance.now() - t0);
      }
      return { ms: median(ms), y };
    };
    const a = await time(() => llOnce(layerlab.simple));
    const alt = await time(() => llOnce(!layerlab.simple));
    const b = await time(ortOnce);
    let maxY = 0;
    let maxD = 0;
    for (let i = 0; i < a.y.length; i++) {
      maxY = Math.max(maxY, Math.abs(b.y[i]));
      maxD = Math.max(maxD, Math.abs(a.y[i] - b.y[i]), Math.abs(alt.y[i] - b.y[i]));
    }
    await session.release();
    xBuf.destroy();
    yBuf.destroy();
    return { layerlabMs: a.ms, layerlabAltMs: alt.ms, ortMs: b.ms, relDiff: maxD / maxY };
  },
};

export type OnnxBenchPage = typeof api;
(window as unknown as { bench: OnnxBenchPage; ready: boolean }).bench = api;
(window as unknown as { ready: boolean }).ready = true;
