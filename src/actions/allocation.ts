// Allocation: the strategy controls of the Allocation panel run in the worker (engine.allocate, the same
// function as `layerlab allocate`), reusing the importance results already on the page when they hold the
// chosen metric; the rank / sparsity / KV-bits knobs are painted on every block in the page (plain JSON
// edits). The plan lands in the store with an undo entry.

import { allocateRequestOf, blankPlan, commitPlan, isCurrent, knobBrush, knobUsesStrategy, paintEveryBlock, patchAllocation, workbench } from '../store/index.ts';
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
      if (!knobUsesStrategy(a.knob)) {
        const base = a.plan && a.planSerial === serial ? a.plan : blankPlan(info.spec);
        commitPlan(workbench, paintEveryBlock(base, info.spec, knobBrush(a)), serial);
        patchAllocation(workbench, { running: false, note: `${a.knob} painted on every block` });
        return;
      }
      const imp = st.importance.result;
      const scores = imp && isCurrent(st, imp.modelSerial) && imp.text === st.calibration.text ? imp.scores : null;
      const req = allocateRequestOf(a, scores, st.calibration.text, Math.min(st.importance.maxTokens, info.spec.contextLength));
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
