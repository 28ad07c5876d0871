// SwiGLU gate on the GPU: y = silu(g) * u elementwise over T rows of C (silu(x) = x / (1 + e^-x)).
// Kernel: shaders/silu-gate.wgsl. Reference: src/core/ops/silu-gate.ts.
// Shapes: either `n` values (one row) or T rows of C; each operand has an offset and a row stride.
//   - two buffers: { g, u, n } (in place over g) or { g, u, y, n };
//   - halves of one fused buffer gu [T, 2F]: { g: gu, u: gu, T, C: F, uOffset: F, gStride: 2F,
//     uStride: 2F } (in place over the gate half, or into y).
import { type BufferArg, type GpuContext, UniformWriter, dispatch1d } from '../context.ts';

export interface SiluGateArgs {
  g: BufferArg;
  u: BufferArg;
  /** Output; omit to overwrite g. Must not alias g or u otherwise. */
  y?: BufferArg;
  /** Values in one row (shorthand for T = 1, C = n). */
  n?: number;
  T?: number;
  C?: number;
  gOffset?: number;
  gStride?: number;
  uOffset?: number;
  uStride?: number;
  yOffset?: number;
  yStride?: number;
}

function bufferOf(b: BufferArg): GPUBuffer {
  return 'buffer' in b ? b.buffer : b;
}

export function encodeSiluGate(ctx: GpuContext, pass: GPUComputePassEncoder, a: SiluGateArgs): void {
  const T = a.n !== undefined ? 1 : (a.T ?? 1);
  const C = a.n ?? a.C;
  if (C === undefined || C < 1 || T < 1) throw new Error('encodeSiluGate: give n, or T and C (positive)');
  const fused = !a.y && bufferOf(a.g) === bufferOf(a.u);
  const entry = a.y ? 'main' : fused ? 'in_place_fused' : 'in_place';
  const p = ctx.pipeline({ shader: 'silu-gate', entry });
  const gOff = a.gOffset ?? 0;
  const ldg = a.gStride ?? C;
  const u = ctx.uniform(
    new UniformWriter()
      .u32(T).u32(C).u32(gOff).u32(ldg).u32(a.uOffset ?? 0).u32(a.uStride ?? C)
      .u32(a.y ? (a.yOffset ?? 0) : gOff).u32(a.y ? (a.yStride ?? C) : ldg)
      .bytes(),
  );
  pass.setPipeline(p);
  pass.setBindGroup(0, ctx.bindGroup(p, a.y ? [u, a.g, a.u, a.y] : fused ? [u, a.g] : [u, a.g, a.u]));
  const [gx, gy] = dispatch1d(T * C, 256);
  pass.dispatchWorkgroups(gx, gy);
}
