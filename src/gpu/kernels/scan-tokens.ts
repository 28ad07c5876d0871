// Per-token sums of one block's residual taps on the GPU (cos / LIM / contribution scans):
// out[outOffset + t * 9 + k], k = <in,out>, |in|^2, |out|^2, <in,mid>, |mid|^2, <mid,out>, |attn_out|^2,
// |mlp_out|^2, |out - in|^2 over the C channels of rows t < T of [T, C] taps (f32). mid / attnOut / mlpOut
// are optional (absent -> zero sums). Kernel: shaders/scan-tokens.wgsl (`main`, or the barrier-free
// `simple` on software adapters). Reference: tokenSumsCpu in src/core/analysis/scans.ts.
import { type BufferArg, type GpuContext, UniformWriter, dispatch1d } from '../context.ts';

export interface ScanTokensArgs {
  hin: BufferArg;
  hout: BufferArg;
  mid?: BufferArg;
  attnOut?: BufferArg;
  mlpOut?: BufferArg;
  /** f32, T * 9 values written from outOffset (elements). */
  out: BufferArg;
  T: number;
  C: number;
  outOffset?: number;
  /** Barrier-free entry (software adapters). */
  simple?: boolean;
}

export function encodeScanTokens(ctx: GpuContext, pass: GPUComputePassEncoder, a: ScanTokensArgs): void {
  if (a.T < 1 || a.C < 1) throw new Error(`encodeScanTokens: empty shape T=${a.T} C=${a.C}`);
  const p = ctx.pipeline({ shader: 'scan-tokens', entry: a.simple ? 'simple' : 'main' });
  const flags = (a.mid ? 1 : 0) | (a.attnOut ? 2 : 0) | (a.mlpOut ? 4 : 0);
  const u = ctx.uniform(new UniformWriter().u32(a.T).u32(a.C).u32(flags).u32(a.outOffset ?? 0).bytes());
  const ph = ctx.placeholder();
  pass.setPipeline(p);
  pass.setBindGroup(0, ctx.bindGroup(p, [u, a.hin, a.attnOut ?? ph, a.mid ?? ph, a.mlpOut ?? ph, a.hout, a.out]));
  const [gx, gy] = dispatch1d(a.T, a.simple ? 64 : 1);
  pass.dispatchWorkgroups(gx, gy);
}
