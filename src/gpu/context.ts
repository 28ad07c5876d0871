// GpuContext: the one object every kernel module receives. It owns the device, the pipeline cache
// (keyed by kernel name + compile-time constants, never by shape), and per-dispatch uniform buffers.
//
// Recording model: a kernel module's `encode*` function appends one or more dispatches to a
// GPUComputePassEncoder that the caller owns, so a whole forward pass is one command buffer.
// Uniforms: by default each dispatch's block is written with queue.writeBuffer into a fresh small
// buffer (taken from a pool recycled only after the queue has finished the submission that used it).
// A caller that records many dispatches (the GpuBackend forward) opens a *uniform arena* instead
// (beginArena .. submit): every block goes to the next 256-byte slot of one CPU mirror and the used
// slots are written with one queue.writeBuffer per 64 KiB chunk at submit. Because slot i of one
// recording is slot i of the next recording with the same dispatch sequence, the bind groups made
// while an arena is open are cached (keyed by pipeline + bound buffer ranges) and reused step after
// step; queue.writeBuffer is ordered with submits, so rewriting the arena for the next step never
// disturbs a step still in flight. Buffers bound into cached bind groups must be released with
// forget(buf) (or destroy(buf)) when they are destroyed.

export interface PipelineKey {
  /** shaders/<shader>.wgsl */
  shader: string;
  /** entry point, default 'main' */
  entry?: string;
  /** WGSL `override` constants (compile-time facts only: workgroup size, format, vector width). */
  constants?: Record<string, number>;
}

/** A storage binding: a whole buffer or a range of one (offset must respect minStorageBufferOffsetAlignment). */
export type BufferArg = GPUBuffer | GPUBufferBinding;

/**
 * Builds a uniform block word by word (every field 4 bytes, WGSL struct of u32/i32/f32 scalars in
 * declaration order). `ctx.uniform(new UniformWriter().u32(M).f32(eps).bytes())`.
 */
export class UniformWriter {
  // One shared set of views serves the usual `new UniformWriter()...bytes()` chain (no allocation per
  // dispatch); a writer made while another is still open gets its own.
  private static shared: { buf: ArrayBuffer; u: Uint32Array; i: Int32Array; f: Float32Array } | null = null;
  private static sharedBusy = false;
  private buf: ArrayBuffer;
  private u: Uint32Array;
  private i: Int32Array;
  private f: Float32Array;
  private n = 0;
  private owns: boolean;
  constructor() {
    this.owns = !UniformWriter.sharedBusy;
    let v = this.owns ? UniformWriter.shared : null;
    if (!v) {
      const buf = new ArrayBuffer(256);
      v = { buf, u: new Uint32Array(buf), i: new Int32Array(buf), f: new Float32Array(buf) };
      if (this.owns) UniformWriter.shared = v;
    }
    if (this.owns) UniformWriter.sharedBusy = true;
    this.buf = v.buf;
    this.u = v.u;
    this.i = v.i;
    this.f = v.f;
  }
  private check(): void {
    if (this.n >= 64) throw new Error('uniform block larger than 256 bytes');
  }
  u32(v: number): this {
    this.check();
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`uniform u32 out of range: ${v}`);
    this.u[this.n++] = v;
    return this;
  }
  i32(v: number): this {
    this.check();
    this.i[this.n++] = v;
    return this;
  }
  f32(v: number): this {
    this.check();
    this.f[this.n++] = v;
    return this;
  }
  /** The block, padded to a multiple of 16 bytes. */
  bytes(): ArrayBuffer {
    const size = Math.max(16, Math.ceil((this.n * 4) / 16) * 16);
    // Words past n are zeroed in the copy (the shared buffer holds an earlier block's words there).
    const out = this.buf.slice(0, size);
    if (this.n * 4 < size) new Uint8Array(out, this.n * 4).fill(0);
    if (this.owns) {
      UniformWriter.sharedBusy = false;
      this.owns = false;
    }
    return out;
  }
}

/** Bytes per uniform slot of the arena (the WebGPU minUniformBufferOffsetAlignment is at most 256). */
const SLOT = 256;
/** Slots per arena chunk (64 KiB buffers). */
const CHUNK_SLOTS = 256;
/** Cached bind groups above which the cache is dropped whole (a safety net; forget() keeps it small). */
const MAX_CACHED_BIND_GROUPS = 16384;

export class GpuContext {
  readonly device: GPUDevice;
  private placeholderBuf: GPUBuffer | null = null;
  private arenaChunks: GPUBuffer[] = [];
  private arenaMirror = new Uint8Array(SLOT * CHUNK_SLOTS);
  private arenaUsed = -1; // -1: no arena open
  private ids = new WeakMap<object, number>();
  private nextId = 1;
  private groups = new Map<string, GPUBindGroup>();
  private groupsOf = new Map<number, Set<string>>();
  /** Host-side counters (tests and the bench read them): bind groups created / reused, uniform writes. */
  readonly stats = { bindGroupsCreated: 0, bindGroupsReused: 0, uniformWrites: 0 };
  private pipelines = new Map<string, GPUComputePipeline>();
  private modules = new Map<string, GPUShaderModule>();
  private freeUniforms: GPUBuffer[] = [];
  private inFlightUniforms: GPUBuffer[] = [];
  private shaderSource: (name: string) => string;

  constructor(device: GPUDevice, shaderSource: (name: string) => string) {
    this.device = device;
    this.shaderSource = shaderSource;
  }

  pipeline(key: PipelineKey): GPUComputePipeline {
    const entry = key.entry ?? 'main';
    const consts = key.constants ?? {};
    let ck = '';
    if (key.constants) {
      const names = Object.keys(consts);
      if (names.length > 1) names.sort();
      for (const k of names) ck += `${k}=${consts[k]},`;
    }
    const id = `${key.shader}:${entry}:${ck}`;
    let p = this.pipelines.get(id);
    if (!p) {
      let module = this.modules.get(key.shader);
      if (!module) {
        module = this.device.createShaderModule({ label: key.shader, code: this.shaderSource(key.shader) });
        this.modules.set(key.shader, module);
      }
      p = this.device.createComputePipeline({
        label: id,
        layout: 'auto',
        compute: { module, entryPoint: entry, constants: consts },
      });
      this.pipelines.set(id, p);
    }
    return p;
  }

  /**
   * A uniform block (at most 256 bytes) for one dispatch, as a binding: a 256-byte slot of the open
   * arena, or else a 256-byte buffer of its own from the pool.
   */
  uniform(data: ArrayBuffer | ArrayBufferView): GPUBufferBinding {
    const view = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (view.byteLength > SLOT) throw new Error('uniform block larger than 256 bytes');
    if (this.arenaUsed >= 0) {
      const slot = this.arenaUsed++;
      const chunk = Math.floor(slot / CHUNK_SLOTS);
      while (this.arenaChunks.length <= chunk) {
        this.arenaChunks.push(this.device.createBuffer({ label: `uniform arena ${this.arenaChunks.length}`, size: SLOT * CHUNK_SLOTS, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST }));
      }
      if (this.arenaMirror.byteLength < (slot + 1) * SLOT) {
        const m = new Uint8Array(this.arenaMirror.byteLength * 2);
        m.set(this.arenaMirror);
        this.arenaMirror = m;
      }
      this.arenaMirror.fill(0, slot * SLOT, (slot + 1) * SLOT);
      this.arenaMirror.set(view, slot * SLOT);
      return { buffer: this.arenaChunks[chunk], offset: (slot % CHUNK_SLOTS) * SLOT, size: SLOT };
    }
    const buf =
      this.freeUniforms.pop() ??
      this.device.createBuffer({ label: 'uniform', size: SLOT, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    this.device.queue.writeBuffer(buf, 0, view.buffer as ArrayBuffer, view.byteOffset, view.byteLength);
    this.stats.uniformWrites++;
    this.inFlightUniforms.push(buf);
    return { buffer: buf, offset: 0, size: SLOT };
  }

  /**
   * Open a uniform arena for the recording that follows (see the file comment): until the next
   * submit(), uniform() hands out arena slots and bindGroup()/bindGroupAt() reuse cached bind groups.
   * The recording between beginArena() and submit() must not yield to other users of this context
   * (no await in between).
   */
  beginArena(): void {
    if (this.arenaUsed >= 0) throw new Error('beginArena: an arena is already open (submit the previous recording first)');
    this.arenaUsed = 0;
  }

  /** Close an open arena without writing it (a recording that failed before its submit). */
  abortArena(): void {
    this.arenaUsed = -1;
  }

  /** Write the arena's used slots (one writeBuffer per chunk) and close it. */
  private flushArena(): void {
    const used = this.arenaUsed;
    this.arenaUsed = -1;
    for (let c = 0; c * CHUNK_SLOTS < used; c++) {
      const n = Math.min(CHUNK_SLOTS, used - c * CHUNK_SLOTS) * SLOT;
      this.device.queue.writeBuffer(this.arenaChunks[c], 0, this.arenaMirror.buffer as ArrayBuffer, c * CHUNK_SLOTS * SLOT, n);
      this.stats.uniformWrites++;
    }
  }

  /**
   * Submit command buffers, then recycle the uniforms they used once the queue is done with them.
   * Every caller that used uniform() must submit through here (it also flushes an open arena).
   */
  submit(cmds: GPUCommandBuffer[]): Promise<void> {
    if (this.arenaUsed >= 0) this.flushArena();
    this.device.queue.submit(cmds);
    const used = this.inFlightUniforms;
    this.inFlightUniforms = [];
    return this.device.queue.onSubmittedWorkDone().then(() => {
      this.freeUniforms.push(...used);
    });
  }

  /**
   * A bind group whose entry i is binding i (whole buffers or ranges). Shaders that declare an
   * optional input bind placeholder() there when the caller has none.
   */
  bindGroup(pipeline: GPUComputePipeline, buffers: (GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number })[], group = 0): GPUBindGroup {
    const entries = buffers.map((b, i) => ({
      binding: i,
      resource: (b as { buffer?: GPUBuffer }).buffer ? (b as GPUBufferBinding) : { buffer: b as GPUBuffer },
    }));
    return this.cachedGroup(pipeline, group, entries);
  }

  /** Stable small id of a GPU object (pipelines, buffers) for bind-group cache keys. */
  private idOf(o: object): number {
    let id = this.ids.get(o);
    if (id === undefined) this.ids.set(o, (id = this.nextId++));
    return id;
  }

  /** createBindGroup, through the cache while an arena is open (see the file comment). */
  private cachedGroup(pipeline: GPUComputePipeline, group: number, entries: { binding: number; resource: GPUBufferBinding }[]): GPUBindGroup {
    const make = () => {
      this.stats.bindGroupsCreated++;
      return this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(group), entries });
    };
    if (this.arenaUsed < 0) return make();
    const bufIds = entries.map((e) => this.idOf(e.resource.buffer));
    const key = `${this.idOf(pipeline)}/${group}:` + entries.map((e, i) => `${e.binding}=${bufIds[i]}@${e.resource.offset ?? 0}+${e.resource.size ?? '*'}`).join(',');
    const have = this.groups.get(key);
    if (have) {
      this.stats.bindGroupsReused++;
      return have;
    }
    if (this.groups.size >= MAX_CACHED_BIND_GROUPS) {
      this.groups.clear();
      this.groupsOf.clear();
    }
    const g = make();
    this.groups.set(key, g);
    for (const id of bufIds) {
      let s = this.groupsOf.get(id);
      if (!s) this.groupsOf.set(id, (s = new Set()));
      s.add(key);
    }
    return g;
  }

  /** Drop the cached bind groups that bind `buf` (call before or after destroying it). */
  forget(buf: GPUBuffer): void {
    const id = this.ids.get(buf);
    if (id === undefined) return;
    const keys = this.groupsOf.get(id);
    if (!keys) return;
    for (const k of keys) this.groups.delete(k);
    this.groupsOf.delete(id);
  }

  /** forget(buf), then destroy it. */
  destroy(buf: GPUBuffer): void {
    this.forget(buf);
    buf.destroy();
  }

  /** Cached bind groups (tests). */
  cachedBindGroups(): number {
    return this.groups.size;
  }

  /**
   * A bind group with explicit binding numbers, for entry points whose 'auto' layout skips some
   * bindings of their shader file: `bindGroupAt(p, { 0: u, 1: a, 4: out })`.
   */
  bindGroupAt(pipeline: GPUComputePipeline, entries: Record<number, BufferArg>, group = 0): GPUBindGroup {
    return this.cachedGroup(pipeline, group, Object.entries(entries).map(([binding, b]) => ({
      binding: Number(binding),
      resource: 'buffer' in b ? b : { buffer: b },
    })));
  }

  /** A small (16-byte) storage buffer to bind where a kernel's optional input is absent. Never written. */
  placeholder(): GPUBuffer {
    if (!this.placeholderBuf) {
      this.placeholderBuf = this.device.createBuffer({ label: 'placeholder', size: 16, usage: GPUBufferUsage.STORAGE });
    }
    return this.placeholderBuf;
  }

  /** Create a storage buffer (usage STORAGE | COPY_SRC | COPY_DST), optionally filled. Size rounded up to 4. */
  storage(sizeOrData: number | ArrayBufferView, label?: string): GPUBuffer {
    const size = typeof sizeOrData === 'number' ? sizeOrData : sizeOrData.byteLength;
    const buf = this.device.createBuffer({
      label,
      size: Math.max(16, Math.ceil(size / 4) * 4),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    if (typeof sizeOrData !== 'number') {
      const view = sizeOrData;
      const padded = view.byteLength % 4 === 0 ? view : (() => {
        const p = new Uint8Array(Math.ceil(view.byteLength / 4) * 4);
        p.set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
        return p;
      })();
      this.device.queue.writeBuffer(buf, 0, padded.buffer as ArrayBuffer, padded.byteOffset, padded.byteLength);
    }
    return buf;
  }

  /** Read back `bytes` bytes of a storage buffer. */
  async read(buf: GPUBuffer, bytes = buf.size, offset = 0): Promise<ArrayBuffer> {
    const staging = this.device.createBuffer({ size: Math.ceil(bytes / 4) * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(buf, offset, staging, 0, Math.ceil(bytes / 4) * 4);
    await this.submit([enc.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const out = staging.getMappedRange().slice(0, bytes);
    staging.unmap();
    staging.destroy();
    return out;
  }

  async readF32(buf: GPUBuffer, count?: number): Promise<Float32Array> {
    return new Float32Array(await this.read(buf, (count ?? buf.size / 4) * 4));
  }
}

/** Workgroups needed to cover `n` items with `size` per group, split over y when x exceeds the limit. */
export function dispatch1d(n: number, size: number, maxPerDim = 65535): [number, number] {
  const groups = Math.ceil(n / size);
  if (groups <= maxPerDim) return [Math.max(1, groups), 1];
  const y = Math.ceil(groups / maxPerDim);
  return [Math.ceil(groups / y), y];
}
