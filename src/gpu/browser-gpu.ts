// The browser's WebGPU entry point (window or worker scope). The only place navigator.gpu is read.
export function browserGpu(): GPU | null {
  const nav = (globalThis as { navigator?: Navigator & { gpu?: GPU } }).navigator;
  return nav?.gpu ?? null;
}
