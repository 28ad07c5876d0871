// Elementwise kernels (shaders/elementwise.wgsl): SiLU gate, GELU (tanh form), residual add a += s * b.
// All work in place on their first buffer. References: src/core/ops/silu-gate.ts, src/core/ops/gelu.ts.
import { type GpuContext, UniformWriter, dispatch1d } from '../context.ts';

function run(ctx: GpuContext, pass: GPUComputePassEncoder, entry: string, a: GPUBuffer, b: GPUBuffer | null, n: number, scale = 1): void {
  const p = ctx.pipeline({ shader: 'elementwise', entry });
  pass.setPipeline(p);
  const u = ctx.uniform(new UniformWriter().u32(n).f32(scale).u32(0).u32(0).bytes());
  pass.setBindGroup(0, ctx.bindGroup(p, b ? [u, a, b] : [u, a]));
  const [gx, gy] = dispatch1d(n, 256);
  pass.dispatchWorkgroups(gx, gy);
}

/** g = silu(g) * u over n values (in place on g). */
export function encodeSiluGate(ctx: GpuContext, pass: GPUComputePassEncoder, a: { g: GPUBuffer; u: GPUBuffer; n: number }): void {
  run(ctx, pass, 'silu_gate', a.g, a.u, a.n);
}

/** x = gelu_tanh(x) over n values (in place). */
export function encodeGelu(ctx: GpuContext, pass: GPUComputePassEncoder, a: { x: GPUBuffer; n: number }): void {
  run(ctx, pass, 'gelu', a.x, null, a.n);
}

/** a += scale * b over n values. */
export function encodeAdd(ctx: GpuContext, pass: GPUComputePassEncoder, a: { a: GPUBuffer; b: GPUBuffer; n: number; scale?: number }): void {
  run(ctx, pass, 'add', a.a, a.b, a.n, a.scale ?? 1);
}
