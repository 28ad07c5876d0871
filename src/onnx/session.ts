// Running an opened ONNX causal LM with onnxruntime-web behind LayerLab's Backend contract
// (core/model/backend.ts), so that eval, analysis and comparison code run unchanged on it.
//
// - Taps: the graph is rewritten once to add a graph output for every residual-stream point the graph
//   analysis found (graph.ts), named per core/model/taps.ts: blk.l.in / attn_out / mid / mlp_out / out
//   (each [T, C]), final_norm [T, C], and the inputs of the output projections blk.l.attn_ctx [T, H*D]
//   and blk.l.ffn_act [T, dFF] (the Wanda/OWL input norms of core/analysis/activations.ts). A run
//   fetches only the outputs asked for.
// - Weights: a modified LoadedModel (an applied allocation, core/allocation/apply-weights.ts) is written
//   back into the initializers it came from (dequantized to f32, transposed back to [in, out] where the
//   graph stores it so): quantize-dequantize for every format. Structural interventions (skip-block,
//   skip-attn, skip-mlp, scale) multiply the sublayer's output projection and its bias by 0 (or the
//   factor), which zeroes (scales) the sublayer's output; a skipped sublayer taps as zeros, a scaled one
//   taps its scaled output (the native engines tap it unscaled).
// - Inputs: input_ids [1, T]; attention_mask all ones [1, P + T]; position_ids P..P+T-1; past key/values
//   with past length P = 0 on a plain forward (first dim 1, every other symbolic dim 0); boolean flags
//   (use_cache_branch) false.
// - Decoding sessions: when every past input has a present output (kvPairs), each append feeds the
//   previous run's present K/V as the past (position_ids and attention_mask offset by the cached length);
//   otherwise the whole prefix is re-run for every append (correct, O(T^2) in total).
// - Execution: onnxruntime-web's wasm backend (one thread in Node); a caller may pass other execution
//   providers (e.g. ['webgpu', 'wasm'] in Chromium).

import * as ort from 'onnxruntime-web';
import type { Backend, BackendInfo, Session } from '../core/model/backend.ts';
import type { ModelSpec } from '../core/model/spec.ts';
import type { LoadedModel } from '../core/formats/types.ts';
import { checkIds } from '../core/model/spec.ts';
import { planLayers, tapName, type ForwardOptions, type ForwardResult } from '../core/model/taps.ts';
import { tensorToF32 } from '../core/model/weights.ts';
import { f32ToF16 } from '../core/quant/half.ts';
import { encodeOnnxModel, OnnxDataType, tensorValueInfo, type OnnxModel, type OnnxNode, type OnnxTensor } from './proto.ts';
import { initValues, loadOnnx, transpose, type NamedFile, type OnnxLoaded, type OnnxLoadOptions } from './import.ts';
import { ortWasmPaths } from './wasm-paths.ts';

let envSet = false;
function setEnv(): void {
  if (envSet) return;
  envSet = true;
  const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
  if (proc?.versions?.node) ort.env.wasm.numThreads = 1;
  else if (!ort.env.wasm.wasmPaths) {
    try {
      ort.env.wasm.wasmPaths = ortWasmPaths();
    } catch {
      // not in a page or worker: leave onnxruntime's default
    }
  }
}

/** The float32 copy of graph tensor t that a tapped graph outputs. */
export const f32Name = (t: string): string => `${t}__f32`;

/** Tap name -> graph tensor name for every tap the analysis can serve. */
export function tapTensors(loaded: OnnxLoaded): Map<string, string> {
  const a = loaded.analysis;
  const m = new Map<string, string>();
  for (const b of a.blocks) {
    const l = b.layer;
    m.set(tapName(l, 'in'), b.attn.resIn);
    m.set(tapName(l, 'attn_out'), b.attn.subOut);
    m.set(tapName(l, 'mid'), b.attn.resOut);
    m.set(tapName(l, 'mlp_out'), b.mlp.subOut);
    m.set(tapName(l, 'out'), b.mlp.resOut);
    if (b.attn.outProj) m.set(`blk.${l}.attn_ctx`, b.attn.outProj.input);
    if (b.mlp.outProj) m.set(`blk.${l}.ffn_act`, b.mlp.outProj.input);
  }
  m.set('final_norm', a.finalNorm.output);
  return m;
}

/** The graph with tap outputs added, fused Skip*Normalization sums named, and initializers replaced. */
export function rewriteModel(loaded: OnnxLoaded, overrides: ReadonlyMap<string, Float32Array>, taps = true): OnnxModel {
  const g = loaded.onnx.graph!;
  const nodes: OnnxNode[] = (g.node ?? []).map((n, i) => {
    const sum = loaded.analysis.sumOutputs.get(i);
    if (!sum) return n;
    const out = [...(n.output ?? [])];
    while (out.length < 3) out.push('');
    out[3] = sum;
    return { ...n, output: out };
  });
  const outputs = [...(g.output ?? [])];
  if (taps) {
    // Every tap (and the logits) is read through a Cast to float32 (a copy in a float32 graph; float16
    // activations become float32), exposed as the output "<tensor>__f32".
    const want = new Set([...tapTensors(loaded).values(), loaded.analysis.logits]);
    for (const t of want) {
      nodes.push({ opType: 'Cast', input: [t], output: [f32Name(t)], attribute: [{ name: 'to', type: 2, i: OnnxDataType.FLOAT }] });
      const vi = tensorValueInfo(f32Name(t), OnnxDataType.FLOAT, []);
      delete vi.type!.tensorType!.shape; // unknown rank (an empty shape would read as a scalar)
      outputs.push(vi);
    }
  }
  const initializer: OnnxTensor[] = (g.initializer ?? []).map((t) => {
    const v = overrides.get(t.name ?? '');
    if (!v) return t;
    // Written back in the initializer's own type (float16 weights stay float16, rounded to nearest even).
    if (t.dataType === OnnxDataType.FLOAT16) {
      const h = Uint16Array.from(v, (x) => f32ToF16(x));
      return { name: t.name, dims: t.dims, dataType: OnnxDataType.FLOAT16, rawData: new Uint8Array(h.buffer) };
    }
    const copy = new Float32Array(v);
    return { name: t.name, dims: t.dims, dataType: OnnxDataType.FLOAT, rawData: new Uint8Array(copy.buffer) };
  });
  return { ...loaded.onnx, graph: { ...g, node: nodes, output: outputs, initializer } };
}

/** Initializer values (stored layout) for every canonical tensor of `modified` that differs from the loaded model's. */
export function weightOverrides(loaded: OnnxLoaded, modified: LoadedModel | undefined): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  if (!modified) return out;
  for (const [name, t] of modified.tensors) {
    const orig = loaded.model.tensors.get(name);
    if (orig === t) continue;
    const src = loaded.canonical.get(name);
    if (!src) throw new Error(`tensor ${name} was changed but has no initializer in the ONNX graph to write it to`);
    const v = tensorToF32(t);
    out.set(src.init, src.transposed ? transpose(v, t.shape[0], t.shape[1]) : Float32Array.from(v));
  }
  return out;
}

/**
 * Past input -> present output: the graph output that is the Concat of the past with the new keys or
 * values (directly or through Identity / Cast). Null when the graph has no past inputs or one of them
 * has no such output.
 */
export function kvPairs(loaded: OnnxLoaded): Map<string, string> | null {
  const g = loaded.onnx.graph!;
  const pasts = loaded.analysis.inputs.filter((i) => i.role === 'past');
  if (pasts.length === 0) return null;
  const outs = new Set((g.output ?? []).map((o) => o.name));
  const cons = new Map<string, OnnxNode[]>();
  for (const n of g.node ?? []) for (const x of n.input ?? []) cons.set(x, [...(cons.get(x) ?? []), n]);
  const m = new Map<string, string>();
  for (const p of pasts) {
    let found: string | undefined;
    const stack = [p.name];
    for (let k = 0; k < 8 && stack.length && !found; k++) {
      const t = stack.pop()!;
      for (const n of cons.get(t) ?? []) {
        if (!['Concat', 'Identity', 'Cast'].includes(n.opType)) continue;
        const o = n.output![0];
        if (outs.has(o)) found = o;
        else stack.push(o);
      }
    }
    if (!found) return null;
    m.set(p.name, found);
  }
  return m;
}

export interface OnnxBackendOptions {
  /** A modified canonical model (applied allocation) whose tensors replace the initializers. */
  modified?: LoadedModel;
  /** onnxruntime execution providers (default ['wasm']). */
  executionProviders?: string[];
}

export class OnnxBackend implements Backend {
  readonly spec: ModelSpec;
  private readonly taps: Map<string, string>;
  /** past input -> present output, when every past input has one (KV-cache decoding); else null. */
  readonly kv: Map<string, string> | null;
  private readonly overrides: Map<string, Float32Array>;
  private base: ort.InferenceSession | null = null;
  private variant: { key: string; session: ort.InferenceSession } | null = null;
  private peak = 0;

  private constructor(readonly loaded: OnnxLoaded, private opts: OnnxBackendOptions) {
    this.spec = (opts.modified ?? loaded.model).spec;
    this.taps = tapTensors(loaded);
    this.kv = kvPairs(loaded);
    this.eps = opts.executionProviders ?? ['wasm'];
    this.overrides = weightOverrides(loaded, opts.modified);
  }

  static async create(loaded: OnnxLoaded, opts: OnnxBackendOptions = {}): Promise<OnnxBackend> {
    setEnv();
    const b = new OnnxBackend(loaded, opts);
    b.base = await b.sessionFor(b.overrides);
    return b;
  }

  /** Execution providers in use: the requested list, or ['wasm'] after the first choice failed to start. */
  private eps: string[];

  private async sessionFor(overrides: ReadonlyMap<string, Float32Array>): Promise<ort.InferenceSession> {
    const bytes = encodeOnnxModel(rewriteModel(this.loaded, overrides));
    try {
      return await ort.InferenceSession.create(bytes, { executionProviders: this.eps, graphOptimizationLevel: 'basic' });
    } catch (e) {
      // A provider that cannot start here (WebGPU without an adapter): fall back to wasm once, and say so in info().
      if (this.eps.length > 1 || this.eps[0] !== 'wasm') {
        this.fallback = `${this.eps.join(', ')} failed (${(e as Error).message}); running on wasm`;
        this.eps = ['wasm'];
        return this.sessionFor(overrides);
      }
      throw new Error(`onnxruntime could not load the graph: ${(e as Error).message}`);
    }
  }
  private fallback: string | undefined;

  info(): BackendInfo {
    let bytes = 0;
    for (const t of this.loaded.onnx.graph?.initializer ?? []) bytes += t.rawData?.byteLength ?? 0;
    const webgpu = this.eps[0] === 'webgpu';
    return {
      kind: webgpu ? 'gpu' : 'cpu',
      adapter: `onnxruntime-web ${ort.env.versions?.web ?? ''} (${this.eps.join(', ')})${this.fallback ? ` [${this.fallback}]` : ''}`.replace('  ', ' '),
      software: false,
      weightBytes: bytes,
    };
  }

  /** Output-projection overrides for structural interventions (on top of the weight overrides). */
  private interventionOverrides(opts: ForwardOptions): { key: string; map: Map<string, Float32Array> } | null {
    const ivs = opts.interventions ?? [];
    if (ivs.length === 0) return null;
    const plans = planLayers(this.spec.nLayers, ivs);
    const map = new Map(this.overrides);
    const parts: string[] = [];
    const inits = new Map((this.loaded.onnx.graph!.initializer ?? []).map((t) => [t.name ?? '', t]));
    const scaleProj = (l: number, kind: 'attn' | 'mlp', f: number): void => {
      if (f === 1) return;
      const step = this.loaded.analysis.blocks[l][kind];
      const p = step.outProj;
      if (!p) throw new Error(`block ${l}: the ${kind} sublayer's output projection was not found in the graph, so it cannot be dropped or scaled`);
      for (const name of [p.weight, p.bias]) {
        if (!name) continue;
        const v = (map.get(name) ?? initValues(inits.get(name)!)).map((x) => x * f);
        map.set(name, v);
      }
      parts.push(`${l}${kind}${f}`);
    };
    plans.forEach((p, l) => {
      scaleProj(l, 'attn', p.skipAttn ? 0 : p.attnScale);
      scaleProj(l, 'mlp', p.skipMlp ? 0 : p.mlpScale);
    });
    return parts.length ? { key: parts.join(','), map } : null;
  }

  private async pick(opts: ForwardOptions): Promise<ort.InferenceSession> {
    const iv = this.interventionOverrides(opts);
    if (!iv) return this.base!;
    if (this.variant?.key !== iv.key) {
      await this.variant?.session.release();
      this.variant = { key: iv.key, session: await this.sessionFor(iv.map) };
    }
    return this.variant.session;
  }

  private feeds(ids: number[], pos0 = 0, past: Record<string, ort.Tensor> | null = null): Record<string, ort.Tensor> {
    const T = ids.length;
    const feeds: Record<string, ort.Tensor> = {};
    const ints = (elemType: number, values: number[], dims: number[]): ort.Tensor =>
      elemType === OnnxDataType.INT32
        ? new ort.Tensor('int32', Int32Array.from(values), dims)
        : elemType === OnnxDataType.FLOAT
          ? new ort.Tensor('float32', Float32Array.from(values), dims)
          : new ort.Tensor('int64', BigInt64Array.from(values.map((v) => BigInt(v))), dims);
    for (const inp of this.loaded.analysis.inputs) {
      const dims2 = inp.dims.length === 1 ? [T] : [1, T];
      if (inp.role === 'input_ids') feeds[inp.name] = ints(inp.elemType, ids, dims2);
      else if (inp.role === 'attention_mask') feeds[inp.name] = ints(inp.elemType, new Array<number>(pos0 + T).fill(1), inp.dims.length === 1 ? [pos0 + T] : [1, pos0 + T]);
      else if (inp.role === 'position_ids') feeds[inp.name] = ints(inp.elemType, ids.map((_, i) => pos0 + i), dims2);
      else if (inp.role === 'past' && past?.[inp.name]) feeds[inp.name] = past[inp.name];
      else if (inp.role === 'cache_position') feeds[inp.name] = ints(inp.elemType, ids.map((_, i) => pos0 + i), inp.dims.length === 2 ? [1, T] : [T]);
      else if (inp.role === 'logits_to_keep') feeds[inp.name] = ints(inp.elemType, [0], inp.dims.length ? [1] : []);
      else if (inp.role === 'flag') feeds[inp.name] = new ort.Tensor('bool', new Uint8Array(1), inp.dims.length ? [1] : []);
      else {
        const dims = inp.dims.map((d, i) => (typeof d === 'number' ? d : i === 0 ? 1 : 0));
        if (!dims.includes(0)) throw new Error(`past input ${inp.name} has a fixed shape [${inp.dims.join(', ')}]: LayerLab cannot feed it an empty past`);
        feeds[inp.name] = inp.elemType === OnnxDataType.FLOAT16 ? new ort.Tensor('float16', new Uint16Array(0), dims) : new ort.Tensor('float32', new Float32Array(0), dims);
      }
    }
    return feeds;
  }

  async forward(ids: number[], opts: ForwardOptions = {}): Promise<ForwardResult> {
    return (await this.run(ids, opts, 0, null)).result;
  }

  /** One run of `ids` at positions pos0.. after the cached `past` (null: empty past); returns the present K/V when asked. */
  private async run(ids: number[], opts: ForwardOptions, pos0: number, past: Record<string, ort.Tensor> | null, wantPresent = false): Promise<{ result: ForwardResult; present: Record<string, ort.Tensor> }> {
    checkIds(this.spec, ids, pos0, this.spec.contextLength);
    const T = ids.length;
    const V = this.spec.vocabSize;
    const session = await this.pick(opts);
    const want = (opts.taps ?? []).filter((t) => t !== 'logits');
    const fetch = new Set<string>([f32Name(this.loaded.analysis.logits)]);
    if (wantPresent) for (const o of this.kv!.values()) fetch.add(o);
    for (const t of want) {
      const name = this.taps.get(t);
      if (!name) throw new Error(`the ONNX graph has no tap ${t} (taps: blk.N.in/attn_out/mid/mlp_out/out, blk.N.attn_ctx, blk.N.ffn_act, final_norm)`);
      fetch.add(f32Name(name));
    }
    const out = await session.run(this.feeds(ids, pos0, past), [...fetch]);
    let bytes = 0;
    const data = (name: string): Float32Array => {
      const t = out[name];
      if (!t || t.type !== 'float32') throw new Error(`onnxruntime returned ${t ? t.type : 'nothing'} for ${name}`);
      bytes += (t.data as Float32Array).byteLength;
      return t.data as Float32Array;
    };
    const all = data(f32Name(this.loaded.analysis.logits));
    if (all.length !== T * V) throw new Error(`logits output ${this.loaded.analysis.logits} has ${all.length} values, expected T*V = ${T}*${V}`);
    const logits = opts.logits === 'last' ? all.slice((T - 1) * V) : all;
    const taps: Record<string, Float32Array> = {};
    for (const t of want) {
      const v = data(f32Name(this.taps.get(t)!));
      if (v.length % T !== 0) throw new Error(`tap ${t} has ${v.length} values, not a multiple of T = ${T}`);
      taps[t] = v;
    }
    const present: Record<string, ort.Tensor> = {};
    if (wantPresent) for (const [pastName, o] of this.kv!) present[pastName] = out[o];
    const keep = new Set(Object.values(present));
    for (const t of Object.values(out)) if (!keep.has(t)) t.dispose?.();
    this.peak = Math.max(this.peak, bytes);
    return { result: { logits, taps, T }, present };
  }

  /**
   * A decoding session. With a KV cache (every past input maps to a present output) each append feeds
   * the previous run's present K/V as the past; otherwise the whole prefix is re-run for each append.
   */
  session(maxTokens = this.spec.contextLength): Session {
    let ids: number[] = [];
    let past: Record<string, ort.Tensor> | null = null;
    const V = this.spec.vocabSize;
    const drop = () => {
      for (const t of Object.values(past ?? {})) t.dispose?.();
      past = null;
    };
    return {
      get position() {
        return ids.length;
      },
      append: async (newIds: number[], opts: ForwardOptions = {}): Promise<ForwardResult> => {
        if (ids.length + newIds.length > maxTokens) throw new Error(`forward: ${ids.length + newIds.length} positions exceed the cache/context of ${maxTokens}`);
        const p0 = ids.length;
        if (this.kv) {
          const r = await this.run(newIds, opts, p0, past, true);
          drop();
          past = r.present;
          ids = [...ids, ...newIds];
          return r.result;
        }
        const all = [...ids, ...newIds];
        const r = await this.forward(all, { ...opts, logits: opts.logits === 'last' ? 'last' : 'all' });
        ids = all;
        const logits = opts.logits === 'last' ? r.logits : r.logits.slice(p0 * V);
        const taps: Record<string, Float32Array> = {};
        for (const [k, v] of Object.entries(r.taps)) taps[k] = v.slice(p0 * (v.length / all.length));
        return { logits, taps, T: newIds.length };
      },
      reset() {
        ids = [];
        drop();
      },
      dispose() {
        ids = [];
        drop();
      },
    };
  }

  peakBytes(): number {
    return this.peak;
  }

  dispose(): void {
    void this.base?.release();
    void this.variant?.session.release();
    this.base = null;
    this.variant = null;
  }
}

/** The opened ONNX model's backend, and a factory for modified copies (allocations). */
export async function openOnnxBackend(loaded: OnnxLoaded, executionProviders?: string[]): Promise<{ backend: OnnxBackend; makeBackend: (m: LoadedModel) => Promise<Backend> }> {
  const backend = await OnnxBackend.create(loaded, { executionProviders });
  return { backend, makeBackend: (m) => OnnxBackend.create(loaded, { modified: m, executionProviders }) };
}

/** Files -> the canonical model, its onnxruntime backend and the factory for modified copies (engine entry). */
export async function openOnnx(files: readonly NamedFile[], opts: OnnxLoadOptions & { executionProviders?: string[] } = {}): Promise<{ loaded: OnnxLoaded; model: LoadedModel; backend: OnnxBackend; makeBackend: (m: LoadedModel) => Promise<Backend> }> {
  const loaded = loadOnnx(files, opts);
  const { backend, makeBackend } = await openOnnxBackend(loaded, opts.executionProviders);
  return { loaded, model: loaded.model, backend, makeBackend };
}
