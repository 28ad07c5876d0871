// GpuContext: the one object every kernel module receives. It owns the device, the pipeline cache
// (keyed by kernel name + compile-time constants, never by shape), and per-dispatch uniform buffers.
//
// Recording model: a kernel module's `encode*` function appends one or more dispatches to a
// GPUComputePassEncoder that the caller owns, so a whole forward pass is one command buffer.
// Uniforms are written with queue.writeBuffer into a fresh small buffer per dispatch (taken from a
// pool that is recycled only after the queue has finished the submission that used it), so many
// dispatches with different shapes can share one submit.

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
  private buf = new ArrayBuffer(256);
  private u = new Uint32Array(this.buf);
  private i = new Int32Array(this.buf);
  private f = new Float32Array(this.buf);
  private n = 0;
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
    return this.buf.slice(0, Math.max(16, Math.ceil((this.n * 4) / 16) * 16));
  }
}

export class GpuContext {
  readonly device: GPUDevice;
  private placeholderBuf: GPUBuffer | null = null;
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
    const id = `${key.shader}:${entry}:${Object.keys(consts).sort().map((k) => `${k}=${consts[k]}`).join(',')}`;
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

  /** A 256-byte uniform buffer holding `words` (u32/i32/f32 views over one ArrayBuffer). */
  uniform(data: ArrayBuffer | ArrayBufferView): GPUBuffer {
    const bytes = data instanceof ArrayBuffer ? data : data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
    if (bytes.byteLength > 256) throw new Error('uniform block larger than 256 bytes');
    const buf =
      this.freeUniforms.pop() ??
      this.device.createBuffer({ label: 'uniform', size: 256, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    this.device.queue.writeBuffer(buf, 0, bytes as ArrayBuffer);
    this.inFlightUniforms.push(buf);
    return buf;
  }

  /**
   * Submit command buffers, then recycle the uniforms they used once the queue is done with them.
   * Every caller that used uniform() must submit through here.
   */
  submit(cmds: GPUCommandBuffer[]): Promise<void> {
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
    return this.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(group),
      entries: buffers.map((b, i) => ({
        binding: i,
        resource: (b as { buffer?: GPUBuffer }).buffer ? (b as GPUBufferBinding) : { buffer: b as GPUBuffer },
      })),
    });
  }

  /**
   * A bind group with explicit binding numbers, for entry points whose 'auto' layout skips some
   * bindings of their shader file: `bindGroupAt(p, { 0: u, 1: a, 4: out })`.
   */
  bindGroupAt(pipeline: GPUComputePipeline, entries: Record<number, BufferArg>, group = 0): GPUBindGroup {
    return this.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(group),
      entries: Object.entries(entries).map(([binding, b]) => ({
        binding: Number(binding),
        resource: 'buffer' in b ? b : { buffer: b },
      })),
    });
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
