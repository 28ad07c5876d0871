// Adapter and device: request the adapter's own limits (the defaults cap a storage binding at 128 MiB),
// describe the adapter for reports, detect software adapters, and surface device loss.

export interface AcquiredDevice {
  device: GPUDevice;
  adapter: string;
  software: boolean;
  features: string[];
  limits: { maxStorageBufferBindingSize: number; maxBufferSize: number };
}

export class NoAdapterError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'NoAdapterError';
  }
}

function describe(info: GPUAdapterInfo | undefined): { text: string; software: boolean } {
  const parts = [info?.vendor, info?.architecture, info?.device, info?.description].filter((s) => s && s.length > 0) as string[];
  const text = parts.length ? parts.join(' ') : 'unknown adapter';
  const software = /swiftshader|llvmpipe|software|warp|cpu/i.test(text) || (info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter === true;
  return { text, software };
}

export async function acquireDevice(gpu: GPU | undefined | null, onLost?: (reason: string) => void): Promise<AcquiredDevice> {
  if (!gpu) throw new NoAdapterError('WebGPU is not available in this environment (no navigator.gpu). Use Chrome/Edge 113+ or the CPU backend.');
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new NoAdapterError('No WebGPU adapter was found (the GPU may be blocklisted or WebGPU disabled). Use the CPU backend for small models.');
  const want = ['shader-f16', 'timestamp-query', 'subgroups'].filter((f) => adapter.features.has(f)) as GPUFeatureName[];
  const L = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures: want,
    requiredLimits: {
      maxStorageBufferBindingSize: L.maxStorageBufferBindingSize,
      maxBufferSize: L.maxBufferSize,
      maxComputeWorkgroupStorageSize: L.maxComputeWorkgroupStorageSize,
      maxStorageBuffersPerShaderStage: L.maxStorageBuffersPerShaderStage,
      maxComputeInvocationsPerWorkgroup: L.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: L.maxComputeWorkgroupSizeX,
    },
  });
  device.lost.then((info) => onLost?.(`${info.reason}: ${info.message}`));
  const d = describe(adapter.info);
  return {
    device,
    adapter: d.text,
    software: d.software,
    features: want,
    limits: { maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize, maxBufferSize: device.limits.maxBufferSize },
  };
}
