// Running an ONNX causal LM with onnxruntime-web (wasm in Node or a page; WebGPU in a page that has
// navigator.gpu): one session from bytes, one full-sequence run on token ids (input_ids int64 [1, T]),
// the requested float outputs back as Float32Arrays. Used to cross-check LayerLab's exports
// (src/onnx/export.ts) against the native engine. Bytes are checked with decodeOnnxModel first, and
// onnxruntime's own errors are wrapped with a hint, so a malformed file fails with a clear message.
import * as ort from 'onnxruntime-web';
import { decodeOnnxModel, OnnxFormatError } from './proto.ts';
import { ortWasmPaths } from './wasm-paths.ts';

export type OrtEp = 'wasm' | 'webgpu';

export interface OrtRunOptions {
  /** Execution provider (default 'wasm'). */
  ep?: OrtEp;
  /** Where the page finds ort-wasm-*.wasm/.mjs (ort.env.wasm.wasmPaths); default in a browser: the site's ort/ folder (wasm-paths.ts); unset in Node. */
  wasmPaths?: string;
  /** wasm threads (default 1: no SharedArrayBuffer needed). */
  numThreads?: number;
}

/** onnxruntime could not create or run the session; `hint` says what to try. */
export class OrtRunError extends Error {
  readonly hint: string;
  constructor(message: string, hint: string, options?: { cause?: unknown }) {
    super(`${message} (hint: ${hint})`, options);
    this.name = 'OrtRunError';
    this.hint = hint;
  }
}

export interface OrtOutput {
  data: Float32Array;
  dims: number[];
}

export interface OrtModel {
  session: ort.InferenceSession;
  inputNames: readonly string[];
  outputNames: readonly string[];
  /** Run ids through the graph; returns every requested output (default: all float outputs). */
  run(ids: readonly number[], outputs?: readonly string[]): Promise<Record<string, OrtOutput>>;
  release(): Promise<void>;
}

/** Threads and, in a browser, the self-hosted runtime folder (never onnxruntime's CDN default). */
function setOrtEnv(opts: OrtRunOptions): void {
  ort.env.wasm.numThreads = opts.numThreads ?? 1;
  if (opts.wasmPaths) ort.env.wasm.wasmPaths = opts.wasmPaths;
  else if (!(globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node && !ort.env.wasm.wasmPaths) {
    try {
      ort.env.wasm.wasmPaths = ortWasmPaths();
    } catch {
      // no document or location: leave onnxruntime's default
    }
  }
}

/** The onnxruntime-web module itself (for callers in src/onnx that need tensors or env). */
export { ort };

/**
 * Create a session from ONNX bytes. Throws OnnxFormatError for bytes that are not an ONNX model and
 * OrtRunError (with a hint) when onnxruntime rejects the graph (unknown op, bad shapes, missing EP).
 */
export async function openOrtModel(bytes: Uint8Array, opts: OrtRunOptions = {}): Promise<OrtModel> {
  decodeOnnxModel(bytes); // clear error for truncated or foreign files before onnxruntime sees them
  const ep = opts.ep ?? 'wasm';
  setOrtEnv(opts);
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, { executionProviders: [ep], graphOptimizationLevel: 'all' });
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const hint =
      ep === 'webgpu'
        ? 'the WebGPU execution provider needs a page with navigator.gpu and an adapter; try ep "wasm"'
        : /MatMulNBits|com\.microsoft/.test(msg)
          ? 'the graph uses onnxruntime contrib ops (com.microsoft); export it without 4-bit weights for other runtimes'
          : 'the graph is not valid for onnxruntime (unsupported op or opset, inconsistent shapes, or external data that was not supplied)';
    throw new OrtRunError(`onnxruntime could not load the model (${ep}): ${msg}`, hint, { cause: e });
  }
  return {
    session,
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    async run(ids, outputs) {
      const T = ids.length;
      const input = new ort.Tensor('int64', BigInt64Array.from(ids.map((i) => BigInt(i))), [1, T]);
      const names = outputs ?? session.outputNames;
      let r: ort.InferenceSession.OnnxValueMapType;
      try {
        r = await session.run({ [session.inputNames[0]]: input }, names as string[]);
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        throw new OrtRunError(`onnxruntime failed to run the model on ${T} tokens: ${msg}`, 'check that the token ids are inside the vocabulary and the sequence fits the model context', { cause: e });
      }
      const out: Record<string, OrtOutput> = {};
      for (const n of names) {
        const t = r[n];
        if (!t) throw new OrtRunError(`onnxruntime returned no output ${n}`, `the graph's outputs are ${session.outputNames.join(', ')}`);
        if (t.type !== 'float32') throw new OrtRunError(`output ${n} is ${t.type}, not float32`, 'only float32 outputs are read');
        const data = (t.location === 'cpu' ? t.data : await t.getData()) as Float32Array;
        out[n] = { data: Float32Array.from(data), dims: [...t.dims] };
        t.dispose();
      }
      return out;
    },
    async release() {
      await session.release();
    },
  };
}

export { OnnxFormatError };

export interface OrtDecoder {
  /** Positions in the cache. */
  readonly position: number;
  /** Run ids at positions position.. and return the logits of the last one [V] (a prefill or one step). */
  append(ids: readonly number[]): Promise<Float32Array>;
  /** Drop the cache (the next append starts at position 0). */
  reset(): void;
  /** Where the cache tensors live now ('cpu' or 'gpu-buffer'), one entry per past tensor. */
  cacheLocations(): string[];
  release(): Promise<void>;
}

/**
 * A token-by-token decoder over an export made with kvCache (past_key.<l> / past_value.<l> inputs,
 * present_key.<l> / present_value.<l> outputs, [Hkv, P, D]). With the WebGPU EP the presents stay on
 * the GPU (preferredOutputLocation 'gpu-buffer') and are fed back as the next call's pasts; only the
 * logits come back to the CPU.
 */
export async function openOrtDecoder(bytes: Uint8Array, shape: { nLayers: number; nKvHeads: number; headDim: number }, opts: OrtRunOptions = {}): Promise<OrtDecoder> {
  decodeOnnxModel(bytes);
  const ep = opts.ep ?? 'wasm';
  setOrtEnv(opts);
  const presentNames: string[] = [];
  for (let l = 0; l < shape.nLayers; l++) presentNames.push(`present_key.${l}`, `present_value.${l}`);
  const location: Record<string, 'cpu' | 'gpu-buffer'> = { logits: 'cpu' };
  for (const n of presentNames) location[n] = ep === 'webgpu' ? 'gpu-buffer' : 'cpu';
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, { executionProviders: [ep], graphOptimizationLevel: 'all', preferredOutputLocation: location });
  } catch (e) {
    throw new OrtRunError(`onnxruntime could not load the model (${ep}): ${e instanceof Error ? e.message : String(e)}`, 'export the model with kvCache for a decoder', { cause: e });
  }
  if (!session.inputNames.includes('past_key.0')) throw new OrtRunError('the graph has no past_key.0 input', 'export the model with kvCache (or use openOrtModel for full-sequence runs)');
  const { nKvHeads: Hkv, headDim: D } = shape;
  const empty = () => {
    const f: Record<string, ort.Tensor> = {};
    for (let l = 0; l < shape.nLayers; l++) {
      f[`past_key.${l}`] = new ort.Tensor('float32', new Float32Array(0), [Hkv, 0, D]);
      f[`past_value.${l}`] = new ort.Tensor('float32', new Float32Array(0), [Hkv, 0, D]);
    }
    return f;
  };
  let past = empty();
  let position = 0;
  const drop = (f: Record<string, ort.Tensor>) => {
    for (const t of Object.values(f)) if (t.location === 'gpu-buffer') t.dispose();
  };
  return {
    get position() {
      return position;
    },
    async append(ids) {
      const T = ids.length;
      const input = new ort.Tensor('int64', BigInt64Array.from(ids.map((i) => BigInt(i))), [1, T]);
      let r: ort.InferenceSession.OnnxValueMapType;
      try {
        r = await session.run({ input_ids: input, ...past });
      } catch (e) {
        throw new OrtRunError(`onnxruntime failed at position ${position} (${T} tokens): ${e instanceof Error ? e.message : String(e)}`, 'check the token ids and that the cache fits the model context', { cause: e });
      }
      drop(past);
      past = {};
      for (let l = 0; l < shape.nLayers; l++) {
        past[`past_key.${l}`] = r[`present_key.${l}`];
        past[`past_value.${l}`] = r[`present_value.${l}`];
      }
      position += T;
      const logits = r.logits.data as Float32Array;
      const V = logits.length / T;
      return logits.slice((T - 1) * V);
    },
    reset() {
      drop(past);
      past = empty();
      position = 0;
    },
    cacheLocations() {
      return Object.values(past).map((t) => t.location);
    },
    async release() {
      drop(past);
      await session.release();
    },
  };
}
