// Backward kernels for gradient attribution (issue 3, metric 8) on the GPU: the linear layer
// (shaders/grad-matmul.wgsl: dX = dY W, dW = dY^T X) and RMSNorm (shaders/grad-rms-norm.wgsl: dx, dw).
// References: src/core/grad/ops/linear.ts and src/core/grad/ops/rms-norm.ts (float64).
// Simple one-invocation-per-output kernels (no workgroup memory); not yet wired into a GPU backward pass.
import { type BufferArg, type GpuContext, UniformWriter, dispatch1d } from '../context.ts';

export interface MatmulBackwardArgs {
  /** dY [M, N] */
  dy: BufferArg;
  /** 'dx': W [N, K] -> out dX [M, K];  'dw': X [M, K] -> out dW [N, K]. */
  src: BufferArg;
  out: BufferArg;
  M: number;
  K: number;
  N: number;
  which: 'dx' | 'dw';
}

export function encodeMatmulBackward(ctx: GpuContext, pass: GPUComputePassEncoder, a: MatmulBackwardArgs): void {
  if (a.M < 1 || a.K < 1 || a.N < 1) throw new Error(`encodeMatmulBackward: empty shape M=${a.M} K=${a.K} N=${a.N}`);
  const p = ctx.pipeline({ shader: 'grad-matmul', entry: a.which });
  const u = ctx.uniform(new UniformWriter().u32(a.M).u32(a.K).u32(a.N).bytes());
  pass.setPipeline(p);
  pass.setBindGroup(0, ctx.bindGroup(p, [u, a.dy, a.src, a.out]));
  const [gx, gy] = dispatch1d((a.which === 'dx' ? a.M : a.N) * a.K, 64);
  pass.dispatchWorkgroups(gx, gy);
}

export interface RmsNormBackwardArgs {
  /** dY [T, C] */
  dy: BufferArg;
  /** x [T, C] (the norm's input) */
  x: BufferArg;
  /** w [C] (used by 'dx' only) */
  w: BufferArg;
  /** 'dx': [T, C]; 'dw': [C]. */
  out: BufferArg;
  T: number;
  C: number;
  eps: number;
  which: 'dx' | 'dw';
}

export function encodeRmsNormBackward(ctx: GpuContext, pass: GPUComputePassEncoder, a: RmsNormBackwardArgs): void {
  if (a.T < 1 || a.C < 1) throw new Error(`encodeRmsNormBackward: empty shape T=${a.T} C=${a.C}`);
  const p = ctx.pipeline({ shader: 'grad-rms-norm', entry: a.which });
  const u = ctx.uniform(new UniformWriter().u32(a.T).u32(a.C).f32(a.eps).bytes());
  pass.setPipeline(p);
  pass.setBindGroup(0, ctx.bindGroup(p, a.which === 'dx' ? [u, a.dy, a.x, a.out, a.w] : [u, a.dy, a.x, a.out]));
  const [gx, gy] = dispatch1d(a.which === 'dx' ? a.T : a.C, 64);
  pass.dispatchWorkgroups(gx, gy);
}
