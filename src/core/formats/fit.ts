// Will a model fit the device before it is loaded? From what is known without loading: the files' sizes
// (File.size, the hub listing) and, when cheap, the tensor table in the file's header (a GGUF header read
// from the first megabytes, a safetensors JSON header), the largest tensor is compared with the WebGPU
// limits a weight must respect (src/gpu/weights.ts: one weight tensor = one storage binding, kept in
// its file bytes, so bytes <= min(maxStorageBufferBindingSize, maxBufferSize)); otherwise the CPU
// backend (weights in JavaScript memory, up to CPU_LIMIT_BYTES here) or nothing.

import { parseGguf } from './gguf.ts';

/** Bytes in MiB / GiB for the estimate's line. */
export function fmtBytes(n: number): string {
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/** Weight bytes the CPU backend is offered (JavaScript memory in a tab: ArrayBuffers of a few GiB at most). */
export const CPU_LIMIT_BYTES = 2 * 1024 ** 3;

export interface TensorSize {
  name: string;
  bytes: number;
}

export interface DeviceLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
}

export interface FitEstimate {
  /** 'gpu': fits the WebGPU limits; 'cpu': not the GPU, the CPU backend can hold it; 'too-big': neither; 'unknown': cannot tell before loading. */
  verdict: 'gpu' | 'cpu' | 'too-big' | 'unknown';
  totalBytes: number;
  /** The largest tensor (null when no tensor table was read). */
  largest: TensorSize | null;
  /** min(maxStorageBufferBindingSize, maxBufferSize), null without a WebGPU adapter. */
  bindingLimit: number | null;
  tensors: number | null;
  /** One line for the page. */
  text: string;
}

/** Tensor sizes from the start of a GGUF file (enough bytes to cover the header and tensor infos). */
export function ggufTensorSizes(prefix: Uint8Array): TensorSize[] {
  return parseGguf(prefix, { headerOnly: true }).tensors.map((t) => ({ name: t.name, bytes: t.nbytes }));
}

/** Byte length of a safetensors header (the little-endian u64 in the first 8 bytes), plus those 8. */
export function safetensorsHeaderLength(first8: Uint8Array): number {
  if (first8.length < 8) throw new Error('safetensors: fewer than 8 bytes');
  const n = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (n > 100n * 1024n * 1024n) throw new Error(`safetensors: implausible header length ${n}`);
  return 8 + Number(n);
}

/** Tensor sizes from a safetensors header (the 8-byte length and the JSON; tensor data not needed). */
export function safetensorsTensorSizes(header: Uint8Array): TensorSize[] {
  const n = safetensorsHeaderLength(header);
  if (header.length < n) throw new Error(`safetensors: header needs ${n} bytes, got ${header.length}`);
  const json = JSON.parse(new TextDecoder().decode(header.subarray(8, n))) as Record<string, { data_offsets?: unknown }>;
  const out: TensorSize[] = [];
  for (const [name, v] of Object.entries(json)) {
    if (name === '__metadata__') continue;
    const o = v?.data_offsets;
    if (!Array.isArray(o) || o.length !== 2 || !o.every((x) => Number.isSafeInteger(x) && x >= 0) || o[1] < o[0]) throw new Error(`safetensors: tensor "${name}" has invalid data_offsets`);
    out.push({ name, bytes: o[1] - o[0] });
  }
  return out;
}

/**
 * The estimate from the files' sizes, the tensor table (null when none was read: then the whole largest
 * weight file is the upper bound of a tensor) and the device limits (null: no WebGPU adapter).
 */
export function estimateFit(files: { name: string; size: number }[], tensors: TensorSize[] | null, limits: DeviceLimits | null): FitEstimate {
  const weightFiles = files.filter((f) => !/\.json$|tokenizer|\.model$/i.test(f.name));
  const totalBytes = weightFiles.reduce((a, f) => a + f.size, 0);
  const largest = tensors && tensors.length ? tensors.reduce((a, t) => (t.bytes > a.bytes ? t : a)) : null;
  const bindingLimit = limits ? Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize) : null;
  const upper = largest?.bytes ?? weightFiles.reduce((a, f) => Math.max(a, f.size), 0);
  const base = { totalBytes, largest, bindingLimit, tensors: tensors ? tensors.length : null };
  const what = largest ? `largest tensor ${largest.name} ${fmtBytes(largest.bytes)}` : `largest weight file ${fmtBytes(upper)} (no tensor table read)`;
  const cpuOk = totalBytes <= CPU_LIMIT_BYTES;
  const cpuText = cpuOk ? `the CPU backend will be used (${fmtBytes(totalBytes)} of weights in memory; slow)` : `too big for the CPU backend as well (${fmtBytes(totalBytes)} > ${fmtBytes(CPU_LIMIT_BYTES)})`;
  if (bindingLimit === null) {
    return { ...base, verdict: cpuOk ? 'cpu' : 'too-big', text: `no WebGPU adapter: ${cpuText}` };
  }
  if (upper <= bindingLimit) {
    return { ...base, verdict: 'gpu', text: `fits on the GPU: ${what} vs binding limit ${fmtBytes(bindingLimit)}; ${fmtBytes(totalBytes)} of weights` };
  }
  if (!largest) {
    return { ...base, verdict: 'unknown', text: `${what} is above the binding limit ${fmtBytes(bindingLimit)}: whether one tensor is too big is known only after loading` };
  }
  return { ...base, verdict: cpuOk ? 'cpu' : 'too-big', text: `will not fit on the GPU: ${what} > binding limit ${fmtBytes(bindingLimit)}; ${cpuText}` };
}
