// Importance (first version): one forward over the first tokens of the calibration text with every
// block tap, then the taps-only metrics of src/core/metrics computed in the page: block influence
// 1 - cos (ShortGPT), LIM, relative contribution and 1 - CKA (with the CKA layers x layers matrix).
// The taps are big (L x 5 x T x C floats) and stay in this function: only the LayerScores (small
// plain arrays) go to the store. Later versions run the metrics in the worker.

import { allBlockTaps } from '../core/model/taps.ts';
import { computeMetric, METRICS, type MetricId } from '../core/metrics/index.ts';
import type { LayerScores } from '../core/metrics/types.ts';
import { patchImportance, workbench } from '../store/index.ts';
import { cancelCount, engine, isCancelled, runJob, toUserError } from './engine.ts';
import { retokenize } from './calibration.ts';

export const PAGE_METRICS: MetricId[] = ['cos', 'lim', 'contrib', 'cka'];

const nextFrame = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

export function runImportance(): Promise<void> {
  return runJob('importance', 'importance', async () => {
    const st = workbench.getState();
    const info = st.model.info;
    if (!info) return;
    const serial = st.model.serial;
    const text = st.calibration.text;
    patchImportance(workbench, { running: true, error: null, progress: { done: 0, total: PAGE_METRICS.length + 1, what: 'forward with taps' } });
    const t0 = performance.now();
    const cancelsAtStart = cancelCount();
    const checkCancel = () => {
      if (cancelCount() !== cancelsAtStart) throw Object.assign(new Error('cancelled'), { name: 'CancelledError' });
    };
    try {
      const tokens = st.calibration.tokens;
      const ids = tokens && tokens.text === text && tokens.modelSerial === serial ? tokens.ids : await retokenize();
      if (!ids || ids.length < 2) throw new Error('the calibration text needs at least 2 tokens');
      const cut = ids.slice(0, Math.min(st.importance.maxTokens, info.spec.contextLength));
      const { nLayers, dModel } = info.spec;
      const r = await engine().forward({ ids: cut, taps: allBlockTaps(nLayers), logits: 'last' });
      checkCancel();
      const pieces = (await engine().tokenize(text)).pieces.slice(0, cut.length);
      const results: LayerScores[] = [];
      const failed: { metricId: string; message: string }[] = [];
      for (let i = 0; i < PAGE_METRICS.length; i++) {
        const id = PAGE_METRICS[i];
        patchImportance(workbench, { progress: { done: i + 1, total: PAGE_METRICS.length + 1, what: METRICS[id].label } });
        await nextFrame();
        checkCancel();
        try {
          results.push(computeMetric(id, { nLayers, taps: r.taps, T: r.T, C: dModel }));
        } catch (e) {
          failed.push({ metricId: id, message: e instanceof Error ? e.message : String(e) });
        }
      }
      patchImportance(workbench, {
        running: false,
        progress: null,
        result: { scores: results, failed, pieces, T: r.T, nLayers, modelSerial: serial, text, seconds: (performance.now() - t0) / 1000 },
      });
    } catch (e) {
      if (isCancelled(e)) patchImportance(workbench, { running: false, progress: null, error: null });
      else patchImportance(workbench, { running: false, progress: null, error: toUserError(e, 'running the importance metrics') });
    }
  });
}
