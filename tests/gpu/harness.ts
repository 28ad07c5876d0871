// Shared plumbing for the kernel parity tests: one GpuContext on the test device, a helper that
// records one compute pass, submits it and fails on any WebGPU validation error, and upload/read.
import { GpuContext } from '../../src/gpu/context.ts';
import { shaderSource } from '../../src/gpu/shaders.ts';
import { testDevice } from '../helpers/gpu.ts';

let ctxPromise: Promise<GpuContext> | null = null;

export function testContext(): Promise<GpuContext> {
  if (!ctxPromise) ctxPromise = testDevice().then((d) => new GpuContext(d, shaderSource));
  return ctxPromise;
}

/** Record `encode` into one compute pass, submit it, and throw on validation / out-of-memory errors. */
export async function runPass(ctx: GpuContext, encode: (pass: GPUComputePassEncoder) => void): Promise<void> {
  const d = ctx.device;
  d.pushErrorScope('validation');
  d.pushErrorScope('out-of-memory');
  const enc = d.createCommandEncoder();
  const pass = enc.beginComputePass();
  encode(pass);
  pass.end();
  await ctx.submit([enc.finish()]);
  const oom = await d.popErrorScope();
  const val = await d.popErrorScope();
  if (val) throw new Error(`WebGPU validation error: ${val.message}`);
  if (oom) throw new Error(`WebGPU out-of-memory error: ${oom.message}`);
}

/** Storage buffer holding `data` (f32 or u32 values). */
export function upload(ctx: GpuContext, data: Float32Array | Uint32Array): GPUBuffer {
  return ctx.storage(data);
}
