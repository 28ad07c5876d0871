#!/usr/bin/env node
// Test prerequisite: Debian's Chromium (headless browser tests and its SwiftShader Vulkan driver, which
// Dawn's `webgpu` package uses for the Node GPU tests) and the Vulkan loader. Where they are missing and
// we are root on Debian/Ubuntu, install them through apt; otherwise stop with the exact command to run.
// Nothing is downloaded outside the system package manager.
import { existsSync } from 'node:fs';
import { execSync } from 'node:child_process';

const chromium = process.env.LAYERLAB_CHROMIUM ?? '/usr/bin/chromium';
const icd = '/usr/lib/chromium/vk_swiftshader_icd.json';
const vulkanLoader = ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib/aarch64-linux-gnu/libvulkan.so.1', '/usr/lib/libvulkan.so.1'];
const cmd = 'apt-get update && apt-get install -y chromium libvulkan1';

const missing = () => {
  const m = [];
  if (!existsSync(chromium)) m.push(`Chromium (${chromium})`);
  if (!existsSync(icd) && !process.env.VK_ICD_FILENAMES) m.push(`SwiftShader Vulkan ICD (${icd})`);
  if (!vulkanLoader.some((p) => existsSync(p))) m.push('Vulkan loader (libvulkan.so.1)');
  return m;
};

let m = missing();
if (m.length === 0) process.exit(0);
console.log(`[layerlab] missing for the tests: ${m.join(', ')}`);
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const hasApt = existsSync('/usr/bin/apt-get');
if (isRoot && hasApt) {
  console.log(`[layerlab] installing through apt: ${cmd}`);
  try {
    execSync(cmd, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  } catch {
    console.error(`[layerlab] apt failed. Run as root: ${cmd}`);
    process.exit(1);
  }
  m = missing();
  if (m.length === 0) process.exit(0);
  console.error(`[layerlab] still missing after apt: ${m.join(', ')}`);
  process.exit(1);
}
console.error(`[layerlab] cannot install them here (not root or no apt). Run as root:\n  sudo ${cmd}\nor set LAYERLAB_CHROMIUM to a Chromium binary.`);
process.exit(1);
