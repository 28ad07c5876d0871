// Lessons are plain data: steps with what to look at and what the page does for the teacher when the
// step opens (choose a preset or metrics, run the analysis, set an allocation plan, run a sweep).
// src/actions/lessons.ts carries the actions out; src/app/lessons.tsx shows the steps.

export type PanelId = 'model' | 'calibration' | 'generate' | 'nll' | 'importance' | 'allocation' | 'compare' | 'experiments' | 'export';

export type LessonAction =
  | { kind: 'preset'; id: string }
  /** Metric groups for the importance panel (engine.analyze names), and the per-token heatmap's metric. */
  | { kind: 'metrics'; metrics: string[]; tokenMetric?: string }
  | { kind: 'run-importance' }
  /**
   * An allocation plan from a block order (core/allocation/strategies.ts): the order of `metric`
   * (ranked), its reverse, or a seeded random order; `drop` n blocks / sublayers, or move a fraction of
   * the blocks from `high` to `low` format (at least one block).
   */
  | {
      kind: 'plan';
      order: 'ranked' | 'reverse' | 'random';
      metric: string;
      seed?: number;
      drop?: { what: 'block' | 'attn' | 'mlp'; n: number };
      formats?: { high: string; low: string; fraction: number };
    }
  | { kind: 'sweep'; which: 'format' | 'drop' };

export interface LessonStep {
  title: string;
  /** What is going on, in two or three sentences. */
  body: string;
  /** What to click or look at. */
  look: string;
  /** The panel to scroll to and outline. */
  panel?: PanelId;
  /** Done by the page when the step opens (and again with "Do it again"). */
  actions?: LessonAction[];
}

export interface Lesson {
  id: string;
  title: string;
  summary: string;
  minutes: number;
  steps: LessonStep[];
}
