// Barrier-free f32 linear layer for software adapters (shaders/matmul-simple.wgsl): same arguments and
// semantics as encodeMatmul (kernels/matmul.ts). Reference: src/core/ops/matmul.ts.
import { type GpuContext, UniformWriter, dispatch1d } from '../context.ts';
import type { MatmulArgs } from './matmul.ts';

export function encodeMatmulSimple(ctx: GpuContext, pass: GPUComputePassEncoder, a: MatmulArgs): void {
  const { M, N, K } = a;
  const p = ctx.pipeline({ shader: 'matmul-simple' });
  const flags = (a.bias ? 1 : 0) | (a.accumulate ? 2 : 0);
  const u = ctx.uniform(
    new UniformWriter().u32(M).u32(N).u32(K).u32(a.xStride ?? K).u32(a.xOffset ?? 0).u32(a.wStride ?? K).u32(a.wOffset ?? 0)
      .u32(a.yStride ?? N).u32(a.yOffset ?? 0).u32(a.biasOffset ?? 0).u32(flags).bytes(),
  );
  pass.setPipeline(p);
  pass.setBindGroup(0, ctx.bindGroup(p, [u, a.x, a.w, a.bias ?? ctx.placeholder(), a.y]));
  const [gx, gy] = dispatch1d(M * N, 64);
  pass.dispatchWorkgroups(gx, gy);
}
