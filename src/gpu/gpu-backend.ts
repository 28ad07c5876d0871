// The WebGPU backend: the same forward pass as the CPU reference (src/core/model/forward.ts), with the
// same taps and interventions, composed from the WGSL kernels in src/gpu/kernels. Weights stay in their
// stored GGUF type (packed; src/gpu/weights.ts); activations are f32. A whole forward is one command
// buffer (compute passes split only where a tap is copied out); logits and taps are read back once.
//
// Shared weights: GpuBackend.derive(model) builds the backend of a modified model (an applied allocation,
// one quantization-sensitivity measurement) next to an existing one. Every tensor whose WeightTensor
// object is the same (===) as the one the existing backend uploaded reuses its GPU buffers; only changed
// tensors are uploaded. Buffers are reference-counted (one count per backend holding them), so disposing
// either backend frees only what no other backend still uses.
// Low-rank weights (core/model/forward.ts LowRankTensor) keep only their factors A [rows, r] and
// B [r, cols] resident and run y = A (B x) as two matmuls through an [T, r] scratch.
// K/V cache bits (ModelWithKvBits): the kv-write kernel quantizes K and V on write (core/ops/kv-quant.ts).

import { greedyId, type Backend, type BackendInfo, type Session, type StepOptions, type StepResult } from '../core/model/backend.ts';
import type { LoadedModel, WeightTensor } from '../core/formats/types.ts';
import { kvBitsOf, lowRankOf, type KvBits } from '../core/model/forward.ts';
import { checkIds, type ModelSpec } from '../core/model/spec.ts';
import { actTapName, ctxTapName, planLayers, tapName, type ForwardOptions, type ForwardResult, type LayerPlan } from '../core/model/taps.ts';
import { tensorToF32 } from '../core/model/weights.ts';
import { GGMLType, typeName } from '../core/quant/types.ts';
import type { AcquiredDevice } from './device.ts';
import { GpuContext } from './context.ts';
import { shaderSource } from './shaders.ts';
import { uploadWeight, type GpuWeight } from './weights.ts';
import { encodeMatmul } from './kernels/matmul.ts';
import { encodeMatmulQ } from './kernels/matmul-q.ts';
import { encodeGetRowsQ } from './kernels/get-rows-q.ts';
import { encodeRmsNorm } from './kernels/rms-norm.ts';
import { encodeLayerNorm } from './kernels/layer-norm.ts';
import { encodeRope } from './kernels/rope.ts';
import { encodeAttention, encodeKvWrite } from './kernels/attention.ts';
import { encodeAdd } from './kernels/add.ts';
import { encodeGelu } from './kernels/gelu.ts';
import { encodeSiluGate } from './kernels/silu-gate.ts';
import { encodeEmbedding } from './kernels/embedding.ts';
import { ARGMAX_NAN, encodeArgmax } from './kernels/argmax.ts';

/**
 * One GpuContext per device: backends made for the same device (a modified model next to its base, one
 * per measurement in a quantization-sensitivity scan) share compiled pipelines and uniform buffers
 * instead of recompiling every kernel.
 */
const contexts = new WeakMap<GPUDevice, GpuContext>();
function contextFor(device: GPUDevice): GpuContext {
  let c = contexts.get(device);
  if (!c) contexts.set(device, (c = new GpuContext(device, shaderSource)));
  return c;
}

export class ModelTooLargeError extends Error {
  hint: string;
  constructor(msg: string, hint: string) {
    super(msg);
    this.name = 'ModelTooLargeError';
    this.hint = hint;
  }
}

/** "131,072 bytes (0.13 MiB)": exact bytes, and a size a person can read. */
function mib(n: number): string {
  const m = n / 2 ** 20;
  return `${n.toLocaleString('en-US')} bytes (${m >= 100 ? m.toFixed(0) : m >= 1 ? m.toFixed(1) : m.toPrecision(2)} MiB)`;
}

/** Activation buffers for up to `cap` tokens. */
interface Scratch {
  cap: number;
  ids: GPUBuffer;
  x: GPUBuffer;
  h: GPUBuffer;
  q: GPUBuffer;
  k: GPUBuffer;
  v: GPUBuffer;
  att: GPUBuffer;
  sub: GPUBuffer;
  g: GPUBuffer;
  u: GPUBuffer;
  logits: GPUBuffer;
  /** u32 argmax of the last logits row (greedy steps). */
  argmax: GPUBuffer;
  /** [cap, max rank] for the first product of a low-rank linear (null when the model has none). */
  lr: GPUBuffer | null;
  bytes: number;
}

/** GPU buffers of one uploaded tensor, shared by every backend that holds it (`count` of them). */
interface Held {
  src: WeightTensor;
  buffers: GPUBuffer[];
  bytes: number;
  count: { n: number };
}

/** What a backend's weights occupy: all of them, the part it uploaded itself, the part shared with others. */
export interface Residency {
  weightBytes: number;
  ownBytes: number;
  sharedBytes: number;
  sharedTensors: number;
  uploadedTensors: number;
}

/** What forwardOnDevice returns: the requested taps as device buffers until release(). */
export interface DeviceForward {
  T: number;
  /** Tap name -> storage buffer holding the tap ([T, width] f32 row-major, see core/model/taps.ts). */
  taps: Record<string, GPUBuffer>;
  /** The logits read back when asked for (readLogits), else null. */
  logits: Float32Array | null;
  /** Host copies of the taps when asked for (readTaps), else null. */
  hostTaps: Record<string, Float32Array> | null;
  /** Destroy the tap buffers (idempotent). */
  release(): void;
}

interface GpuKv {
  k: GPUBuffer[];
  v: GPUBuffer[];
  maxT: number;
  position: number;
  bytes: number;
}

export class GpuBackend implements Backend {
  readonly spec: ModelSpec;
  readonly ctx: GpuContext;
  private weights = new Map<string, GpuWeight>();
  /** 1-D parameters (norm weights, biases) as f32 buffers. */
  private vectors = new Map<string, GPUBuffer>();
  /** Factors of the low-rank tensors: y = a (b x). */
  private lowRank = new Map<string, { a: GpuWeight; b: GpuWeight; r: number }>();
  private maxRank = 0;
  private holds = new Map<string, Held>();
  private weightBytes = 0;
  private ownBytes = 0;
  private readonly kvBits: KvBits[];
  private scratch: Scratch | null = null;
  /** MAP_READ buffers for logits / argmax readback, reused across steps. */
  private staging: GPUBuffer[] = [];
  /**
   * The decode host path (default on): uniforms in one arena written once per forward, bind groups cached
   * across steps, staging buffers reused, and the on-device argmax for greedy steps. Off = the previous
   * path (a uniform write and a bind group per dispatch, full logits readback); kept for the bench's
   * before/after comparison. GpuBackend.create(..., { hostCache: false }).
   */
  readonly hostCache: boolean;
  /**
   * Host time of the forwards, for the bench: encodeMs = recording (dispatches, uniforms, bind groups) up to
   * the finished command buffer; recordMs = that plus queue.submit (on a software adapter the submit itself
   * may run part of the work).
   */
  readonly hostTime = { encodeMs: 0, recordMs: 0, records: 0 };
  private live = 0;
  private peak = 0;
  private disposed = false;
  /**
   * Use the barrier-free kernel variants. On software adapters (SwiftShader & co.) workgroup barriers
   * dominate the run time (a 256-thread reduction costs more than the whole row it reduces), so the
   * one-invocation-per-output kernels are much faster there; hardware adapters use the tiled kernels.
   * GpuBackend.create(..., { kernels: 'tiled' | 'simple' }) overrides (tests run both paths).
   */
  readonly simple: boolean;

  private constructor(private acquired: AcquiredDevice, readonly model: LoadedModel, kernelPolicy?: 'tiled' | 'simple', hostCache = true) {
    this.spec = model.spec;
    this.hostCache = hostCache;
    this.ctx = contextFor(acquired.device);
    this.simple = kernelPolicy ? kernelPolicy === 'simple' : acquired.software;
    this.kvBits = kvBitsOf(model);
  }

  static async create(
    acquired: AcquiredDevice,
    model: LoadedModel,
    progress?: (done: number, total: number) => void,
    opts: { kernels?: 'tiled' | 'simple'; hostCache?: boolean } = {},
  ): Promise<GpuBackend> {
    return GpuBackend.build(acquired, model, null, progress, opts.kernels, opts.hostCache ?? true);
  }

  /**
   * A backend for `model` (same spec: a modified version of this backend's model) on the same device that
   * reuses this backend's GPU buffers for every tensor whose WeightTensor object is the same (===) as the
   * one uploaded here, and uploads only the others (see the file comment). Disposing either backend leaves
   * the other working.
   */
  async derive(model: LoadedModel, progress?: (done: number, total: number) => void): Promise<GpuBackend> {
    if (this.disposed) throw new Error('derive: the GPU backend was disposed');
    const a = this.spec;
    const b = model.spec;
    if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error(`derive: the model's spec differs from this backend's (${b.name}, ${b.nLayers} layers, d ${b.dModel} vs ${a.name}, ${a.nLayers} layers, d ${a.dModel}); use GpuBackend.create`);
    return GpuBackend.build(this.acquired, model, this, progress, this.simple ? 'simple' : 'tiled', this.hostCache);
  }

  /** Bytes of weights this backend uses, the part it uploaded and the part shared with other backends. */
  residency(): Residency {
    return { weightBytes: this.weightBytes, ownBytes: this.ownBytes, sharedBytes: this.weightBytes - this.ownBytes, sharedTensors: this.sharedTensors, uploadedTensors: this.holds.size - this.sharedTensors };
  }

  private sharedTensors = 0;

  private static async build(
    acquired: AcquiredDevice,
    model: LoadedModel,
    base: GpuBackend | null,
    progress: ((done: number, total: number) => void) | undefined,
    kernels: 'tiled' | 'simple' | undefined,
    hostCache: boolean,
  ): Promise<GpuBackend> {
    const b = new GpuBackend(acquired, model, kernels, hostCache);
    b.checkFits();
    const tensors = [...model.tensors.values()];
    const fresh: WeightTensor[] = [];
    for (const t of tensors) {
      const h = base?.holds.get(t.name);
      if (h && h.src === t && h.count.n > 0) b.share(base!, t.name, h);
      else fresh.push(t);
    }
    const need = fresh.reduce((a, t) => a + t.data.byteLength, 0);
    let done = 0;
    acquired.device.pushErrorScope('out-of-memory');
    try {
      for (const t of fresh) {
        b.upload(t);
        done++;
        if (done % 8 === 0 || done === fresh.length) progress?.(done, fresh.length);
      }
    } catch (e) {
      await acquired.device.popErrorScope();
      b.dispose();
      throw e;
    }
    const oom = await acquired.device.popErrorScope();
    if (oom) {
      b.dispose();
      throw new ModelTooLargeError(
        `the GPU ran out of memory while uploading the weights (${mib(need)} needed; ${acquired.adapter}): ${oom.message}`,
        'Close other GPU-heavy tabs, or use a smaller or more strongly quantized model (or the CPU backend for tiny models).',
      );
    }
    return b;
  }

  /**
   * Fail early, with the numbers, when a tensor cannot live in one buffer of this device. (WebGPU does not
   * report the device's total memory; running out of it is caught by the error scope around the upload.)
   */
  private checkFits(): void {
    const lim = this.acquired.limits;
    const perBinding = Math.min(lim.maxStorageBufferBindingSize, lim.maxBufferSize);
    for (const t0 of this.model.tensors.values()) {
      const lr = lowRankOf(t0);
      for (const t of lr ? [lr.a, lr.b] : [t0]) {
      if (t.data.byteLength > perBinding) {
        throw new ModelTooLargeError(
          `tensor ${t.name} (${typeName(t.type)} [${t.shape.join(', ')}]) needs ${mib(t.data.byteLength)} in one buffer, but this adapter (${this.acquired.adapter}) allows ${mib(perBinding)} per storage buffer`,
          'Use a more strongly quantized file (e.g. Q4_K_M), a smaller model, or a GPU with larger buffer limits.',
        );
      }
      }
    }
  }

  private track(delta: number): void {
    this.live += delta;
    this.peak = Math.max(this.peak, this.live);
  }

  /** Registers the GPU buffers of a tensor this backend uploaded. */
  private hold(t: WeightTensor, buffers: GPUBuffer[], bytes: number): void {
    this.holds.set(t.name, { src: t, buffers, bytes, count: { n: 1 } });
    this.weightBytes += bytes;
    this.ownBytes += bytes;
    this.track(buffers.reduce((a, b) => a + b.size, 0));
  }

  /** Uses `from`'s buffers of tensor `name` (same WeightTensor object) and counts this backend as a holder. */
  private share(from: GpuBackend, name: string, h: Held): void {
    h.count.n++;
    this.holds.set(name, h);
    this.sharedTensors++;
    this.weightBytes += h.bytes;
    const w = from.weights.get(name);
    if (w) this.weights.set(name, w);
    const v = from.vectors.get(name);
    if (v) this.vectors.set(name, v);
    const lr = from.lowRank.get(name);
    if (lr) { this.lowRank.set(name, lr); this.maxRank = Math.max(this.maxRank, lr.r); }
  }

  private upload(t: WeightTensor): void {
    if (t.shape.length === 1) {
      const f = tensorToF32(t);
      const buf = this.ctx.storage(f, t.name);
      this.vectors.set(t.name, buf);
      this.hold(t, [buf], buf.size);
      return;
    }
    if (t.name === 'position_embd' && t.type !== GGMLType.F32) {
      // Learned positions are added by the f32 embedding kernel; the table is small.
      const f = tensorToF32(t);
      const w: GpuWeight = { buffer: this.ctx.storage(f, t.name), type: GGMLType.F32, rows: t.shape[0], cols: t.shape[1], bytes: f.byteLength, name: t.name };
      this.weights.set(t.name, w);
      this.hold(t, [w.buffer], w.bytes);
      return;
    }
    const lr = lowRankOf(t);
    if (lr && /^blk\.\d+\./.test(t.name)) {
      // Only the factors are resident; linear() runs them as two matmuls.
      const a = uploadWeight(this.ctx, lr.a);
      const b = uploadWeight(this.ctx, lr.b);
      this.lowRank.set(t.name, { a, b, r: lr.rank });
      this.maxRank = Math.max(this.maxRank, lr.rank);
      this.hold(t, [a.buffer, b.buffer], a.bytes + b.bytes);
      return;
    }
    const w = uploadWeight(this.ctx, t);
    this.weights.set(t.name, w);
    this.hold(t, [w.buffer], w.bytes);
  }

  private w(name: string): GpuWeight {
    const w = this.weights.get(name);
    if (!w) throw new Error(`model has no tensor ${name}`);
    return w;
  }

  private vec(name: string): GPUBuffer | undefined {
    return this.vectors.get(name);
  }

  private vecReq(name: string): GPUBuffer {
    const v = this.vectors.get(name);
    if (!v) throw new Error(`model has no tensor ${name}`);
    return v;
  }

  info(): BackendInfo {
    return { kind: 'gpu', adapter: this.acquired.adapter, software: this.acquired.software, weightBytes: this.weightBytes, limits: this.acquired.limits };
  }

  peakBytes(): number {
    return this.peak;
  }

  private ensureScratch(T: number): Scratch {
    if (this.scratch && this.scratch.cap >= T) return this.scratch;
    if (this.scratch) this.freeScratch(this.scratch);
    const s = this.spec;
    const cap = Math.max(T, 16);
    const qkvW = s.nHeads * s.headDim + 2 * s.nKvHeads * s.headDim;
    const sizes = {
      x: cap * s.dModel * 4,
      h: cap * s.dModel * 4,
      q: cap * (s.fusedQkv ? qkvW : s.nHeads * s.headDim) * 4,
      k: cap * s.nKvHeads * s.headDim * 4,
      v: cap * s.nKvHeads * s.headDim * 4,
      att: cap * s.nHeads * s.headDim * 4,
      sub: cap * s.dModel * 4,
      g: cap * s.dFF * 4,
      u: cap * s.dFF * 4,
      logits: cap * s.vocabSize * 4,
    };
    const mk = (n: number, label: string) => this.ctx.storage(n, label);
    let bytes = cap * 4 + cap * this.maxRank * 4 + 16;
    const sc = { cap, ids: mk(cap * 4, 'ids'), argmax: mk(16, 'argmax'), lr: this.maxRank > 0 ? mk(cap * this.maxRank * 4, 'low-rank') : null, bytes: 0 } as Scratch;
    for (const [k, n] of Object.entries(sizes)) {
      (sc as unknown as Record<string, GPUBuffer>)[k] = mk(n, k);
      bytes += n;
    }
    sc.bytes = bytes;
    this.track(bytes);
    this.scratch = sc;
    return sc;
  }

  private freeScratch(sc: Scratch): void {
    for (const b of [sc.ids, sc.x, sc.h, sc.q, sc.k, sc.v, sc.att, sc.sub, sc.g, sc.u, sc.logits, sc.argmax]) this.ctx.destroy(b);
    if (sc.lr) this.ctx.destroy(sc.lr);
    this.track(-sc.bytes);
  }

  private newKv(maxT: number): GpuKv {
    const s = this.spec;
    const n = maxT * s.nKvHeads * s.headDim * 4;
    const kv: GpuKv = {
      k: Array.from({ length: s.nLayers }, (_, l) => this.ctx.storage(n, `k-cache.${l}`)),
      v: Array.from({ length: s.nLayers }, (_, l) => this.ctx.storage(n, `v-cache.${l}`)),
      maxT,
      position: 0,
      bytes: 2 * s.nLayers * n,
    };
    this.track(kv.bytes);
    return kv;
  }

  private freeKv(kv: GpuKv): void {
    for (const b of [...kv.k, ...kv.v]) this.ctx.destroy(b);
    this.track(-kv.bytes);
  }

  /** y = x @ W^T (+ bias) for any stored type; rows of W from rowOffset (fused QKV). */
  private linear(pass: GPUComputePassEncoder, a: { x: GPUBuffer; name: string; y: GPUBuffer; M: number; rowOffset?: number; nRows?: number; yOffset?: number; yStride?: number; accumulate?: boolean; xOffset?: number }): void {
    const bias = this.vec(`${a.name}.bias`);
    const lr = this.lowRank.get(a.name);
    if (lr) {
      // y = A (B x): t = x B^T [M, r] into the low-rank scratch, then y = t A^T (+ bias) on rows rowOffset..
      const lrBuf = this.scratch!.lr!;
      this.mm(pass, lr.b, { x: a.x, xOffset: a.xOffset, y: lrBuf, M: a.M });
      this.mm(pass, lr.a, { x: lrBuf, y: a.y, M: a.M, rowOffset: a.rowOffset, nRows: a.nRows, bias, yOffset: a.yOffset, yStride: a.yStride, accumulate: a.accumulate });
      return;
    }
    this.mm(pass, this.w(a.name), { ...a, bias });
  }

  /** y = x @ W^T (+ bias) for one resident weight of any stored type. */
  private mm(pass: GPUComputePassEncoder, w: GpuWeight, a: { x: GPUBuffer; y: GPUBuffer; M: number; bias?: GPUBuffer; rowOffset?: number; nRows?: number; yOffset?: number; yStride?: number; accumulate?: boolean; xOffset?: number }): void {
    const bias = a.bias;
    const rowOffset = a.rowOffset ?? 0;
    const N = a.nRows ?? w.rows - rowOffset;
    if (w.type === GGMLType.F32) {
      encodeMatmul(this.ctx, pass, {
        variant: this.simple ? 'simple' : 'auto',
        x: a.x, w: w.buffer, y: a.y, bias, M: a.M, N, K: w.cols,
        xOffset: a.xOffset, wOffset: rowOffset * w.cols, biasOffset: rowOffset,
        yOffset: a.yOffset, yStride: a.yStride, accumulate: a.accumulate,
      });
    } else {
      encodeMatmulQ(this.ctx, pass, {
        x: a.x, w, y: a.y, M: a.M, bias, rowOffset, nRows: N, biasOffset: rowOffset,
        xOffset: a.xOffset, yOffset: a.yOffset, yStride: a.yStride, accumulate: a.accumulate,
        simple: this.simple,
      });
    }
  }

  private norm(pass: GPUComputePassEncoder, name: string, x: GPUBuffer, y: GPUBuffer, T: number, xOffset = 0): void {
    const s = this.spec;
    const simple = this.simple;
    if (s.norm.kind === 'rms') encodeRmsNorm(this.ctx, pass, { x, w: this.vecReq(name), y, T, C: s.dModel, eps: s.norm.eps, xOffset, simple });
    else encodeLayerNorm(this.ctx, pass, { x, w: this.vecReq(name), b: this.vecReq(`${name}.bias`), y, T, C: s.dModel, eps: s.norm.eps, xOffset, simple });
  }

  /** A MAP_READ staging buffer of at least `bytes` from the pool (returned with putStaging after unmap). */
  private takeStaging(bytes: number): GPUBuffer {
    const i = this.staging.findIndex((b) => b.size >= bytes);
    if (i >= 0) return this.staging.splice(i, 1)[0];
    return this.ctx.device.createBuffer({ size: Math.max(16, Math.ceil(bytes / 16) * 16), usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ, label: 'readback' });
  }

  private putStaging(b: GPUBuffer): void {
    if (this.disposed || this.staging.length >= 4) b.destroy();
    else this.staging.push(b);
  }

  /**
   * Record and submit the forward of ids at kv.position.. and advance the cache. `out` says what the
   * command buffer ends with: the logits copied to a staging buffer ('logits'), the argmax of the last
   * logits row copied out (4 bytes, 'argmax'), or nothing ('none': the logits stay in the scratch).
   * Taps are copied into MAP_READ buffers ('read') or into storage buffers left on the device ('device').
   * Everything up to the submit is synchronous (the uniform arena and the bind-group cache need that).
   */
  private record(ids: number[], kv: GpuKv, opts: ForwardOptions, out: 'logits' | 'argmax' | 'none', tapMode: 'read' | 'device'): {
    done: Promise<void>; staging: GPUBuffer | null; stagingBytes: number; taps: Map<string, { buf: GPUBuffer; bytes: number }>; rows: number;
  } {
    if (this.disposed) throw new Error('the GPU backend was disposed');
    const s = this.spec;
    const T = ids.length;
    const C = s.dModel;
    const D = s.headDim;
    const H = s.nHeads;
    const Hkv = s.nKvHeads;
    const kvW = Hkv * D;
    const pos0 = kv.position;
    checkIds(s, ids, pos0, kv.maxT);
    const plans: LayerPlan[] = planLayers(s.nLayers, opts.interventions);
    const want = new Set(opts.taps ?? []);
    const sc = this.ensureScratch(T);
    const ctx = this.ctx;
    const dev = ctx.device;
    dev.queue.writeBuffer(sc.ids, 0, new Uint32Array(ids));

    const t0 = performance.now();
    const tapBufs = new Map<string, { buf: GPUBuffer; bytes: number }>();
    const tapUsage = tapMode === 'read' ? GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ : GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC | GPUBufferUsage.STORAGE;
    const fast = this.hostCache;
    if (fast) ctx.beginArena();
    try {
      const enc = dev.createCommandEncoder({ label: 'forward' });
      let pass = enc.beginComputePass();
      const tap = (name: string, src: GPUBuffer, bytes = T * C * 4) => {
        if (!want.has(name)) return;
        pass.end();
        const dst = dev.createBuffer({ size: bytes, usage: tapUsage, label: `tap ${name}` });
        enc.copyBufferToBuffer(src, 0, dst, 0, bytes);
        tapBufs.set(name, { buf: dst, bytes });
        pass = enc.beginComputePass();
      };
      const zeroTap = (name: string, bytes = T * C * 4) => {
        if (!want.has(name)) return;
        pass.end();
        const dst = dev.createBuffer({ size: bytes, usage: tapUsage, label: `tap ${name}` });
        tapBufs.set(name, { buf: dst, bytes }); // new buffers are zero-filled
        pass = enc.beginComputePass();
      };

      // Embedding (+ learned positions).
      const emb = this.w('token_embd');
      const pe = s.learnedPositions ? this.w('position_embd') : undefined;
      if (emb.type === GGMLType.F32) {
        encodeEmbedding(ctx, pass, { table: emb.buffer, rows: emb.rows, ids: sc.ids, out: sc.x, T, C, posTable: pe?.buffer, pos0 });
      } else {
        encodeGetRowsQ(ctx, pass, { table: emb, ids: sc.ids, out: sc.x, T });
        if (pe) encodeEmbedding(ctx, pass, { table: null, ids: sc.ids, out: sc.x, T, C, posTable: pe.buffer, pos0 });
      }

      const qW = H * D;
      for (let l = 0; l < s.nLayers; l++) {
        const p = plans[l];
        const b = `blk.${l}`;
        tap(tapName(l, 'in'), sc.x);

        if (!p.skipAttn) {
          this.norm(pass, `${b}.attn_norm`, sc.x, sc.h, T);
          if (s.fusedQkv) {
            this.linear(pass, { x: sc.h, name: `${b}.attn_qkv`, y: sc.q, M: T, rowOffset: 0, nRows: qW });
            this.linear(pass, { x: sc.h, name: `${b}.attn_qkv`, y: sc.k, M: T, rowOffset: qW, nRows: kvW });
            this.linear(pass, { x: sc.h, name: `${b}.attn_qkv`, y: sc.v, M: T, rowOffset: qW + kvW, nRows: kvW });
          } else {
            this.linear(pass, { x: sc.h, name: `${b}.attn_q`, y: sc.q, M: T });
            this.linear(pass, { x: sc.h, name: `${b}.attn_k`, y: sc.k, M: T });
            this.linear(pass, { x: sc.h, name: `${b}.attn_v`, y: sc.v, M: T });
          }
          if (s.rope.kind !== 'none') {
            // q and k heads rotated in one dispatch.
            encodeRope(ctx, pass, { x: sc.q, k: sc.k, Hkv, T, H, D, pos0, theta: s.rope.theta, dim: s.rope.dim, kind: s.rope.kind });
          }
          encodeKvWrite(ctx, pass, { k: sc.k, v: sc.v, kCache: kv.k[l], vCache: kv.v[l], T, Hkv, D, pos0, kBits: this.kvBits[l].k, vBits: this.kvBits[l].v });
          encodeAttention(ctx, pass, { q: sc.q, kCache: kv.k[l], vCache: kv.v[l], o: sc.att, T, H, Hkv, D, pos0, scale: 1 / Math.sqrt(D), variant: this.simple ? 'simple' : 'auto' });
          tap(ctxTapName(l), sc.att, T * qW * 4);
          const direct = p.attnScale === 1 && !want.has(tapName(l, 'attn_out'));
          if (direct) {
            this.linear(pass, { x: sc.att, name: `${b}.attn_output`, y: sc.x, M: T, accumulate: true });
          } else {
            this.linear(pass, { x: sc.att, name: `${b}.attn_output`, y: sc.sub, M: T });
            tap(tapName(l, 'attn_out'), sc.sub);
            encodeAdd(ctx, pass, { a: sc.x, b: sc.sub, n: T * C, scale: p.attnScale });
          }
        } else {
          zeroTap(ctxTapName(l), T * qW * 4);
          zeroTap(tapName(l, 'attn_out'));
        }
        tap(tapName(l, 'mid'), sc.x);

        if (!p.skipMlp) {
          this.norm(pass, `${b}.ffn_norm`, sc.x, sc.h, T);
          if (s.mlp === 'silu-gate') {
            this.linear(pass, { x: sc.h, name: `${b}.ffn_gate`, y: sc.g, M: T });
            this.linear(pass, { x: sc.h, name: `${b}.ffn_up`, y: sc.u, M: T });
            encodeSiluGate(ctx, pass, { g: sc.g, u: sc.u, n: T * s.dFF });
          } else {
            this.linear(pass, { x: sc.h, name: `${b}.ffn_up`, y: sc.g, M: T });
            encodeGelu(ctx, pass, { x: sc.g, n: T * s.dFF });
          }
          tap(actTapName(l), sc.g, T * s.dFF * 4);
          const direct = p.mlpScale === 1 && !want.has(tapName(l, 'mlp_out'));
          if (direct) {
            this.linear(pass, { x: sc.g, name: `${b}.ffn_down`, y: sc.x, M: T, accumulate: true });
          } else {
            this.linear(pass, { x: sc.g, name: `${b}.ffn_down`, y: sc.sub, M: T });
            tap(tapName(l, 'mlp_out'), sc.sub);
            encodeAdd(ctx, pass, { a: sc.x, b: sc.sub, n: T * C, scale: p.mlpScale });
          }
        } else {
          zeroTap(actTapName(l), T * s.dFF * 4);
          zeroTap(tapName(l, 'mlp_out'));
        }
        tap(tapName(l, 'out'), sc.x);
      }

      // Final norm + unembedding (all positions, or the last one only).
      const rows = opts.logits === 'last' || out === 'argmax' ? 1 : T;
      this.norm(pass, 'output_norm', sc.x, sc.h, rows, (T - rows) * C);
      tap('final_norm', sc.h, rows * C * 4);
      this.linear(pass, { x: sc.h, name: s.tiedEmbeddings ? 'token_embd' : 'output', y: sc.logits, M: rows });
      if (out === 'argmax') encodeArgmax(ctx, pass, { x: sc.logits, ids: sc.argmax, R: 1, N: s.vocabSize, simple: this.simple });
      pass.end();
      let staging: GPUBuffer | null = null;
      let stagingBytes = 0;
      if (out !== 'none') {
        stagingBytes = out === 'argmax' ? 4 : rows * s.vocabSize * 4;
        staging = fast ? this.takeStaging(stagingBytes) : dev.createBuffer({ size: stagingBytes, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ, label: 'logits' });
        enc.copyBufferToBuffer(out === 'argmax' ? sc.argmax : sc.logits, 0, staging, 0, Math.ceil(stagingBytes / 4) * 4);
      }
      const cmd = enc.finish();
      const t1 = performance.now();
      const done = ctx.submit([cmd]);
      kv.position = pos0 + T;
      this.hostTime.encodeMs += t1 - t0;
      this.hostTime.recordMs += performance.now() - t0;
      this.hostTime.records++;
      return { done, staging, stagingBytes, taps: tapBufs, rows };
    } catch (e) {
      if (fast) ctx.abortArena();
      for (const { buf } of tapBufs.values()) buf.destroy();
      throw e;
    }
  }

  /** Map a staging buffer and copy out its first `bytes`, then return it to the pool. */
  private async readStaging(staging: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
    await staging.mapAsync(GPUMapMode.READ, 0, Math.ceil(bytes / 4) * 4);
    const data = staging.getMappedRange(0, Math.ceil(bytes / 4) * 4).slice(0, bytes);
    staging.unmap();
    if (this.hostCache) this.putStaging(staging);
    else staging.destroy();
    return data;
  }

  /** Run ids at kv.position.., advance the cache, read back logits and taps. */
  private async run(ids: number[], kv: GpuKv, opts: ForwardOptions = {}): Promise<ForwardResult> {
    const r = this.record(ids, kv, opts, 'logits', 'read');
    await r.done;
    const logits = new Float32Array(await this.readStaging(r.staging!, r.stagingBytes));
    const taps: Record<string, Float32Array> = {};
    for (const [name, { buf }] of r.taps) {
      await buf.mapAsync(GPUMapMode.READ);
      taps[name] = new Float32Array(buf.getMappedRange().slice(0));
      buf.unmap();
      buf.destroy();
    }
    return { logits, taps, T: ids.length };
  }

  /** Run ids, advance the cache, and return the greedy id of the last position (and its logits row when asked). */
  private async runStep(ids: number[], kv: GpuKv, opts: StepOptions = {}): Promise<StepResult> {
    if (opts.wantLogits !== false || !this.hostCache) {
      const r = await this.run(ids, kv, { interventions: opts.interventions, logits: 'last' });
      return { id: greedyId(r.logits), logits: opts.wantLogits === false ? null : r.logits };
    }
    const r = this.record(ids, kv, { interventions: opts.interventions }, 'argmax', 'read');
    await r.done;
    const id = new Uint32Array(await this.readStaging(r.staging!, 4))[0];
    if (id === ARGMAX_NAN) throw new Error('the logits contain NaN: the forward pass diverged, nothing can be sampled');
    return { id, logits: null };
  }

  /**
   * The forward of `ids` from position 0 with the requested taps left on the device as storage buffers
   * ([T, width] f32 each, COPY_SRC | STORAGE; see taps.ts for the widths), for GPU consumers (the analysis
   * scanner) that would otherwise read the taps back and upload them again. `logits` (default false)
   * also reads back the logits ([T, V], or [1, V] with opts.logits 'last'), `readTaps` host copies of the
   * taps (for a caller that needs both). Call release() when done
   * with the buffers (they are not tracked by peakBytes).
   */
  async forwardOnDevice(ids: number[], opts: ForwardOptions & { readLogits?: boolean; readTaps?: boolean } = {}): Promise<DeviceForward> {
    const kv = this.newKv(Math.max(ids.length, 1));
    try {
      const r = this.record(ids, kv, opts, opts.readLogits ? 'logits' : 'none', 'device');
      const taps: Record<string, GPUBuffer> = {};
      for (const [name, { buf }] of r.taps) taps[name] = buf;
      // readTaps: host copies too, through MAP_READ buffers filled by one more submission.
      let hostTaps: Record<string, Float32Array> | null = null;
      if (opts.readTaps) {
        const dev = this.ctx.device;
        const enc = dev.createCommandEncoder({ label: 'tap readback' });
        const stage = new Map<string, GPUBuffer>();
        for (const [name, { buf, bytes }] of r.taps) {
          const st = dev.createBuffer({ size: bytes, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ, label: `tap ${name}` });
          enc.copyBufferToBuffer(buf, 0, st, 0, bytes);
          stage.set(name, st);
        }
        const copied = this.ctx.submit([enc.finish()]);
        await r.done;
        await copied;
        hostTaps = {};
        for (const [name, st] of stage) {
          await st.mapAsync(GPUMapMode.READ);
          hostTaps[name] = new Float32Array(st.getMappedRange().slice(0));
          st.unmap();
          st.destroy();
        }
      } else await r.done;
      const logits = r.staging ? new Float32Array(await this.readStaging(r.staging, r.stagingBytes)) : null;
      let released = false;
      return {
        T: ids.length,
        taps,
        hostTaps,
        logits,
        release: () => {
          if (released) return;
          released = true;
          for (const b of Object.values(taps)) b.destroy();
        },
      };
    } finally {
      this.freeKv(kv);
    }
  }

  async forward(ids: number[], opts?: ForwardOptions): Promise<ForwardResult> {
    const kv = this.newKv(Math.max(ids.length, 1));
    try {
      return await this.run(ids, kv, opts);
    } finally {
      this.freeKv(kv);
    }
  }

  session(maxTokens = this.spec.contextLength): Session {
    let kv: GpuKv | null = this.newKv(maxTokens);
    const run = (ids: number[], cache: GpuKv, opts?: ForwardOptions) => this.run(ids, cache, opts);
    const step = (ids: number[], cache: GpuKv, opts?: StepOptions) => this.runStep(ids, cache, opts);
    const free = (cache: GpuKv) => this.freeKv(cache);
    return {
      get position() {
        return kv?.position ?? 0;
      },
      async append(ids: number[], opts?: ForwardOptions) {
        if (!kv) throw new Error('session was disposed');
        return run(ids, kv, opts);
      },
      async step(ids: number[], opts?: StepOptions) {
        if (!kv) throw new Error('session was disposed');
        return step(ids, kv, opts);
      },
      reset() {
        if (kv) kv.position = 0;
      },
      dispose() {
        if (kv) free(kv);
        kv = null;
      },
    };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.scratch) this.freeScratch(this.scratch);
    for (const b of this.staging.splice(0)) b.destroy();
    // Free only the buffers no other backend still holds (derive shares them).
    for (const h of this.holds.values()) {
      h.count.n--;
      if (h.count.n === 0) for (const b of h.buffers) this.ctx.destroy(b);
    }
    this.holds.clear();
    this.weights.clear();
    this.vectors.clear();
    this.lowRank.clear();
  }
}
