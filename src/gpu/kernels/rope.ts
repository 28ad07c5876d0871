// Rotary position embedding on the GPU, in place on x [T, H, D] (and optionally k [T, Hkv, D]) for
// positions pos0 + t, 'adjacent' (pairs 2i, 2i+1: GGUF LLAMA, llama2.c) or 'half' (pairs i, i + dim/2:
// HF rotate_half, NEOX) form; the first `dim` channels of each head rotate.
// Kernel: shaders/rope.wgsl. Reference: src/core/ops/rope.ts (float64 angles); the kernel uses the f32
// angles of llama2.c from a cos/sin table (src/core/ops/rope-table.ts) that this module builds on the
// host once per (context, theta, dim) and grows (doubling) as positions advance.
//
// Fused QKV rows [T, (H + 2 Hkv) D]: call once with x = qkv, H = H + Hkv, xStride = (H + 2 Hkv) D
// (q and k heads are adjacent and rotate alike).
import { ropeTable } from '../../core/ops/rope-table.ts';
import { type BufferArg, type GpuContext, UniformWriter, dispatch1d } from '../context.ts';

export interface RopeArgs {
  /** x [T, H, D], rotated in place (token t, head h at xOffset + t * xStride + h * D). */
  x: BufferArg;
  T: number;
  H: number;
  D: number;
  /** Position of token 0. */
  pos0: number;
  theta: number;
  /** Rotary channels per head (even, <= D). */
  dim: number;
  kind: 'adjacent' | 'half';
  xOffset?: number;
  /** Elements between tokens (default H * D). */
  xStride?: number;
  /** Optional second buffer k [T, Hkv, D] (a different buffer than x), rotated in the same dispatch. */
  k?: BufferArg;
  Hkv?: number;
  kOffset?: number;
  kStride?: number;
}

interface Table {
  buf: GPUBuffer;
  positions: number;
}
const tables = new WeakMap<GpuContext, Map<string, Table>>();

/** The cos/sin table of (theta, dim) covering positions 0..n-1 (cached; grown by doubling). */
export function ropeTableBuffer(ctx: GpuContext, theta: number, dim: number, n: number): GPUBuffer {
  let m = tables.get(ctx);
  if (!m) tables.set(ctx, (m = new Map()));
  const key = `${theta}:${dim}`;
  const have = m.get(key);
  if (have && have.positions >= n) return have.buf;
  // An older, smaller table may still be referenced by recorded work: it is dropped, not destroyed.
  const positions = Math.max(256, 2 ** Math.ceil(Math.log2(n)));
  const buf = ctx.storage(ropeTable(theta, dim, 0, positions), `rope-table θ=${theta} dim=${dim}`);
  m.set(key, { buf, positions });
  return buf;
}

function bufferOf(b: BufferArg): GPUBuffer {
  return 'buffer' in b ? b.buffer : b;
}

export function encodeRope(ctx: GpuContext, pass: GPUComputePassEncoder, a: RopeArgs): void {
  const { T, H, D, dim } = a;
  if (dim % 2 !== 0 || dim < 2 || dim > D) throw new Error(`encodeRope: rotary dim ${dim} must be even, >= 2 and <= head dim ${D}`);
  if (T < 1 || H < 1) throw new Error(`encodeRope: empty shape T=${T} H=${H}`);
  const Hk = a.k ? (a.Hkv ?? 0) : 0;
  if (a.k && Hk < 1) throw new Error('encodeRope: k given without Hkv');
  if (a.k && bufferOf(a.k) === bufferOf(a.x)) {
    throw new Error('encodeRope: k is the same buffer as x; rotate q and k heads together through x (see header)');
  }
  const table = ropeTableBuffer(ctx, a.theta, dim, a.pos0 + T);
  const p = ctx.pipeline({ shader: 'rope', entry: a.k ? 'main_qk' : 'main' });
  const u = ctx.uniform(
    new UniformWriter()
      .u32(T).u32(H).u32(Hk).u32(D).u32(dim).u32(a.pos0).u32(a.kind === 'half' ? 1 : 0)
      .u32(a.xOffset ?? 0).u32(a.xStride ?? H * D).u32(a.kOffset ?? 0).u32(a.kStride ?? Hk * D)
      .bytes(),
  );
  pass.setPipeline(p);
  pass.setBindGroup(0, ctx.bindGroup(p, a.k ? [u, table, a.x, a.k] : [u, table, a.x]));
  const [gx, gy] = dispatch1d(T * (H + Hk) * (dim / 2), 64);
  pass.dispatchWorkgroups(gx, gy);
}
