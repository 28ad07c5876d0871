// Experiments data (sweep curves -> chart series, CSV) on a hand-written sweep result, and the lessons:
// every lesson is well formed (steps, panels, presets, metric groups, formats), and a lesson's plan is
// the allocation written out by hand for a given ranking.
import { describe, expect, it } from 'vitest';
import { dropSweepSeries, formatSweepSeries, sweepCsv } from '../../src/app/experiments-data.ts';
import type { SweepResult } from '../../src/worker/engine-allocation.ts';
import { LESSONS } from '../../src/lessons/index.ts';
import { presetById } from '../../src/app/presets.ts';
import { parseWeightFormat, validateAllocation } from '../../src/core/allocation/schema.ts';
import { createWorkbenchStore, initialState, patchImportance, workbench } from '../../src/store/index.ts';
import { lessonPlan } from '../../src/actions/lessons.ts';
import type { ModelSpec } from '../../src/core/model/spec.ts';

const pt = (percent: number, moved: number, meanNll: number, kl: number) => ({ percent, moved, meanNll, kl, top1: 1 - kl, bitsPerWeight: 8, formatBitsPerWeight: 8 });
const fmt: SweepResult = {
  from: 'Q8_0', to: 'int2-g32-asym', drop: null, metric: 'cos', tokens: 32,
  curves: [
    { order: 'cos', drop: null, blocks: [0, 1], points: [pt(0, 0, 2, 0), pt(50, 1, 2.1, 0.1), pt(100, 2, 3, 1)] },
    { order: 'reverse', drop: null, blocks: [1, 0], points: [pt(0, 0, 2, 0), pt(50, 1, 2.9, 0.9), pt(100, 2, 3, 1)] },
    { order: 'random:0', drop: null, blocks: [1, 0], points: [pt(0, 0, 2, 0), pt(50, 1, 2.9, 0.9), pt(100, 2, 3, 1)] },
    { order: 'random:1', drop: null, blocks: [0, 1], points: [pt(0, 0, 2, 0), pt(50, 1, 2.1, 0.1), pt(100, 2, 3, 1)] },
  ],
};
const drop: SweepResult = {
  from: null, to: null, drop: ['block', 'attn'], metric: 'cos', tokens: 32,
  curves: [
    { order: 'cos', drop: 'block', blocks: [0, 1], points: [pt(0, 0, 2, 0), pt(100, 2, 5, 3)] },
    { order: 'reverse', drop: 'block', blocks: [1, 0], points: [pt(0, 0, 2, 0), pt(100, 2, 5, 3)] },
    { order: 'cos', drop: 'attn', blocks: [0, 1], points: [pt(0, 0, 2, 0), pt(100, 2, 2.5, 0.4)] },
  ],
};

describe('experiments data', () => {
  it('format sweep: metric order, reverse, and the mean of the random seeds, against percent', () => {
    const s = formatSweepSeries(fmt, 'meanNll');
    expect(s.map((x) => x.name)).toEqual(['cos order (least important moved first)', 'reverse order (most important first)', 'random order (mean of 2 seeds)']);
    expect(s[0].points).toEqual([{ x: 0, y: 2 }, { x: 50, y: 2.1 }, { x: 100, y: 3 }]);
    expect(s[2].points[1].x).toBe(50);
    expect(s[2].points[1].y).toBeCloseTo(2.5, 12);
    expect(formatSweepSeries(fmt, 'kl')[1].points[1]).toEqual({ x: 50, y: 0.9 });
  });
  it('drop sweep: one series per kind in the metric order, against the number dropped', () => {
    const s = dropSweepSeries(drop, 'kl');
    expect(s).toEqual([
      { name: 'drop whole blocks', points: [{ x: 0, y: 0 }, { x: 2, y: 3 }] },
      { name: 'drop attention sublayers', points: [{ x: 0, y: 0 }, { x: 2, y: 0.4 }] },
    ]);
  });
  it('CSV: a header and one row per point', () => {
    const csv = sweepCsv([fmt, null, drop]).trim().split('\n');
    expect(csv[0]).toBe('sweep,metric,from,to,drop,order,percent,moved,mean_nll,kl,top1,format_bits_per_weight,bits_per_weight');
    expect(csv).toHaveLength(1 + 12 + 6);
    expect(csv[2]).toBe('format,cos,Q8_0,int2-g32-asym,,cos,50,1,2.1,0.1,0.9,8,8');
    expect(csv[13]).toBe('drop,cos,,,block,cos,0,0,2,0,1,8,8');
  });
});

describe('lessons', () => {
  const groups = new Set(['cos', 'lim', 'contrib', 'cka', 'lens', 'zd', 'weights', 'ablation', 'quant', 'agreement', 'fisher', 'taylor', 'zo']);
  const panels = new Set(['model', 'calibration', 'generate', 'nll', 'importance', 'allocation', 'compare', 'experiments', 'export']);
  it('at least three lessons, each with steps that say what to look at; every action names real things', () => {
    expect(LESSONS.length).toBeGreaterThanOrEqual(3);
    expect(new Set(LESSONS.map((l) => l.id)).size).toBe(LESSONS.length);
    for (const l of LESSONS) {
      expect(l.steps.length, l.id).toBeGreaterThanOrEqual(3);
      for (const s of l.steps) {
        expect(s.body.length > 20 && s.look.length > 20, s.title).toBe(true);
        if (s.panel) expect(panels.has(s.panel), s.panel).toBe(true);
        for (const a of s.actions ?? []) {
          if (a.kind === 'preset') expect(presetById(a.id), a.id).toBeDefined();
          if (a.kind === 'metrics') for (const m of a.metrics) expect(groups.has(m), m).toBe(true);
          if (a.kind === 'plan' && a.formats) {
            expect(parseWeightFormat(a.formats.high)).not.toBeNull();
            expect(parseWeightFormat(a.formats.low)).not.toBeNull();
          }
        }
      }
    }
  });

  it("a lesson's plan follows the metric's ranking (hand-written allocations)", () => {
    expect(createWorkbenchStore(initialState()).getState().lesson).toEqual({ id: null, step: 0 });
    const spec = { name: 'toy', arch: 'llama', nLayers: 5 } as unknown as ModelSpec;
    workbench.setState({ model: { ...workbench.getState().model, info: { spec } as never, serial: 3 } });
    expect(lessonPlan({ kind: 'plan', order: 'ranked', metric: 'cos', drop: { what: 'block', n: 1 } })).toBeNull(); // not measured yet
    const scores = [{ metricId: 'cos', perBlock: [0.9, 0.1, 0.5, 0.3, 0.7], ranking: [0, 4, 2, 3, 1] }];
    patchImportance(workbench, { result: { scores, modelSerial: 3 } as never });
    const drop1 = lessonPlan({ kind: 'plan', order: 'ranked', metric: 'cos', drop: { what: 'block', n: 1 } })!;
    expect(drop1.layers).toEqual({ '1': { drop: 'block' } });
    const rev = lessonPlan({ kind: 'plan', order: 'reverse', metric: 'cos', drop: { what: 'block', n: 1 } })!;
    expect(rev.layers).toEqual({ '0': { drop: 'block' } });
    const mixed = lessonPlan({ kind: 'plan', order: 'ranked', metric: 'cos', formats: { high: 'Q8_0', low: 'int2-g32-asym', fraction: 0.4 } })!;
    expect(mixed.layers).toEqual({ '0': { format: 'Q8_0' }, '1': { format: 'int2-g32-asym' }, '2': { format: 'Q8_0' }, '3': { format: 'int2-g32-asym' }, '4': { format: 'Q8_0' } });
    expect(validateAllocation(mixed).ok).toBe(true);
    const rnd = lessonPlan({ kind: 'plan', order: 'random', metric: 'cos', seed: 1, formats: { high: 'Q8_0', low: 'int2-g32-asym', fraction: 0.4 } })!;
    expect(Object.values(rnd.layers!).filter((e) => e.format === 'int2-g32-asym')).toHaveLength(2);
  });
});
