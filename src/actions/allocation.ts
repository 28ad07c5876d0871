// Allocation: the strategy controls of the Allocation panel run in the worker (engine.allocate, the same
// function as `layerlab allocate`), reusing the importance results already on the page when they hold the
// chosen metric; the rank / sparsity / KV-bits knobs are painted in the page (plain JSON edits): one value
// on every block, or values in a metric's order (the metric measured in the worker when the importance
// results lack it); drank / owl and the mixed solver run in the worker. The plan lands in the store with
// an undo entry.

import { allocateRequestOf, blankPlan, commitPlan, isCurrent, knobUsesStrategy, paintedPlan, patchAllocation, workbench } from '../store/index.ts';
import { engine, isCancelled, runJob, throttledProgress, toUserError } from './engine.ts';

/** Makes the plan from the knob, strategy and slider. */
export function makePlan(): Promise<void> {
  return runJob('allocate', 'allocation', async () => {
    const st = workbench.getState();
    const info = st.model.info;
    if (!info) return;
    const a = st.allocation;
    const serial = st.model.serial;
    patchAllocation(workbench, { running: true, error: null, progress: null, note: null });
    const tp = throttledProgress((p) => patchAllocation(workbench, { progress: p }));
    try {
      const imp = st.importance.result;
      const scores = imp && isCurrent(st, imp.modelSerial) && imp.text === st.calibration.text ? imp.scores : null;
      const maxTokens = Math.min(st.importance.maxTokens, info.spec.contextLength);
      if (!knobUsesStrategy(a.knob, a.strategy)) {
        const base = a.plan && a.planSerial === serial ? a.plan : blankPlan(info.spec);
        let use = scores;
        let note = a.strategy === 'uniform' ? `${a.knob} painted on every block` : a.strategy === 'random' ? `${a.knob} painted in random order (seed ${a.seed})` : '';
        if (a.strategy === 'ranked' || a.strategy === 'reverse') {
          const have = scores?.some((x) => x.metricId === a.metric);
          if (!have) use = (await engine().analyze({ texts: [st.calibration.text], metrics: [a.metric], maxTokens }, tp.progress)).scores;
          note = `${a.knob} painted in ${a.strategy === 'reverse' ? 'the reverse of ' : ''}${a.metric} order (${have ? 'the importance results on the page' : 'measured now on the calibration text'})`;
        }
        tp.stop();
        commitPlan(workbench, paintedPlan(a, info.spec, base, use), serial);
        patchAllocation(workbench, { running: false, progress: null, note });
        return;
      }
      const req = allocateRequestOf(a, scores, st.calibration.text, maxTokens);
      const r = await engine().allocate(req, tp.progress);
      tp.stop();
      commitPlan(workbench, r.allocation, serial);
      const reused = scores && r.scoresUsed && scores.some((s) => s.metricId === r.scoresUsed);
      patchAllocation(workbench, {
        running: false,
        progress: null,
        note: r.scoresUsed ? `order from ${r.scoresUsed} (${reused ? 'the importance results on the page' : 'measured now on the calibration text'})` : null,
      });
    } catch (e) {
      tp.stop();
      if (isCancelled(e)) patchAllocation(workbench, { running: false, progress: null });
      else patchAllocation(workbench, { running: false, progress: null, error: toUserError(e, 'making the allocation') });
    }
  });
}
