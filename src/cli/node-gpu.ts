// WebGPU for Node: Dawn's `webgpu` package. If no adapter is found with the system's Vulkan drivers,
// retry with Chromium's SwiftShader driver when it is installed (a software adapter, reported as such).
import { create, globals } from 'webgpu';
import { existsSync } from 'node:fs';

const swiftshader = '/usr/lib/chromium/vk_swiftshader_icd.json';

// Dawn's instance dies with the GPU object that create() returns: if that object is garbage-collected
// while devices are in use, the process crashes inside the driver. Keep every instance alive here.
const instances: GPU[] = [];

function instance(): GPU {
  const gpu = create([]) as unknown as GPU;
  instances.push(gpu);
  return gpu;
}

export async function nodeGpu(): Promise<GPU | null> {
  Object.assign(globalThis, globals);
  if (instances.length) return instances[instances.length - 1];
  let gpu = instance();
  if (await gpu.requestAdapter()) return gpu;
  if (!process.env.VK_ICD_FILENAMES && existsSync(swiftshader)) {
    process.env.VK_ICD_FILENAMES = swiftshader;
    gpu = instance();
    if (await gpu.requestAdapter()) return gpu;
  }
  return null;
}
