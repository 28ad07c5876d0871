// The typed contract of the engine worker (DESIGN.md convention 8): plain data or transferables only.
// The browser calls it through comlink (client.ts); the CLI calls the same Engine class directly.

import type { ModelSpec } from '../core/model/spec.ts';
import type { ForwardOptions } from '../core/model/taps.ts';
import type { NllResult, PerplexityResult } from '../core/eval/perplexity.ts';
import type { SamplingOptions } from '../core/eval/sampling.ts';
import type { AnalyzeRequest, AnalysisResult } from '../core/analysis/types.ts';

import type {
  AllocateRequest, AllocateResult, CompareRequest, CompareResult, ExportRequest, ExportResult, SweepRequest, SweepResult,
} from './engine-allocation.ts';
import type { OnnxExportRequest, OnnxExportResponse } from './engine-onnx.ts';

export type { OnnxExportRequest, OnnxExportResponse } from './engine-onnx.ts';
export type { AnalyzeRequest, AnalysisResult } from '../core/analysis/types.ts';
export type {
  AllocateRequest, AllocateResult, CompareRequest, CompareResult, ExportRequest, ExportResult, SweepRequest, SweepResult,
} from './engine-allocation.ts';

export type BackendChoice = 'gpu' | 'cpu' | 'auto';

/** Where the model's bytes come from. */
export type ModelSource =
  /** Files already in memory (drag and drop, file picker, Node reads). */
  | { kind: 'files'; files: { name: string; bytes: Uint8Array }[] }
  /** URLs the worker fetches (the bundled models under /models/, or hub URLs). */
  | { kind: 'urls'; urls: string[] };

export interface LoadOptions {
  backend?: BackendChoice;
  /** Override the context length (e.g. 512 for stories260K's GGUF, which stores 128). */
  contextLength?: number;
}

export interface TensorSummary {
  name: string;
  type: string;
  shape: number[];
  bytes: number;
}

export interface ModelInfo {
  spec: ModelSpec;
  format: string;
  meta: Record<string, string | number | boolean>;
  parameters: number;
  weightBytes: number;
  tensorTypes: Record<string, number>;
  tensors: TensorSummary[];
  backend: {
    kind: 'cpu' | 'gpu';
    adapter: string;
    software: boolean;
    weightBytes: number;
    /** The device's buffer limits (GPU backend): one tensor must fit one storage binding. */
    limits?: { maxStorageBufferBindingSize: number; maxBufferSize: number };
    /** Set when backend 'auto' found no WebGPU adapter and fell back to the CPU: the reason. */
    gpuUnavailable?: string;
  };
  tokenizer: { kind: string; vocabSize: number; bosId: number | null; eosId: number | null; addBos: boolean };
  /** ONNX models (format 'onnx', run by onnxruntime-web): what they get and what needs a GGUF or safetensors file. */
  features?: { supported: string[]; needsNativeFile: string[] };
}

export interface TokenizeResult {
  ids: number[];
  pieces: string[];
}

export interface ForwardRequest extends ForwardOptions {
  /** Token ids, or a text tokenized with the model's tokenizer. */
  ids?: number[];
  text?: string;
  addBos?: boolean;
}

export interface ForwardResponse {
  ids: number[];
  T: number;
  vocabSize: number;
  logits: Float32Array;
  taps: Record<string, Float32Array>;
}

export interface GenerateRequest extends SamplingOptions {
  prompt: string;
  maxTokens: number;
  addBos?: boolean;
  stopAtEos?: boolean;
}

export interface GenerateResponse {
  promptIds: number[];
  generatedIds: number[];
  text: string;
  pieces: string[];
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
}

export interface ProgressEvent {
  done: number;
  total: number;
  what: string;
}

export type ProgressFn = (p: ProgressEvent) => void;

/** What engine.adapterLimits() reports: the device's limits, or why there is no WebGPU device. */
export type AdapterLimits =
  | { available: true; adapter: string; software: boolean; limits: { maxStorageBufferBindingSize: number; maxBufferSize: number } }
  | { available: false; reason: string };

export interface EngineApi {
  load(source: ModelSource, opts?: LoadOptions, progress?: ProgressFn): Promise<ModelInfo>;
  info(): Promise<ModelInfo>;
  tokenize(text: string, addBos?: boolean): Promise<TokenizeResult>;
  forward(req: ForwardRequest): Promise<ForwardResponse>;
  generate(req: GenerateRequest, progress?: ProgressFn, onToken?: (id: number, piece: string) => void): Promise<GenerateResponse>;
  nll(req: { text?: string; ids?: number[]; addBos?: boolean; ctx?: number }, progress?: ProgressFn): Promise<NllResult>;
  perplexity(req: { text: string; ctx: number }, progress?: ProgressFn): Promise<PerplexityResult>;
  /** Layer-importance analysis (src/core/analysis/analyze.ts): the requested metrics per block, sublayer and token, rank agreement, timings. */
  analyze(req: AnalyzeRequest, progress?: ProgressFn): Promise<AnalysisResult>;
  /** `layerlab allocate`: a strategy (uniform | ranked | reverse | random | solve) -> Allocation JSON; reuses req.analysis when it holds the metric. */
  allocate(req: AllocateRequest, progress?: ProgressFn): Promise<AllocateResult>;
  /** `layerlab compare`: apply an allocation, modified vs original on a text (NLL, ppl, KL, top-1, per-token KL, size, speed; optional chunked ppl and side-by-side generation). */
  compare(req: CompareRequest, progress?: ProgressFn): Promise<CompareResult>;
  /** `layerlab sweep`: format or drop sweeps in metric / reverse / random order. */
  sweep(req: SweepRequest, progress?: ProgressFn): Promise<SweepResult>;
  /** `layerlab export`: json | llama-quantize | peft | csv | gguf (bytes). */
  exportAllocation(req: ExportRequest, progress?: ProgressFn): Promise<ExportResult>;
  /** `layerlab export-onnx` from the page: the loaded model as an .onnx file (bytes transferred); refused for ONNX or too-big models. */
  exportOnnx(req?: OnnxExportRequest): Promise<OnnxExportResponse>;
  /** The WebGPU adapter's buffer limits (acquires the device once, as load does), for the fit-before-loading estimate. */
  adapterLimits(): Promise<AdapterLimits>;
  /** Cooperative cancellation of the running job (checked between chunks/steps/layers). */
  cancel(): Promise<void>;
  unload(): Promise<void>;
}
