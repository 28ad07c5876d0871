// RMSNorm over rows on the GPU: y[t, :] = x[t, :] / sqrt(mean(x[t, :]^2) + eps) * w, x [T, C].
// Kernel: shaders/rms-norm.wgsl. Reference: src/core/ops/rms-norm.ts.
// Row t of x is read at xOffset + t * xStride (default 0 / C), e.g. xOffset = (T - 1) * C to normalize
// only the last token; without `y` the rows are normalized in place.
import type { GpuContext } from '../context.ts';
import { encodeRowNorm, type RowNormArgs } from './row-norm.ts';

export type RmsNormArgs = RowNormArgs;

export function encodeRmsNorm(ctx: GpuContext, pass: GPUComputePassEncoder, a: RmsNormArgs): void {
  encodeRowNorm(ctx, pass, 'rms-norm', a);
}
