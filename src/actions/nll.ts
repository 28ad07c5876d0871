// Mean NLL and perplexity of the calibration text (engine.nll: every position predicts the next; texts
// longer than the context are cut into windows), with a progress bar and a cancel.

import { patchNll, workbench } from '../store/index.ts';
import { engine, isCancelled, runJob, throttledProgress, toUserError } from './engine.ts';

export function measureNll(): Promise<void> {
  return runJob('nll', 'perplexity', async () => {
    const st = workbench.getState();
    if (!st.model.info) return;
    const text = st.calibration.text;
    const serial = st.model.serial;
    patchNll(workbench, { running: true, progress: { done: 0, total: 1, what: 'nll' }, cancelled: false, error: null });
    const t0 = performance.now();
    const tp = throttledProgress((p) => patchNll(workbench, { progress: p }));
    try {
      const r = await engine().nll({ text }, tp.progress);
      tp.stop();
      patchNll(workbench, {
        running: false,
        progress: null,
        result: {
          meanNll: r.meanNll, perplexity: r.perplexity, scored: r.scored, windows: r.windows, tokenNll: r.tokenNll,
          positions: r.positions, tokens: r.tokens,
          text, modelSerial: serial, seconds: (performance.now() - t0) / 1000,
        },
      });
    } catch (e) {
      tp.stop();
      if (isCancelled(e)) patchNll(workbench, { running: false, progress: null, cancelled: true });
      else patchNll(workbench, { running: false, progress: null, error: toUserError(e, 'measuring NLL') });
    }
  });
}
