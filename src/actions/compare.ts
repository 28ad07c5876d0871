// Compare: the plan applied in the worker (engine.compare, the same function as `layerlab compare`) and
// the modified model compared with the original on the evaluation text (mean NLL, perplexity, KL, top-1,
// per-token KL, size, speed) plus a side-by-side generation from one prompt and seed. The run is kept in
// the store under a name so several plans can be compared together.

import { validateAllocation } from '../core/allocation/schema.ts';
import { addRun, patchCompare, runName, workbench, type CompareRun } from '../store/index.ts';
import { engine, isCancelled, runJob, throttledProgress, toUserError } from './engine.ts';

let nextId = 1;

export function runCompare(): Promise<void> {
  return runJob('compare', 'compare', async () => {
    const st = workbench.getState();
    const info = st.model.info;
    const plan = st.allocation.plan;
    if (!info) return;
    const c = st.compare;
    const serial = st.model.serial;
    patchCompare(workbench, { running: true, cancelled: false, error: null, progress: { done: 0, total: 1, what: 'apply allocation' } });
    const tp = throttledProgress((p) => patchCompare(workbench, { progress: p }));
    const t0 = performance.now();
    try {
      if (!plan) throw Object.assign(new Error('there is no plan to compare'), { hint: 'make one in the Allocation panel first (e.g. strategy uniform, format Q8_0, then "Make plan")' });
      const v = validateAllocation(plan, info.spec);
      if (!v.ok) throw Object.assign(new Error(`the plan is not valid: ${v.errors.map((e) => `${e.path || '(root)'}: ${e.message}`).join('; ')}`), { hint: 'fix the fields named in the Allocation panel' });
      const text = c.useCalibration ? st.calibration.text : c.text;
      const maxTokens = Math.min(c.maxTokens, info.spec.contextLength);
      const generation = c.prompt.trim() ? { prompt: c.prompt, tokens: c.genTokens, temperature: c.temperature, seed: c.seed } : undefined;
      const r = await engine().compare({ allocation: plan, text, maxTokens, ctx: c.ctx > 0 ? c.ctx : undefined, generation }, tp.progress);
      const tk = await engine().tokenize(text);
      tp.stop();
      const g = r.generation;
      const run: CompareRun = {
        id: `run-${nextId++}`,
        name: runName(workbench.getState().compare.runs, c.name, plan),
        allocation: plan,
        modelSerial: serial,
        text,
        pieces: tk.pieces.slice(0, r.tokens),
        tokens: r.tokens,
        scored: r.scored,
        base: { ...r.base },
        modified: { ...r.modified },
        nllDiff: r.nllDiff,
        kl: r.kl,
        klPerToken: r.klPerToken,
        top1: r.top1,
        top1PerToken: r.top1PerToken,
        size: r.size ? { residentBytes: r.size.residentBytes, baseResidentBytes: r.size.baseResidentBytes, bitsPerWeight: r.size.bitsPerWeight, matrixBitsPerWeight: r.size.matrixBitsPerWeight, droppedBytes: r.size.droppedBytes, kvCacheBitsPerToken: r.size.kvCacheBitsPerToken, baseKvCacheBitsPerToken: r.size.baseKvCacheBitsPerToken } : null,
        chunked: r.chunked ? { ctx: r.chunked.ctx, chunks: r.chunked.chunks, base: { perplexity: r.chunked.base.perplexity, nllStdErr: r.chunked.base.nllStdErr }, modified: { perplexity: r.chunked.modified.perplexity, nllStdErr: r.chunked.modified.nllStdErr } } : null,
        generation: g ? { prompt: g.prompt, seed: c.seed, base: { ids: g.base.ids, pieces: g.base.pieces, text: g.base.text }, modified: { ids: g.modified.ids, pieces: g.modified.pieces, text: g.modified.text }, firstDivergence: g.firstDivergence } : null,
        fallbacks: r.fallbacks,
        drops: r.interventions.map((iv) => `${iv.kind} ${iv.layer}`),
        seconds: (performance.now() - t0) / 1000,
      };
      addRun(workbench, run);
      patchCompare(workbench, { running: false, progress: null });
    } catch (e) {
      tp.stop();
      if (isCancelled(e)) patchCompare(workbench, { running: false, progress: null, cancelled: true });
      else patchCompare(workbench, { running: false, progress: null, error: toUserError(e, 'comparing the plan with the original') });
    }
  });
}
