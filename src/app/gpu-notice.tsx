// The plain-words notice about where the numbers are computed: no WebGPU (another browser, WebGPU
// disabled, no adapter) means the CPU backend runs the small models; a software adapter (SwiftShader,
// llvmpipe, WARP) means correct but slow numbers. Nothing is shown on a hardware GPU.
import type { ModelInfo } from '../worker/api.ts';
import { useWorkbench } from '../store/index.ts';
import './workbench-extra.css';

export interface GpuNoticeText {
  kind: 'no-webgpu' | 'software';
  title: string;
  body: string;
}

/** What the notice says for a loaded model's backend, or null on a hardware GPU / before a load. */
export function gpuNotice(info: ModelInfo | null): GpuNoticeText | null {
  if (!info) return null;
  const b = info.backend;
  if (b.kind === 'cpu') {
    // The engine's reason, first sentence only (its advice is replaced by the page's own).
    const why = b.gpuUnavailable ? b.gpuUnavailable.split(/(?<=\.)\s/)[0] : 'The CPU backend was chosen.';
    return {
      kind: 'no-webgpu',
      title: 'No WebGPU here: running on the CPU instead',
      body:
        `${why} LayerLab computes everything with its JavaScript CPU backend, which gives the same numbers but is much slower: ` +
        'use the small models (stories260K, kjv-gpt2-8L). For larger models open the page in Chrome or Edge 113+ with hardware acceleration on.',
    };
  }
  if (b.software) {
    return {
      kind: 'software',
      title: 'Software WebGPU adapter: the numbers will be slow',
      body: `WebGPU runs on ${b.adapter}, an emulated GPU on the CPU. Results are correct but every analysis takes longer; stay with the small models or use a machine with a GPU.`,
    };
  }
  return null;
}

export function GpuNotice() {
  const info = useWorkbench((s) => s.model.info);
  const n = gpuNotice(info);
  if (!n) return null;
  return (
    <div className={`gpu-notice ${n.kind}`} role="status" data-testid="gpu-notice" data-kind={n.kind}>
      <strong>{n.title}.</strong> <span>{n.body}</span>
    </div>
  );
}
