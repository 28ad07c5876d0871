// Engine: one loaded model on one backend, behind the EngineApi contract. The browser worker exposes it
// with comlink (engine.worker.ts); the CLI uses it directly in Node. It owns the device and the weights.

import type { Backend } from '../core/model/backend.ts';
import { CpuBackend } from '../core/model/cpu-backend.ts';
import type { LoadedModel } from '../core/formats/types.ts';
import { loadModelFromFiles, estimateResidentBytes } from '../core/formats/load.ts';
import { typeName } from '../core/quant/types.ts';
import { numel } from '../core/tensor.ts';
import { nllOfIds, chunkedPerplexity, type CancelToken } from '../core/eval/perplexity.ts';
import { generate } from '../core/eval/generate.ts';
import { acquireDevice, NoAdapterError, type AcquiredDevice } from '../gpu/device.ts';
import { GpuBackend } from '../gpu/gpu-backend.ts';
import { gpuGradProviders, gpuGradSupported } from '../gpu/grad-backend.ts';
import { fetchBytes } from './fetch-bytes.ts';
import { analyze } from '../core/analysis/analyze.ts';
import { DeviceTapCapture, GpuAnalysisScanner } from '../gpu/analysis-scans.ts';
import * as alloc from './engine-allocation.ts';
import type {
  AdapterLimits, AnalysisResult, AnalyzeRequest, EngineApi, ForwardRequest, ForwardResponse, GenerateRequest, GenerateResponse, LoadOptions, ModelInfo,
  ModelSource, OnnxExportRequest, OnnxExportResponse, ProgressFn, TokenizeResult,
} from './api.ts';

export class Engine implements EngineApi {
  private model: LoadedModel | null = null;
  private backend: Backend | null = null;
  private cancelToken: CancelToken = { cancelled: false };
  /** The files of the loaded model (the GGUF source of a GGUF export). */
  private files: { name: string; bytes: Uint8Array }[] = [];
  /** Why backend 'auto' fell back to the CPU (no navigator.gpu, no adapter); shown by the page. */
  private gpuUnavailable: string | undefined;
  /** Builds a backend of the same kind for a modified model (quantization sensitivity in analyze). */
  private makeBackend: (m: LoadedModel) => Promise<Backend> = async (m) => new CpuBackend(m);

  constructor(private gpuProvider: () => Promise<GPU | null | undefined>) {}

  private need(): { model: LoadedModel; backend: Backend } {
    if (!this.model || !this.backend) throw new Error('no model is loaded: load one first');
    return { model: this.model, backend: this.backend };
  }

  private job(): CancelToken {
    this.cancelToken = { cancelled: false };
    return this.cancelToken;
  }

  /** The GPU device, acquired once and reused across loads (a lost device is acquired again). */
  private acquired: Promise<AcquiredDevice> | null = null;
  private device(): Promise<AcquiredDevice> {
    if (!this.acquired) {
      this.acquired = (async () => acquireDevice(await this.gpuProvider(), () => (this.acquired = null)))();
      this.acquired.catch(() => (this.acquired = null));
    }
    return this.acquired;
  }

  async load(source: ModelSource, opts: LoadOptions = {}, progress?: ProgressFn): Promise<ModelInfo> {
    const files =
      source.kind === 'files'
        ? source.files
        : await Promise.all(
            source.urls.map(async (url) => ({
              name: decodeURIComponent(url.split('?')[0].split('/').pop() ?? url),
              bytes: await fetchBytes(url, (done, total) => progress?.({ done, total, what: `download ${url}` })),
            })),
          );
    if (files.some((f) => /\.onnx$/i.test(f.name))) {
      // ONNX: graph analysis + onnxruntime-web (src/onnx/session.ts), loaded only when needed.
      const { openOnnx } = await import('../onnx/session.ts');
      // onnxruntime's WebGPU provider in a browser unless the CPU was asked for; wasm in Node.
      const browser = typeof (globalThis as { document?: unknown }).document !== 'undefined' || typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== 'undefined';
      const r = await openOnnx(files, { contextLength: opts.contextLength, executionProviders: browser && (opts.backend ?? 'auto') !== 'cpu' ? ['webgpu', 'wasm'] : ['wasm'] });
      this.backend?.dispose();
      this.model = r.model;
      this.backend = r.backend;
      this.makeBackend = r.makeBackend;
      this.gpuUnavailable = undefined;
      this.files = files;
      return this.info();
    }
    const model = loadModelFromFiles(files, { contextLength: opts.contextLength });
    const choice = opts.backend ?? 'auto';
    let backend: Backend;
    let makeBackend = async (m: LoadedModel): Promise<Backend> => new CpuBackend(m);
    let gpuUnavailable: string | undefined;
    if (choice === 'cpu') {
      backend = new CpuBackend(model);
    } else {
      try {
        const acquired = await this.device();
        const gpu = await GpuBackend.create(acquired, model, (done, total) => progress?.({ done, total, what: 'upload weights' }));
        backend = gpu;
        // Modified models share the loaded model's GPU buffers for every unchanged tensor (derive).
        makeBackend = (m) => gpu.derive(m);
      } catch (e) {
        if (choice === 'gpu' || !(e instanceof NoAdapterError)) throw e;
        backend = new CpuBackend(model);
        gpuUnavailable = e.message;
      }
    }
    this.backend?.dispose();
    this.model = model;
    this.backend = backend;
    this.makeBackend = makeBackend;
    this.gpuUnavailable = gpuUnavailable;
    this.files = files;
    return this.info();
  }

  async info(): Promise<ModelInfo> {
    const { model, backend } = this.need();
    const tensorTypes: Record<string, number> = {};
    const tensors = [...model.tensors.values()].map((t) => {
      const type = typeName(t.type);
      tensorTypes[type] = (tensorTypes[type] ?? 0) + 1;
      return { name: t.name, type, shape: t.shape, bytes: t.data.byteLength };
    });
    const tk = model.tokenizer;
    return {
      spec: model.spec,
      format: model.format,
      meta: model.meta,
      parameters: [...model.tensors.values()].reduce((a, t) => a + numel(t.shape), 0),
      weightBytes: estimateResidentBytes(model),
      tensorTypes,
      tensors,
      backend: this.gpuUnavailable ? { ...backend.info(), gpuUnavailable: this.gpuUnavailable } : backend.info(),
      tokenizer: { kind: tk.kind, vocabSize: tk.vocabSize, bosId: tk.bosId, eosId: tk.eosId, addBos: tk.addBosDefault },
      ...(model.format === 'onnx' ? { features: (await import('../onnx/import.ts')).ONNX_FEATURES } : {}),
    };
  }

  private encode(text: string, addBos?: boolean): number[] {
    return this.need().model.tokenizer.encode(text, { addBos });
  }

  async tokenize(text: string, addBos?: boolean): Promise<TokenizeResult> {
    const { model } = this.need();
    const ids = this.encode(text, addBos);
    return { ids, pieces: ids.map((i) => model.tokenizer.piece(i)) };
  }

  async forward(req: ForwardRequest): Promise<ForwardResponse> {
    const { model, backend } = this.need();
    const ids = req.ids ?? this.encode(req.text ?? '', req.addBos);
    if (ids.length === 0) throw new Error('nothing to run: the text is empty (and no BOS was added)');
    if (ids.length > model.spec.contextLength) {
      throw new Error(`${ids.length} tokens exceed the model's context length ${model.spec.contextLength}: shorten the text`);
    }
    const r = await backend.forward(ids, req);
    return { ids, T: r.T, vocabSize: model.spec.vocabSize, logits: r.logits, taps: r.taps };
  }

  async generate(req: GenerateRequest, progress?: ProgressFn, onToken?: (id: number, piece: string) => void): Promise<GenerateResponse> {
    const { model, backend } = this.need();
    const cancel = this.job();
    const promptIds = this.encode(req.prompt, req.addBos);
    const r = await generate(backend, promptIds, {
      ...req,
      eosId: model.tokenizer.eosId,
      cancel,
      progress: (done, total, what) => progress?.({ done, total, what }),
      onToken: (id) => onToken?.(id, model.tokenizer.piece(id)),
    });
    return {
      promptIds,
      generatedIds: r.generatedIds,
      text: model.tokenizer.decode(r.generatedIds),
      pieces: r.generatedIds.map((i) => model.tokenizer.piece(i)),
      prefillTokensPerSecond: promptIds.length / (r.prefillMs / 1000),
      decodeTokensPerSecond: r.generatedIds.length > 1 ? (r.generatedIds.length - 1) / (r.decodeMs / 1000) : NaN,
    };
  }

  async nll(req: { text?: string; ids?: number[]; addBos?: boolean; ctx?: number }, progress?: ProgressFn) {
    const { backend } = this.need();
    const ids = req.ids ?? this.encode(req.text ?? '', req.addBos);
    return nllOfIds(backend, ids, { ctx: req.ctx, cancel: this.job(), progress: (done, total, what) => progress?.({ done, total, what }) });
  }

  async perplexity(req: { text: string; ctx: number }, progress?: ProgressFn) {
    const { model, backend } = this.need();
    const ids = this.encode(req.text);
    return chunkedPerplexity(backend, ids, {
      ctx: req.ctx,
      bosId: model.tokenizer.bosId,
      addBos: model.tokenizer.addBosDefault,
      cancel: this.job(),
      progress: (done, total, what) => progress?.({ done, total, what }),
    });
  }

  async analyze(req: AnalyzeRequest, progress?: ProgressFn): Promise<AnalysisResult> {
    const { model, backend } = this.need();
    // ONNX models: the activation and weight metrics only ('all' = those); others are refused by name.
    if (model.format === 'onnx') req = { ...req, metrics: (await import('../onnx/import.ts')).checkOnnxMetrics(req.metrics, model) };
    // Gradients on the GPU when the model runs there and its graph (Llama or GPT-2) is supported: residual
    // gradients for taylor / zo, per-tensor squared weight gradients for fisher (built lazily, once per
    // analysis, freed after it).
    // gpuGradProviders return null (-> the CPU gradient, with a logged reason) when the gradient's buffers
    // would exceed the device's buffer limits.
    const gpu = backend instanceof GpuBackend && gpuGradSupported(model.spec) ? backend : null;
    const grad = gpu ? gpuGradProviders(gpu.ctx, model) : null;
    // The taps / weight scans of cos, lim, contrib, cka, zd and weights run on the model's GPU device.
    // On the GPU the forwards' block taps also stay on the device for the scanner (no re-upload).
    const capture = backend instanceof GpuBackend ? new DeviceTapCapture(backend) : undefined;
    const scanner = backend instanceof GpuBackend ? new GpuAnalysisScanner(backend.ctx, { simple: backend.simple, deviceTaps: capture }) : undefined;
    try {
      return await analyze(capture ? capture.backend() : backend, model, {
        ...req,
        makeBackend: this.makeBackend,
        cancel: this.job(),
        progress: (done, total, what) => progress?.({ done, total, what }),
        activationScanner: scanner,
        weightScanner: scanner,
        residGrad: grad?.residGrad,
        weightGradSq: grad?.weightGradSq,
      });
    } finally {
      grad?.dispose();
      capture?.release();
    }
  }

  async adapterLimits(): Promise<AdapterLimits> {
    try {
      const a = await this.device();
      return { available: true, adapter: a.adapter, software: a.software, limits: { ...a.limits } };
    } catch (e) {
      return { available: false, reason: e instanceof Error ? e.message : String(e) };
    }
  }

  async cancel(): Promise<void> {
    this.cancelToken.cancelled = true;
  }

  async unload(): Promise<void> {
    this.backend?.dispose();
    this.backend = null;
    this.model = null;
    this.files = [];
  }

  // ---- allocations (src/worker/engine-allocation.ts; the CLI runs the same functions) ----

  /** The loaded model, its backend, a backend factory, analysis, progress and cancel for the allocation verbs. */
  allocationHost(progress?: ProgressFn): alloc.AllocationHost {
    const { model, backend } = this.need();
    this.job();
    return {
      model,
      backend,
      backendFor: (m) => this.makeBackend(m),
      // analyze() starts its own job; cancelled() below reads whichever token is current.
      analyze: (r) => this.analyze(r, progress),
      sourceFiles: this.files,
      progress,
      cancelled: () => this.cancelToken.cancelled,
    };
  }

  async allocate(req: alloc.AllocateRequest, progress?: ProgressFn): Promise<alloc.AllocateResult> {
    return alloc.allocate(this.allocationHost(progress), req);
  }

  async compare(req: alloc.CompareRequest, progress?: ProgressFn): Promise<alloc.CompareResult> {
    return alloc.compare(this.allocationHost(progress), req);
  }

  async sweep(req: alloc.SweepRequest, progress?: ProgressFn): Promise<alloc.SweepResult> {
    return alloc.sweep(this.allocationHost(progress), req);
  }

  async exportAllocation(req: alloc.ExportRequest, progress?: ProgressFn): Promise<alloc.ExportResult> {
    return alloc.exportAllocation(this.allocationHost(progress), req);
  }

  /** The loaded model as ONNX (src/worker/engine-onnx.ts; loaded only when asked for). */
  async exportOnnx(req: OnnxExportRequest = {}): Promise<OnnxExportResponse> {
    const { model } = this.need();
    return (await import('./engine-onnx.ts')).exportOnnxOf(model, req);
  }

  /** A backend of the loaded model's kind (CPU or the same GPU device) for a modified model (allocations). */
  async backendFor(m: LoadedModel): Promise<Backend> {
    this.need();
    return this.makeBackend(m);
  }

  /** Direct access for in-process callers (CLI, benchmarks). */
  get current(): { model: LoadedModel; backend: Backend } {
    return this.need();
  }
}
