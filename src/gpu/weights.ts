// Weight tensors on the GPU, kept in their stored GGUF type: the buffer holds the file's bytes
// unchanged (padded with zeros to a multiple of 4 bytes), never an f32 expansion. Kernels that read
// them (shaders/matmul-q.wgsl: matmul and get_rows) decode blocks on the fly.
//
// Shapes: a [rows, cols] tensor (PyTorch order, rows = output features, cols = the contiguous row
// length, GGUF ne = [cols, rows]); higher-rank tensors are flattened to [prod(shape[..-1]), shape[-1]],
// vectors are [1, n].
//
// Size limit: a weight is one storage binding, so its byte size must not exceed the device's
// maxStorageBufferBindingSize (WebGPU default 128 MiB; adapters often allow 1-4 GiB when the device is
// requested with the adapter's limits) nor maxBufferSize. Larger tensors (e.g. a 128k x 4096 Q8_0
// embedding, 557 MB) throw a clear error here; splitting a tensor over several buffers by row range
// is a follow-up.

import type { WeightTensor } from '../core/formats/types.ts';
import { ENGINE_TYPES, GGMLType, rowBytes, typeName } from '../core/quant/types.ts';
import type { GpuContext } from './context.ts';

export interface GpuWeight {
  /** The GGUF bytes of the tensor, row after row (usage STORAGE | COPY_SRC | COPY_DST). */
  buffer: GPUBuffer;
  type: GGMLType;
  /** Rows (output features). */
  rows: number;
  /** Values per row (input features); a multiple of the block size for block types. */
  cols: number;
  /** Bytes of tensor data (rows * rowBytes(type, cols)), before padding. */
  bytes: number;
  name: string;
}

/** Types uploadWeight / encodeMatmulQ / encodeGetRowsQ accept. */
export function gpuWeightTypeSupported(type: GGMLType): boolean {
  return ENGINE_TYPES.includes(type);
}

/** Rows and columns of a weight tensor (see the shape note at the top of this file). */
export function weightDims(w: Pick<WeightTensor, 'shape'>): { rows: number; cols: number } {
  if (w.shape.length === 0) return { rows: 1, cols: 1 };
  const cols = w.shape[w.shape.length - 1];
  let rows = 1;
  for (let i = 0; i < w.shape.length - 1; i++) rows *= w.shape[i];
  return { rows, cols };
}

function mib(n: number): string {
  return `${(n / 2 ** 20).toFixed(1)} MiB`;
}

/** Upload a weight tensor as packed bytes. Throws for unsupported types and tensors past the device's binding limit. */
export function uploadWeight(ctx: GpuContext, w: WeightTensor): GpuWeight {
  const { rows, cols } = weightDims(w);
  const what = `weight ${w.name} (${typeName(w.type)} [${w.shape.join(', ')}])`;
  if (!gpuWeightTypeSupported(w.type)) {
    throw new Error(`${what}: type ${typeName(w.type)} is not supported on the GPU (supported: ${ENGINE_TYPES.map(typeName).join(', ')})`);
  }
  const bytes = rows * rowBytes(w.type, cols);
  if (w.data.byteLength < bytes) {
    throw new Error(`${what}: needs ${bytes} bytes of data, got ${w.data.byteLength}`);
  }
  const limits = ctx.device.limits;
  const padded = Math.ceil(bytes / 4) * 4;
  const limit = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  if (padded > limit) {
    throw new Error(
      `${what} is ${bytes} bytes (${mib(bytes)}), more than this device's storage binding limit ` +
        `(maxStorageBufferBindingSize ${limits.maxStorageBufferBindingSize} bytes = ${mib(limits.maxStorageBufferBindingSize)}, ` +
        `maxBufferSize ${limits.maxBufferSize}). Request the device with the adapter's higher limits; ` +
        'splitting a tensor over several buffers is not implemented yet.',
    );
  }
  const data = w.data.byteLength === bytes ? w.data : w.data.subarray(0, bytes);
  const buffer = ctx.storage(data, w.name);
  return { buffer, type: w.type, rows, cols, bytes, name: w.name };
}

/** Bytes per row of a GPU weight. */
export function gpuWeightRowBytes(w: GpuWeight): number {
  return rowBytes(w.type, w.cols);
}
