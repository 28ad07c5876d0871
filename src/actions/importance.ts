// Layer importance: engine.analyze in the worker (src/core/analysis/analyze.ts) on the first tokens of
// the calibration text, with the chosen metric groups, a progress bar and a cooperative cancel. The
// taps and logits stay in the worker; only the LayerScores and the rank agreement (small plain arrays)
// come to the store.

import { patchImportance, workbench } from '../store/index.ts';
import { engine, isCancelled, runJob, throttledProgress, toUserError } from './engine.ts';
import { resolveMetricNames } from '../core/analysis/metrics.ts';
import { applyGroupProgress, finishGroupRows, initialGroupRows, parseGroupWhat, stopGroupRows } from '../core/analysis/progress.ts';

export function runImportance(): Promise<void> {
  return runJob('importance', 'importance', async () => {
    const st = workbench.getState();
    const info = st.model.info;
    if (!info) return;
    const serial = st.model.serial;
    const text = st.calibration.text;
    const { metrics, maxTokens } = st.importance;
    patchImportance(workbench, { running: true, cancelled: false, error: null, progress: { done: 0, total: 1, what: 'forward with taps' } });
    const t0 = performance.now();
    const groups = () => workbench.getState().importance.groups ?? [];
    // The overall bar shows the step's detail; the per-group list reads the group from the full text.
    const tp = throttledProgress((p) => {
      const step = parseGroupWhat(p.what);
      const what = step ? (step.detail === 'started' ? `${step.group}: starting` : step.detail) : p.what;
      patchImportance(workbench, { progress: { ...p, what }, groups: applyGroupProgress(groups(), p.what, performance.now()) });
    });
    try {
      if (metrics.length === 0) throw new Error('choose at least one metric');
      patchImportance(workbench, { groups: initialGroupRows(resolveMetricNames(metrics)) });
      const r = await engine().analyze({ texts: [text], metrics, maxTokens: Math.min(maxTokens, info.spec.contextLength) }, tp.progress);
      tp.stop();
      const cal = r.calibration;
      patchImportance(workbench, {
        running: false,
        progress: null,
        groups: finishGroupRows(groups(), r.timings),
        result: {
          scores: r.scores,
          agreement: r.agreement ? { ids: r.agreement.ids, spearman: r.agreement.spearman, kendall: r.agreement.kendall } : null,
          pieces: cal.pieces[0] ?? [],
          T: cal.tokens,
          nLayers: r.model.nLayers,
          baseNll: cal.baseNll,
          timings: r.timings,
          lens: r.lens,
          modelSerial: serial,
          text,
          seconds: (performance.now() - t0) / 1000,
        },
      });
    } catch (e) {
      tp.stop();
      if (isCancelled(e)) patchImportance(workbench, { running: false, progress: null, cancelled: true, groups: stopGroupRows(groups()) });
      else patchImportance(workbench, { running: false, progress: null, groups: stopGroupRows(groups()), error: toUserError(e, 'running the importance metrics') });
    }
  });
}
