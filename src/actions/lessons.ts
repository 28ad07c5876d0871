// Lesson mode: open / close a lesson, move between steps, and carry out a step's actions on the page
// (choose the preset and metrics, run the analysis, set an allocation plan, run a sweep), so a teacher
// can run a lesson in front of a class with one key press per step.

import { fromOrder, randomOrder } from '../core/allocation/strategies.ts';
import type { Allocation } from '../core/allocation/schema.ts';
import { commitPlan } from '../store/allocation.ts';
import { patchImportance, patchLesson, workbench } from '../store/index.ts';
import { lessonById, type LessonAction } from '../lessons/index.ts';
import { presetById } from '../app/presets.ts';
import { setCalibrationText, retokenize } from './calibration.ts';
import { runImportance } from './importance.ts';
import { runSweep } from './experiments.ts';

export function openLesson(id: string): void {
  if (!lessonById(id)) return;
  patchLesson(workbench, { id, step: 0 });
  void runStep();
}

export function closeLesson(): void {
  patchLesson(workbench, { id: null, step: 0 });
}

/** Moves by `delta` steps (clamped); entering a step carries out its actions. */
export function moveStep(delta: number): void {
  const { id, step } = workbench.getState().lesson;
  const lesson = lessonById(id);
  if (!lesson) return;
  const next = Math.max(0, Math.min(lesson.steps.length - 1, step + delta));
  if (next === step) return;
  patchLesson(workbench, { step: next });
  if (delta > 0) void runStep();
}

/**
 * The plan a lesson asks for, from the current importance result (null when the metric has not been
 * measured on the loaded model). The block order is the metric's ranking (most important first), its
 * reverse, or a seeded random order; the least important end of the order is dropped / lowered.
 */
export function lessonPlan(a: Extract<LessonAction, { kind: 'plan' }>): Allocation | null {
  const st = workbench.getState();
  const info = st.model.info;
  const res = st.importance.result;
  if (!info) return null;
  const spec = info.spec;
  const L = spec.nLayers;
  let order: number[];
  if (a.order === 'random') order = randomOrder(L, a.seed ?? 0);
  else {
    if (!res || res.modelSerial !== st.model.serial) return null;
    const s = res.scores.find((x) => x.metricId === a.metric);
    if (!s || s.ranking.length !== L) return null;
    order = a.order === 'ranked' ? s.ranking.slice() : s.ranking.slice().reverse();
  }
  const opts = {
    ...(a.drop ? { drop: { what: a.drop.what, n: Math.min(L, a.drop.n) } } : {}),
    ...(a.formats ? { formats: { high: a.formats.high, low: a.formats.low, nLow: Math.max(1, Math.min(L, Math.round(a.formats.fraction * L))) } } : {}),
  };
  return fromOrder(spec, order, opts, { name: a.order, ...(a.order === 'random' ? { seed: a.seed ?? 0 } : { metric: a.metric }), lesson: true });
}

async function perform(a: LessonAction): Promise<string | null> {
  const st = workbench.getState();
  switch (a.kind) {
    case 'preset': {
      const p = presetById(a.id);
      if (!p) return `unknown preset ${a.id}`;
      if (st.calibration.presetId !== p.id || st.calibration.text !== p.text) {
        setCalibrationText(p.text, p.id);
        await retokenize();
      }
      return null;
    }
    case 'metrics':
      patchImportance(workbench, { metrics: [...a.metrics], ...(a.tokenMetric ? { tokenMetric: a.tokenMetric } : {}) });
      return null;
    case 'run-importance':
      if (!st.model.info) return 'load a model first';
      await runImportance();
      return null;
    case 'plan': {
      let plan = lessonPlan(a);
      if (!plan && a.order !== 'random') {
        // The metric has not been measured on this model yet: measure it, then plan.
        const metrics = st.importance.metrics.includes(a.metric) ? st.importance.metrics : [...st.importance.metrics, a.metric];
        patchImportance(workbench, { metrics });
        await runImportance();
        plan = lessonPlan(a);
      }
      if (!plan) return 'the plan needs a loaded model and its importance scores';
      commitPlan(workbench, plan, workbench.getState().model.serial);
      return null;
    }
    case 'sweep':
      if (!st.model.info) return 'load a model first';
      await runSweep(a.which);
      return null;
  }
}

let running = 0;

/** Carries out the open step's actions in order; the lesson bar shows what could not be done. */
export async function runStep(): Promise<void> {
  const { id, step } = workbench.getState().lesson;
  const s = lessonById(id)?.steps[step];
  if (!s?.actions?.length) return;
  const mine = ++running;
  for (const a of s.actions) {
    const l = workbench.getState().lesson;
    if (mine !== running || l.id !== id || l.step !== step) return; // the teacher moved on
    const problem = await perform(a);
    if (problem) {
      console.warn(`lesson step "${s.title}": ${problem}`);
      return;
    }
  }
}
