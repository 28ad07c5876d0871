// The Allocation and Compare slices (src/store/allocation.ts, src/store/compare.ts): grid edits give the
// JSON a hand would write; a drag stroke is one undo step; undo / redo walk the history; the live size
// estimate equals hand sums of the GGUF block geometry (Q8_0: 34 bytes per 32 values, F16: 2 bytes per
// value) and the bytes applyAllocation actually makes resident (a different implementation: it packs the
// tensors); the strategy controls map to the engine request the CLI's flags make; the state survives
// structuredClone; kept comparison runs get unique names.
import { describe, expect, it } from 'vitest';
import {
  addRun, allocateRequestOf, beginStroke, blankPlan, cellView, commitPlan, createWorkbenchStore, endStroke, estimatePlanSize, gridColumns,
  initialAllocationState, initialState, paintCell, paintEveryBlock, parsePlanText, patchAllocation, previewPlan, redoPlan, removeRun, runName,
  sliderSpec, splitAtDivergence, strokePaint, strokeSets, undoPlan, MAX_RUNS, type AllocationState, type CompareRun,
} from '../../src/store/index.ts';
import { applyAllocation, uniform, type Allocation } from '../../src/core/allocation/index.ts';
import { loadModelFromFiles } from '../../src/core/formats/load.ts';
import { typeName } from '../../src/core/quant/types.ts';
import { readModelBytes } from '../helpers/models.ts';

const model = loadModelFromFiles([
  { name: 'stories260K.bin', bytes: readModelBytes('stories260K/stories260K.bin') },
  { name: 'tok512.bin', bytes: readModelBytes('stories260K/tok512.bin') },
]);
const spec = model.spec;
// The tensor table as the page gets it (ModelInfo.tensors).
const table = [...model.tensors.values()].map((t) => ({ name: t.name, type: typeName(t.type), shape: t.shape, bytes: t.data.byteLength }));
const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

describe('grid edits', () => {
  it('the columns are the block matrices, then attn / mlp / block drops and KV', () => {
    const cols = gridColumns(spec).map((c) => (c.kind === 'tensor' ? c.suffix : c.kind));
    expect(cols).toEqual(['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down', 'attn', 'mlp', 'block', 'kv']);
  });

  it('paints formats, ranks, sparsity, drops and KV bits into the JSON a hand would write', () => {
    let a = blankPlan(spec);
    a = paintCell(a, spec, 1, { kind: 'tensor', suffix: 'attn_q' }, { kind: 'format', format: 'Q4_0' });
    a = paintCell(a, spec, 2, { kind: 'block' }, { kind: 'format', format: 'Q8_0' });
    a = paintCell(a, spec, 3, { kind: 'tensor', suffix: 'ffn_up' }, { kind: 'rank', rank: 8 });
    a = paintCell(a, spec, 0, { kind: 'tensor', suffix: 'attn_v' }, { kind: 'sparsity', ratio: 0.5 });
    a = paintCell(a, spec, 4, { kind: 'attn' }, { kind: 'drop' });
    a = paintCell(a, spec, 4, { kind: 'kv' }, { kind: 'kv', bits: 4 });
    expect(a.tensors).toEqual({
      'blk.1.attn_q': { format: 'Q4_0' },
      'blk.3.ffn_up': { rank: 8 },
      'blk.0.attn_v': { sparsity: { method: 'magnitude', ratio: 0.5 } },
    });
    expect(a.layers).toEqual({ 2: { format: 'Q8_0' }, 4: { drop: 'attn', kvBits: { k: 4, v: 4 } } });
    expect(a.strategy).toMatchObject({ name: 'manual', edited: true });
    // the cells show it: block 2's tensors inherit Q8_0; block 4's attention tensors are dropped, its MLP not
    expect(cellView(a, 2, { kind: 'tensor', suffix: 'attn_k' }, undefined)).toMatchObject({ format: 'Q8_0', inherited: true, dropped: false });
    expect(cellView(a, 4, { kind: 'tensor', suffix: 'attn_q' }, undefined).dropped).toBe(true);
    expect(cellView(a, 4, { kind: 'tensor', suffix: 'ffn_up' }, undefined).dropped).toBe(false);
    // a drop brush on a cell already dropped clears (the first cell of a stroke decides)
    expect(strokeSets(a, 4, { kind: 'attn' }, { kind: 'drop' })).toBe(false);
    const cleared = paintCell(a, spec, 4, { kind: 'attn' }, { kind: 'drop' }, false);
    expect(cleared.layers).toEqual({ 2: { format: 'Q8_0' }, 4: { kvBits: { k: 4, v: 4 } } });
    // the input is never changed
    expect(a.layers?.['4']?.drop).toBe('attn');
    // clearing a tensor cell removes its entry altogether
    const c2 = paintCell(a, spec, 1, { kind: 'tensor', suffix: 'attn_q' }, { kind: 'clear' });
    expect(c2.tensors?.['blk.1.attn_q']).toBeUndefined();
  });

  it('an edit that changes nothing returns the same object; a bad block is refused', () => {
    const a = paintCell(blankPlan(spec), spec, 0, { kind: 'block' }, { kind: 'format', format: 'Q4_0' });
    expect(paintCell(a, spec, 0, { kind: 'block' }, { kind: 'format', format: 'Q4_0' })).toBe(a);
    expect(() => paintCell(a, spec, 5, { kind: 'block' }, { kind: 'format', format: 'Q4_0' })).toThrow(/no block 5/);
  });

  it('paints the rank / KV knob on every block', () => {
    const a = paintEveryBlock(blankPlan(spec), spec, { kind: 'kv', bits: 8 });
    expect(Object.keys(a.layers ?? {})).toEqual(['0', '1', '2', '3', '4']);
    expect(a.layers?.['3']).toEqual({ kvBits: { k: 8, v: 8 } });
    const r = paintEveryBlock(blankPlan(spec), spec, { kind: 'rank', rank: 16 });
    expect(Object.keys(r.tensors ?? {})).toHaveLength(35); // 5 blocks x 7 matrices
    expect(r.tensors?.['blk.2.ffn_down']).toEqual({ rank: 16 });
  });
});

describe('undo / redo', () => {
  it('commits, undoes, redoes; a new edit clears redo; a drag stroke is one step; an empty stroke none', () => {
    const s = createWorkbenchStore(initialState());
    const p0 = blankPlan(spec);
    const p1 = paintCell(p0, spec, 0, { kind: 'block' }, { kind: 'format', format: 'Q8_0' });
    commitPlan(s, p0);
    commitPlan(s, p1);
    expect(s.getState().allocation.past).toHaveLength(1);
    commitPlan(s, JSON.parse(JSON.stringify(p1)) as Allocation); // equal plan: nothing recorded
    expect(s.getState().allocation.past).toHaveLength(1);
    undoPlan(s);
    expect(s.getState().allocation.plan).toEqual(p0);
    redoPlan(s);
    expect(s.getState().allocation.plan).toEqual(p1);
    undoPlan(s);
    const p2 = paintCell(p0, spec, 1, { kind: 'mlp' }, { kind: 'drop' });
    commitPlan(s, p2);
    expect(s.getState().allocation.future).toEqual([]);
    redoPlan(s); // nothing to redo
    expect(s.getState().allocation.plan).toEqual(p2);

    // a drag over three cells: one history entry; undo returns to the plan before the stroke
    const before = s.getState().allocation.past.length;
    beginStroke(s);
    let cur = s.getState().allocation.plan!;
    for (const l of [0, 1, 2]) {
      cur = paintCell(cur, spec, l, { kind: 'tensor', suffix: 'attn_q' }, { kind: 'format', format: 'Q2_K' });
      strokePaint(s, cur);
    }
    endStroke(s);
    expect(s.getState().allocation.past.length).toBe(before + 1);
    expect(Object.keys(s.getState().allocation.plan!.tensors ?? {})).toEqual(['blk.0.attn_q', 'blk.1.attn_q', 'blk.2.attn_q']);
    undoPlan(s);
    expect(s.getState().allocation.plan).toEqual(p2);
    beginStroke(s);
    endStroke(s);
    expect(s.getState().allocation.past.length).toBe(before);
  });

  it('the state with plans and history survives structuredClone', () => {
    const s = createWorkbenchStore(initialState());
    commitPlan(s, uniform(spec, 'Q8_0'));
    commitPlan(s, paintCell(uniform(spec, 'Q8_0'), spec, 1, { kind: 'block' }, { kind: 'drop' }));
    const st = s.getState();
    expect(structuredClone(st)).toEqual(st);
  });
});

describe('live size estimate', () => {
  const linear = [...model.tensors.values()].filter((t) => /^blk\.\d+\.(attn_[qkvo]|attn_output|ffn_gate|ffn_up|ffn_down)$/.test(t.name));
  const base = table.reduce((a, t) => a + t.bytes, 0);

  it('uniform Q8_0: Q8_0 blocks of 34 bytes per 32 values, ffn_down (rows of 172) at F16 as llama-quantize falls back; equals the resident bytes applyAllocation reports', () => {
    let want = base;
    for (const t of linear) {
      const n = numel(t.shape);
      const cols = t.shape[1]; // PyTorch order [out, in]: the row length is the last dimension
      want += -t.data.byteLength + (cols % 32 === 0 ? (n / 32) * 34 : n * 2);
    }
    const a = uniform(spec, 'Q8_0');
    const e = estimatePlanSize(spec, table, a);
    expect(e.errors).toEqual([]);
    expect(e.baseBytes).toBe(base);
    expect(e.bytes).toBe(want);
    expect(e.fallbacks.map((f) => f.name)).toEqual([0, 1, 2, 3, 4].map((l) => `blk.${l}.ffn_down`));
    expect(e.bytes).toBe(applyAllocation(model, a).size.residentBytes);
  });

  it('dropping two blocks removes their tensors from the size and counts their parameters', () => {
    const a = paintCell(paintCell(blankPlan(spec), spec, 1, { kind: 'block' }, { kind: 'drop' }), spec, 3, { kind: 'block' }, { kind: 'drop' });
    const gone = [...model.tensors.values()].filter((t) => /^blk\.[13]\./.test(t.name));
    const e = estimatePlanSize(spec, table, a);
    expect(e.droppedParams).toBe(gone.reduce((x, t) => x + numel(t.shape), 0));
    expect(e.bytes).toBe(base - gone.reduce((x, t) => x + t.data.byteLength, 0));
  });

  it('an invalid plan reports its errors with what is allowed', () => {
    const bad = { ...blankPlan(spec), layers: { 2: { format: 'Q9_9' } } } as unknown as Allocation;
    const e = estimatePlanSize(spec, table, bad);
    expect(e.errors.length).toBeGreaterThan(0);
    expect(e.errors[0].path).toMatch(/layers\.2/);
    expect(e.errors[0].allowed).toMatch(/Q8_0/);
    expect(e.bytes).toBe(base);
    expect(parsePlanText('{nope')).toHaveProperty('error');
    expect(parsePlanText('[1]')).toHaveProperty('error');
    expect(parsePlanText(JSON.stringify(bad))).toEqual({ plan: bad });
  });
});

describe('strategy controls', () => {
  const st = (p: Partial<AllocationState>): AllocationState => ({ ...initialAllocationState(), ...p });

  it('map to the request the CLI flags make', () => {
    expect(allocateRequestOf(st({ knob: 'format', strategy: 'uniform', highFormat: 'Q8_0' }), null, 't', 64)).toEqual({ text: 't', maxTokens: 64, strategy: 'uniform', format: 'Q8_0' });
    expect(allocateRequestOf(st({ knob: 'format', strategy: 'solve', budget: 4.5 }), null, 't', 64)).toMatchObject({ strategy: 'solve', budget: 'bpw=4.5' });
    expect(allocateRequestOf(st({ knob: 'format', strategy: 'ranked', highFormat: 'Q8_0', lowFormat: 'Q2_K', budget: 2, metric: 'cos' }), null, 't', 64))
      .toMatchObject({ strategy: 'ranked', format: 'Q8_0', low: 'Q2_K', n: 2, metric: 'cos' });
    expect(allocateRequestOf(st({ knob: 'drop-attn', strategy: 'reverse', budget: 3 }), null, 't', 64)).toMatchObject({ strategy: 'reverse', drop: { what: 'attn', n: 3 } });
    expect(() => allocateRequestOf(st({ knob: 'drop-mlp', strategy: 'uniform' }), null, 't', 64)).toThrow(/needs an order/);
  });

  it('the slider: blocks for orders, bits for the solver, rank up to the smallest block matrix side', () => {
    expect(sliderSpec(st({ knob: 'format', strategy: 'ranked' }), spec)).toMatchObject({ min: 0, max: 5 });
    expect(sliderSpec(st({ knob: 'format', strategy: 'solve' }), spec)).toMatchObject({ min: 2, max: 8.5 });
    // SOURCE.md: dim 64, kv_dim 32, hidden 172 -> attn_k / attn_v are 32 x 64
    expect(sliderSpec(st({ knob: 'rank' }), spec)).toMatchObject({ min: 1, max: 32 });
    expect(sliderSpec(st({ knob: 'drop-attn', strategy: 'random' }), spec)).toMatchObject({ min: 0, max: 5 });
  });

  it('preview: uniform is the core strategy; ranked by scores moves the least important blocks', () => {
    expect(previewPlan(st({ knob: 'format', strategy: 'uniform', highFormat: 'Q4_0' }), spec, null)).toEqual(uniform(spec, 'Q4_0'));
    const scores = [{ metricId: 'cos', label: 'cos', unit: '', higherIsMoreImportant: true, perBlock: [5, 1, 4, 2, 3], ranking: [0, 2, 4, 3, 1] }];
    const p = previewPlan(st({ knob: 'format', strategy: 'ranked', highFormat: 'Q8_0', lowFormat: 'Q2_K', budget: 2, metric: 'cos' }), spec, scores);
    // blocks 1 and 3 have the lowest scores
    expect(Object.entries(p!.layers!).filter(([, e]) => e.format === 'Q2_K').map(([l]) => l)).toEqual(['1', '3']);
    expect(previewPlan(st({ knob: 'format', strategy: 'solve' }), spec, null)).toBeNull();
  });

  it('the slice patch keeps other fields', () => {
    const s = createWorkbenchStore(initialState());
    patchAllocation(s, { knob: 'kv', budget: 4 });
    expect(s.getState().allocation.strategy).toBe('uniform');
    expect(s.getState().compare.maxTokens).toBe(64);
  });
});

describe('compare slice', () => {
  const plan = uniform(spec, 'Q8_0');
  const run = (id: string, name: string): CompareRun => ({
    id, name, allocation: plan, modelSerial: 1, text: 'x', pieces: ['a', 'b'], tokens: 2, scored: 1,
    base: { meanNll: 1, ppl: Math.E, prefillTokensPerSecond: 1, decodeTokensPerSecond: 1 },
    modified: { meanNll: 1.1, ppl: Math.exp(1.1), prefillTokensPerSecond: 1, decodeTokensPerSecond: 1 },
    nllDiff: 0.1, kl: 0.01, klPerToken: [0.01, 0.01], top1: 1, top1PerToken: [true, true], size: null, chunked: null, generation: null,
    fallbacks: [], drops: [], seconds: 1,
  });

  it('names runs from the plan and keeps names unique', () => {
    expect(runName([], '', plan)).toBe('uniform Q8_0');
    expect(runName([{ name: 'uniform Q8_0' }], '', plan)).toBe('uniform Q8_0 (2)');
    expect(runName([{ name: 'mine' }, { name: 'mine (2)' }], ' mine ', plan)).toBe('mine (3)');
  });

  it('keeps at most MAX_RUNS runs, selects the newest, removes', () => {
    const s = createWorkbenchStore(initialState());
    for (let i = 0; i < MAX_RUNS + 2; i++) addRun(s, run(`r${i}`, `n${i}`));
    const c = s.getState().compare;
    expect(c.runs).toHaveLength(MAX_RUNS);
    expect(c.runs[0].id).toBe('r2');
    expect(c.selected).toBe(`r${MAX_RUNS + 1}`);
    removeRun(s, `r${MAX_RUNS + 1}`);
    expect(s.getState().compare.selected).toBe(`r${MAX_RUNS}`);
    expect(structuredClone(s.getState().compare)).toEqual(s.getState().compare);
  });

  it('splits generated pieces at the first divergence', () => {
    expect(splitAtDivergence(['a', 'b', 'c'], 1)).toEqual({ same: ['a'], diverged: 'b', rest: ['c'] });
    expect(splitAtDivergence(['a', 'b'], null)).toEqual({ same: ['a', 'b'], diverged: null, rest: [] });
    expect(splitAtDivergence(['a'], 1)).toEqual({ same: ['a'], diverged: null, rest: [] });
  });
});
