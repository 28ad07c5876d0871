// LayerNorm over rows on the GPU (biased variance, as PyTorch): y[t, :] = (x - mean) / sqrt(var + eps)
// * w + b, x [T, C]; b optional. Row t of x at xOffset + t * xStride (default 0 / C); without y the rows
// are normalized in place. Kernel: shaders/layer-norm.wgsl. Reference: src/core/ops/layer-norm.ts.
import type { BufferArg, GpuContext } from '../context.ts';
import { encodeRowNorm, type RowNormArgs } from './row-norm.ts';

export interface LayerNormArgs extends RowNormArgs {
  /** Bias b[C] (optional). */
  b?: BufferArg;
}

export function encodeLayerNorm(ctx: GpuContext, pass: GPUComputePassEncoder, a: LayerNormArgs): void {
  // Uniform tail: has_bias; the bias binding sits between w and y (a placeholder without a bias).
  encodeRowNorm(ctx, pass, 'layer-norm', a, [a.b ? 1 : 0], [a.b ?? ctx.placeholder()]);
}
