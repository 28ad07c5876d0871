// A real WebGPU device for Node tests, from Dawn's `webgpu` package (on machines without a GPU it
// finds Chromium's SwiftShader adapter; see tests/setup-env.ts). No adapter is a test failure, unless
// LAYERLAB_SKIP_GPU=1 is set, in which case the skip is printed.
import { create, globals } from 'webgpu';
import '../../src/gpu/shaders-node.ts';

let devicePromise: Promise<GPUDevice> | null = null;

export const skipGpu = process.env.LAYERLAB_SKIP_GPU === '1';
if (skipGpu) {
  console.warn('[layerlab] LAYERLAB_SKIP_GPU=1: GPU tests are SKIPPED (they would otherwise fail without an adapter).');
}

// Dawn's instance dies with the object create() returns; if it is garbage-collected while a device is
// in use the process crashes in the driver, so the test instance is kept for the life of the process.
let gpuInstance: GPU | null = null;

export function nodeGpu(): GPU {
  Object.assign(globalThis, globals);
  if (!gpuInstance) gpuInstance = create([]) as unknown as GPU;
  return gpuInstance;
}

export function testDevice(): Promise<GPUDevice> {
  if (!devicePromise) {
    devicePromise = (async () => {
      const adapter = await nodeGpu().requestAdapter();
      if (!adapter) {
        throw new Error(
          'No WebGPU adapter found. Install Chromium (apt-get install chromium libvulkan1) so SwiftShader is ' +
            'available, or set LAYERLAB_SKIP_GPU=1 to skip GPU tests explicitly.',
        );
      }
      return adapter.requestDevice({
        requiredLimits: {
          maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
          maxBufferSize: adapter.limits.maxBufferSize,
          maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
          maxStorageBuffersPerShaderStage: adapter.limits.maxStorageBuffersPerShaderStage,
        },
      });
    })();
  }
  return devicePromise;
}
