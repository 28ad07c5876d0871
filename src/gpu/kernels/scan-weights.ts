// One pass of the weight-statistics reduction over an f32 matrix W [rows, cols] (Frobenius, kurtosis,
// outlier share, OWL/Wanda counts, ZD; the three passes are documented in shaders/scan-weights.wgsl and
// src/core/analysis/scans.ts). Writes scanWeightChunks(n, simple) chunks x 8 f32 partials from outOffset;
// the host adds them in float64 (slot 3 of pass 0 by max). Kernel: shaders/scan-weights.wgsl (`main`: one
// 256-thread workgroup per 4096 elements; `simple`: one invocation per 256, no barriers).
// Reference: cpuWeightScanner in src/core/analysis/scans.ts.
import { type BufferArg, type GpuContext, UniformWriter, dispatch1d } from '../context.ts';

const CHUNK_MAIN = 4096;
const CHUNK_SIMPLE = 256;

export function scanWeightChunks(n: number, simple = false): number {
  return Math.max(1, Math.ceil(n / (simple ? CHUNK_SIMPLE : CHUNK_MAIN)));
}

export interface ScanWeightsArgs {
  w: BufferArg;
  /** ||X_j|| per column (length cols), for the Wanda score; absent -> score 0, OWL count 0. */
  norms?: BufferArg;
  out: BufferArg;
  rows: number;
  cols: number;
  pass: 0 | 1 | 2;
  /** Up to 5 pass parameters (see the shader). */
  params?: ArrayLike<number>;
  outOffset?: number;
  simple?: boolean;
}

export function encodeScanWeights(ctx: GpuContext, pass: GPUComputePassEncoder, a: ScanWeightsArgs): void {
  const n = a.rows * a.cols;
  if (n < 1) throw new Error(`encodeScanWeights: empty matrix ${a.rows}x${a.cols}`);
  const chunks = scanWeightChunks(n, a.simple);
  const p = ctx.pipeline({ shader: 'scan-weights', entry: a.simple ? 'simple' : 'main' });
  const uw = new UniformWriter()
    .u32(n).u32(a.cols).u32(a.pass).u32(a.norms ? 1 : 0).u32(a.simple ? CHUNK_SIMPLE : CHUNK_MAIN).u32(a.outOffset ?? 0).u32(chunks).u32(0);
  for (let i = 0; i < 5; i++) uw.f32(a.params?.[i] ?? 0);
  const u = ctx.uniform(uw.bytes());
  pass.setPipeline(p);
  pass.setBindGroup(0, ctx.bindGroup(p, [u, a.w, a.norms ?? ctx.placeholder(), a.out]));
  const [gx, gy] = dispatch1d(chunks, a.simple ? 64 : 1);
  pass.dispatchWorkgroups(gx, gy);
}
