// The engine contract shared by the CPU reference backend (core/model/cpu-backend.ts) and the WebGPU
// backend (gpu/gpu-backend.ts). Everything above it (eval, metrics, the worker, the CLI) talks to this.

import type { ModelSpec } from './spec.ts';
import type { ForwardOptions, ForwardResult, Intervention } from './taps.ts';
import { argmaxRows, ARGMAX_NAN } from '../ops/argmax.ts';

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

/** Options of Session.step (one decoding step). */
export interface StepOptions {
  /** false: the caller needs only the greedy id (the GPU backend then reads back 4 bytes, not the logits). Default true. */
  wantLogits?: boolean;
  interventions?: Intervention[];
}

/** What Session.step returns. */
export interface StepResult {
  /** Greedy id of the last position: argmax of its logits, ties to the lowest id. */
  id: number;
  /** The last position's logits [V] (null when wantLogits was false). */
  logits: Float32Array | null;
}

/** The greedy id of a logits row (ties to the lowest id); NaN logits are refused as the Sampler refuses them. */
export function greedyId(logits: Float32Array): number {
  const id = argmaxRows(logits, 1, logits.length)[0];
  if (id === ARGMAX_NAN) throw new Error('the logits contain NaN: the forward pass diverged, nothing can be sampled');
  return id;
}

/** A decoding session: a KV cache that grows as tokens are appended. */
export interface Session {
  /** Number of positions already in the cache. */
  readonly position: number;
  /** Run `ids` at positions position..position+ids.length-1, append their K/V, return the forward result. */
  append(ids: number[], opts?: ForwardOptions): Promise<ForwardResult>;
  /**
   * Append `ids` like append() and return the greedy id of the last position, with the last logits row
   * unless opts.wantLogits is false. Optional: generation falls back to append() where a session has none.
   */
  step?(ids: number[], opts?: StepOptions): Promise<StepResult>;
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
