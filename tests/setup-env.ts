// Point Dawn (the `webgpu` npm package) at Chromium's SwiftShader Vulkan driver when no other
// driver is configured, so GPU tests find a software adapter on machines without a GPU.
import { existsSync } from 'node:fs';

const swiftshader = '/usr/lib/chromium/vk_swiftshader_icd.json';
if (!process.env.VK_ICD_FILENAMES && existsSync(swiftshader)) {
  process.env.VK_ICD_FILENAMES = swiftshader;
}
