// The Experiments panel's commands: the engine's sweep (worker/engine-allocation.ts, the code of
// `layerlab sweep`) on the calibration text, format sweeps (Layer-Wise Quantization) and drop sweeps
// (LLM-Drop), with progress and a cooperative cancel. Only the curves (small arrays) reach the store.

import { patchExperiments, workbench } from '../store/index.ts';
import { engine, isCancelled, runJob, throttledProgress, toUserError } from './engine.ts';

export function runSweep(kind: 'format' | 'drop'): Promise<void> {
  return runJob('sweep', `${kind} sweep`, async () => {
    const st = workbench.getState();
    const info = st.model.info;
    if (!info) return;
    const serial = st.model.serial;
    const x = st.experiments;
    patchExperiments(workbench, { running: kind, cancelled: false, error: null, progress: { done: 0, total: 1, what: 'ranking the layers' } });
    const t0 = performance.now();
    const tp = throttledProgress((p) => patchExperiments(workbench, { progress: p }));
    try {
      const common = { text: st.calibration.text, maxTokens: Math.min(x.maxTokens, info.spec.contextLength), metric: x.metric, step: x.step };
      const result =
        kind === 'format'
          ? await engine().sweep({ ...common, from: x.from, to: x.to, seeds: x.seeds }, tp.progress)
          : await engine().sweep({ ...common, drop: ['block', 'attn', 'mlp'], seeds: x.seeds.slice(0, 1) }, tp.progress);
      tp.stop();
      patchExperiments(workbench, { running: null, progress: null, [kind]: { result, modelSerial: serial, seconds: (performance.now() - t0) / 1000 } });
    } catch (e) {
      tp.stop();
      if (isCancelled(e)) patchExperiments(workbench, { running: null, progress: null, cancelled: true });
      else patchExperiments(workbench, { running: null, progress: null, error: toUserError(e, `running the ${kind} sweep`) });
    }
  });
}
