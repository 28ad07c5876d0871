// The engine contract shared by the CPU reference backend (core/model/cpu-backend.ts) and the WebGPU
// backend (gpu/gpu-backend.ts). Everything above it (eval, metrics, the worker, the CLI) talks to this.

import type { ModelSpec } from './spec.ts';
import type { ForwardOptions, ForwardResult } from './taps.ts';

export interface BackendInfo {
  kind: 'cpu' | 'gpu';
  /** Adapter description ("SwiftShader (software)", vendor/architecture) or "CPU (JavaScript)". */
  adapter: string;
  /** True for software adapters: the UI warns that numbers will be slow. */
  software: boolean;
  /** Bytes resident for weights (GPU buffers or CPU arrays). */
  weightBytes: number;
  /** Device buffer limits (GPU backend). */
  limits?: { maxStorageBufferBindingSize: number; maxBufferSize: number };
}

/** A decoding session: a KV cache that grows as tokens are appended. */
export interface Session {
  /** Number of positions already in the cache. */
  readonly position: number;
  /** Run `ids` at positions position..position+ids.length-1, append their K/V, return the forward result. */
  append(ids: number[], opts?: ForwardOptions): Promise<ForwardResult>;
  /** Drop the cache (position back to 0). */
  reset(): void;
  dispose(): void;
}

export interface Backend {
  readonly spec: ModelSpec;
  info(): BackendInfo;
  /** Prefill `ids` from position 0 in a fresh context. */
  forward(ids: number[], opts?: ForwardOptions): Promise<ForwardResult>;
  /** A session with room for `maxTokens` positions (default: the model's context length). */
  session(maxTokens?: number): Session;
  /** Peak bytes of device buffers (GPU) or typed arrays (CPU) seen so far. */
  peakBytes(): number;
  dispose(): void;
}
