// RMSNorm and LayerNorm over rows of x [T, C] (shaders/norm.wgsl). References: src/core/ops/rms-norm.ts,
// src/core/ops/layer-norm.ts. xOffset (elements) lets the final norm read only the last row.
import { type GpuContext, UniformWriter, dispatch1d } from '../context.ts';

export interface NormArgs {
  x: GPUBuffer;
  w: GPUBuffer;
  y: GPUBuffer;
  T: number;
  C: number;
  eps: number;
  xOffset?: number;
  /** One invocation per row, no barriers (software adapters). */
  simple?: boolean;
}

function encodeNorm(ctx: GpuContext, pass: GPUComputePassEncoder, entry: 'rms_norm' | 'layer_norm', a: NormArgs, b?: GPUBuffer): void {
  const p = ctx.pipeline({ shader: 'norm', entry: a.simple ? `${entry}_simple` : entry });
  const u = ctx.uniform(new UniformWriter().u32(a.T).u32(a.C).u32(a.xOffset ?? 0).f32(a.eps).bytes());
  pass.setPipeline(p);
  // layout 'auto' drops bindings an entry point does not use: rms_norm has no bias (binding 3).
  const entries: GPUBindGroupEntry[] = [
    { binding: 0, resource: { buffer: u } },
    { binding: 1, resource: { buffer: a.x } },
    { binding: 2, resource: { buffer: a.w } },
    { binding: 4, resource: { buffer: a.y } },
  ];
  if (b) entries.push({ binding: 3, resource: { buffer: b } });
  pass.setBindGroup(0, ctx.device.createBindGroup({ layout: p.getBindGroupLayout(0), entries }));
  const [gx, gy] = a.simple ? dispatch1d(a.T, 64) : dispatch1d(a.T, 1);
  pass.dispatchWorkgroups(gx, gy);
}

export function encodeRmsNorm(ctx: GpuContext, pass: GPUComputePassEncoder, a: NormArgs): void {
  encodeNorm(ctx, pass, 'rms_norm', a);
}

export function encodeLayerNorm(ctx: GpuContext, pass: GPUComputePassEncoder, a: NormArgs & { b: GPUBuffer }): void {
  encodeNorm(ctx, pass, 'layer_norm', a, a.b);
}
