// Export commands that need the engine: an allocation rendered by the worker's exportAllocation
// (json, llama-quantize, peft, gguf: the same code as `layerlab export`), one job at a time.

import type { ExportResult, ExportTarget } from '../worker/engine-allocation.ts';
import { workbench } from '../store/index.ts';
import { engine, runJob, throttledProgress } from './engine.ts';

/** The engine's export of `allocation` to `to` (throws the engine's error, e.g. a GGUF export of a non-GGUF model). */
export function exportWithEngine(allocation: unknown, to: ExportTarget, input?: string): Promise<ExportResult> {
  return runJob('export', `export ${to}`, async () => {
    if (!workbench.getState().model.info) throw new Error('no model is loaded');
    const tp = throttledProgress(() => undefined);
    try {
      return await engine().exportAllocation({ allocation, to, ...(input ? { input } : {}) }, tp.progress);
    } finally {
      tp.stop();
    }
  });
}
