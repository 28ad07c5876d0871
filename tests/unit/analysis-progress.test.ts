// Per metric group progress (src/core/analysis/progress.ts, src/app/metric-progress.tsx's status text):
// the event text format read back, and the rows built from hand-written event sequences (including
// sequences where throttling dropped events), the engine's timings at the end, and a cancel.
import { describe, expect, it } from 'vitest';
import { applyGroupProgress, finishGroupRows, groupWhat, initialGroupRows, parseGroupWhat, stopGroupRows } from '../../src/core/analysis/progress.ts';
import { groupStatus } from '../../src/app/metric-progress.tsx';

describe('analysis progress per metric group', () => {
  it('writes and reads "<group> <done>/<total>: <detail>"', () => {
    expect(groupWhat('ablation', 4, 15, 'ablation: block 1 attn')).toBe('ablation 4/15: ablation: block 1 attn');
    expect(parseGroupWhat('ablation 4/15: ablation: block 1 attn')).toEqual({ group: 'ablation', done: 4, total: 15, detail: 'ablation: block 1 attn' });
    expect(parseGroupWhat('forward with taps: text 1 of 2')).toBeNull();
    expect(parseGroupWhat('cos 2/1: x')).toBeNull();
  });

  it('rows go waiting -> running -> done in order; a later group finishes the earlier ones', () => {
    let rows = initialGroupRows(['cos', 'ablation', 'agreement']);
    expect(rows.map((r) => [r.id, r.state])).toEqual([['forward', 'waiting'], ['cos', 'waiting'], ['ablation', 'waiting'], ['agreement', 'waiting']]);
    rows = applyGroupProgress(rows, 'forward 0/1: started', 100);
    expect(rows[0]).toMatchObject({ state: 'running', done: 0, total: 1, startedAt: 100 });
    rows = applyGroupProgress(rows, 'forward 1/1: forward with taps: text 1 of 1', 400);
    expect(rows[0]).toMatchObject({ state: 'done', ms: 300 });
    // The cos events were dropped: the first ablation step finishes cos (no start seen: no time).
    rows = applyGroupProgress(rows, 'ablation 1/15: ablation: block 0 skip-block', 500);
    expect(rows[1]).toMatchObject({ state: 'done', done: 0, ms: null });
    expect(rows[2]).toMatchObject({ state: 'running', done: 1, total: 15, startedAt: 500, detail: 'ablation: block 0 skip-block' });
    expect(groupStatus(rows[2])).toBe('running 1/15');
    rows = applyGroupProgress(rows, 'ablation 7/15: ablation: block 2 skip-attn', 800);
    expect(rows[2]).toMatchObject({ state: 'running', done: 7, startedAt: 500 });
    expect(rows[3].state).toBe('waiting');
    // Unknown texts change nothing.
    expect(applyGroupProgress(rows, 'something else', 900)).toEqual(rows);
    const end = finishGroupRows(rows, { forward: 250, cos: 12, ablation: 3456.7, agreement: 1, total: 4000 });
    expect(end.map((r) => [r.id, r.state, r.ms])).toEqual([['forward', 'done', 250], ['cos', 'done', 12], ['ablation', 'done', 3456.7], ['agreement', 'done', 1]]);
    expect(groupStatus(end[2])).toBe('done in 3.46 s');
    expect(groupStatus(end[1])).toBe('done in 0.01 s');
  });

  it('a cancel stops the running group and leaves the rest waiting', () => {
    let rows = initialGroupRows(['cos', 'quant']);
    rows = applyGroupProgress(rows, 'quant 3/12: Q4_0 block 1', 10);
    rows = stopGroupRows(rows);
    expect(rows.map((r) => r.state)).toEqual(['done', 'done', 'stopped']);
    expect(groupStatus(rows[2])).toBe('stopped at 3/12');
    expect(groupStatus(initialGroupRows(['cos'])[1])).toBe('waiting');
  });
});
