// The Allocation panel's strategies and budgets (src/store/allocation.ts) and the Compare panel's chart
// points (src/store/compare.ts), against hand-computed values on stories260K's shapes:
// - strategies per knob and their one-line descriptions name the papers;
// - the controls map to the engine requests the CLI's flags make (drank / owl / mixed solve);
// - the live estimate's parameter ratio equals a hand count from the tensor shapes;
// - rank / sparsity / KV bits in metric order: the values of the ramp computed by hand, reverse and random
//   orders, 2:4 on the least important blocks;
// - owl with 2:4 (core owl-nm.ts): the blocks with the fewest outliers, by hand; and through the Engine
//   (CPU) drank previews, owl 2:4 and the mixed solver under a params budget keep at most the budget.
import { describe, expect, it } from 'vitest';
import {
  allocateRequestOf, blankPlan, defaultBudget, estimatePlanSize, initialAllocationState, klVsBitsPoints, orderedBrushes, paintedPlan, previewPlan,
  sliderSpec, strategiesFor, strategyInfo, usesParamsBudget, type AllocationState, type CompareRun,
} from '../../src/store/index.ts';
import { drankAllocation, owlNmAllocation, randomOrder, uniform, validateAllocation, type Allocation } from '../../src/core/allocation/index.ts';
import { loadModelFromFiles } from '../../src/core/formats/load.ts';
import { typeName } from '../../src/core/quant/types.ts';
import type { LayerScores } from '../../src/core/metrics/types.ts';
import { Engine } from '../../src/worker/engine.ts';
import { readModelBytes } from '../helpers/models.ts';

const model = loadModelFromFiles([{ name: 'stories260K.gguf', bytes: readModelBytes('stories260K-gguf/stories260K.gguf') }]);
const spec = model.spec;
const table = [...model.tensors.values()].map((t) => ({ name: t.name, type: typeName(t.type), shape: t.shape, bytes: t.data.byteLength }));
const st = (p: Partial<AllocationState>): AllocationState => ({ ...initialAllocationState(), ...p });
const TEXT = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park.';
// most important first: 2, 0, 4, 1, 3
const SCORES: LayerScores = { metricId: 'cos', label: 'cos', unit: '', higherIsMoreImportant: true, perBlock: [0.8, 0.2, 0.9, 0.1, 0.5], ranking: [2, 0, 4, 1, 3] };
const SUFFIXES = ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down'];

describe('strategies and budgets of the panel', () => {
  it('offers drank, owl and the mixed solver, each with its paper', () => {
    expect(strategiesFor('rank')).toContain('drank');
    expect(strategiesFor('sparsity')).toContain('owl');
    expect(strategiesFor('mixed')).toEqual(['solve']);
    expect(strategiesFor('drop-attn')).toEqual(['ranked', 'reverse', 'random']);
    expect(strategyInfo('rank', 'drank')).toMatch(/D-Rank, arXiv 2509\.25622/);
    expect(strategyInfo('sparsity', 'owl')).toMatch(/OWL, arXiv 2310\.05175/);
    expect(strategyInfo('mixed', 'solve')).toMatch(/target-bpw/);
    expect(strategyInfo('format', 'solve')).toMatch(/llama\.cpp/);
    expect(usesParamsBudget(st({ knob: 'mixed', strategy: 'solve', solveBudget: 'params' }))).toBe(true);
    expect(usesParamsBudget(st({ knob: 'mixed', strategy: 'solve', solveBudget: 'bpw' }))).toBe(false);
    expect(sliderSpec(st({ knob: 'rank', strategy: 'drank' }), spec)).toMatchObject({ min: 0.05, max: 1 });
    expect(defaultBudget(st({ knob: 'sparsity', strategy: 'owl' }), spec)).toBe(0.7);
    expect(sliderSpec(st({ knob: 'sparsity', strategy: 'ranked', sparsityMethod: '2:4' }), spec)).toMatchObject({ min: 0, max: 5, step: 1 });
  });

  it('maps the controls to the engine requests of the CLI flags', () => {
    expect(allocateRequestOf(st({ knob: 'rank', strategy: 'drank', budget: 0.6 }), null, TEXT, 32)).toEqual({ text: TEXT, maxTokens: 32, strategy: 'drank', budget: 'params=0.6' });
    expect(allocateRequestOf(st({ knob: 'sparsity', strategy: 'owl', budget: 0.5, lambda: 0.1, sparsityMethod: 'wanda' }), null, TEXT, 32))
      .toEqual({ text: TEXT, maxTokens: 32, strategy: 'owl', budget: 'params=0.5', lambda: 0.1, sparsityMethod: 'wanda' });
    expect(allocateRequestOf(st({ knob: 'mixed', strategy: 'solve', budget: 0.7, solveBudget: 'params', solveFormats: ['Q8_0', 'Q4_0'], solveRanks: ' 0.25, 0.5 ', solveDrops: ['attn', 'mlp'] }), null, TEXT, 32))
      .toEqual({ text: TEXT, maxTokens: 32, strategy: 'solve', budget: 'params=0.7', formats: ['Q8_0', 'Q4_0'], ranks: '0.25,0.5', dropKinds: 'attn,mlp' });
    expect(allocateRequestOf(st({ knob: 'mixed', strategy: 'solve', budget: 5, solveBudget: 'bpw', solveFormats: ['Q8_0'], solveRanks: '', solveDrops: [] }), null, TEXT, 32))
      .toEqual({ text: TEXT, maxTokens: 32, strategy: 'solve', budget: 'bpw=5', formats: ['Q8_0'] });
    expect(() => allocateRequestOf(st({ knob: 'kv', strategy: 'ranked' }), null, TEXT, 32)).toThrow(/painted in the page/);
  });

  it('the live estimate gives the parameter ratio of a hand count', () => {
    const shape = (n: string) => model.tensors.get(n)!.shape;
    let total = 0;
    for (let l = 0; l < 5; l++) for (const s of SUFFIXES) { const [r, c] = shape(`blk.${l}.${s}`); total += r * c; }
    const a: Allocation = {
      ...blankPlan(spec),
      layers: { 2: { drop: 'mlp' } },
      tensors: { 'blk.0.attn_q': { rank: 8 }, 'blk.3.attn_output': { sparsity: { method: 'magnitude', ratio: 0.5 } }, 'blk.4.ffn_up': { format: 'Q4_0' } },
    };
    const [qr, qc] = shape('blk.0.attn_q');
    const [or, oc] = shape('blk.3.attn_output');
    let mlp = 0;
    for (const s of ['ffn_gate', 'ffn_up', 'ffn_down']) { const [r, c] = shape(`blk.2.${s}`); mlp += r * c; }
    const kept = total - (qr * qc - (qr + qc) * 8) - Math.floor(0.5 * or * oc) - mlp; // the format changes bytes, not parameters
    const e = estimatePlanSize(spec, table, a);
    expect(e.errors).toEqual([]);
    expect(e.paramsTotal).toBe(total);
    expect(e.paramsKept).toBe(kept);
    expect(e.paramRatio).toBeCloseTo(kept / total, 12);
    expect(estimatePlanSize(spec, table, uniform(spec, 'Q4_0')).paramRatio).toBe(1);
  });

  it('rank, sparsity and KV bits in metric order: the ramp by hand', () => {
    // positions 0..4 of the order 2, 0, 4, 1, 3 have t = 1, 0.5, 0, -0.5, -1
    const rank = paintedPlan(st({ knob: 'rank', strategy: 'ranked', metric: 'cos', budget: 16, spread: 0.5 }), spec, blankPlan(spec), [SCORES]);
    const want: Record<number, number> = { 2: 24, 0: 20, 4: 16, 1: 12, 3: 8 };
    for (let l = 0; l < 5; l++) for (const s of SUFFIXES) expect(rank.tensors?.[`blk.${l}.${s}`]?.rank).toBe(want[l]);
    const sp = paintedPlan(st({ knob: 'sparsity', strategy: 'ranked', metric: 'cos', budget: 40, spread: 0.5, sparsityMethod: 'wanda' }), spec, blankPlan(spec), [SCORES]);
    const ws: Record<number, number> = { 2: 0.2, 0: 0.3, 4: 0.4, 1: 0.5, 3: 0.6 };
    for (let l = 0; l < 5; l++) expect(sp.tensors?.[`blk.${l}.ffn_up`]?.sparsity).toEqual({ method: 'wanda', ratio: ws[l] });
    const kv = paintedPlan(st({ knob: 'kv', strategy: 'reverse', metric: 'cos', budget: 4, spread: 0.5 }), spec, blankPlan(spec), [SCORES]);
    // reverse: 3, 1, 4, 0, 2 get 6, 5, 4, 3, 2 bits
    const wk: Record<number, number> = { 3: 6, 1: 5, 4: 4, 0: 3, 2: 2 };
    for (let l = 0; l < 5; l++) expect(kv.layers?.[String(l)]?.kvBits).toEqual({ k: wk[l], v: wk[l] });
    // random: the core's seeded order
    const o = randomOrder(5, 7);
    const rb = orderedBrushes(st({ knob: 'kv', budget: 4, spread: 0.5 }), spec, o);
    expect(rb[o[0]]).toEqual({ kind: 'kv', bits: 6 });
    expect(rb[o[4]]).toEqual({ kind: 'kv', bits: 2 });
    const rp = paintedPlan(st({ knob: 'kv', strategy: 'random', seed: 7, budget: 4, spread: 0.5 }), spec, blankPlan(spec), null);
    expect(rp.layers?.[String(o[0])]?.kvBits).toEqual({ k: 6, v: 6 });
    // 2:4 in order: the last two of the order (1 and 3), every matrix
    const nm = paintedPlan(st({ knob: 'sparsity', strategy: 'ranked', metric: 'cos', budget: 2, sparsityMethod: '2:4' }), spec, blankPlan(spec), [SCORES]);
    const sparse = new Set(Object.entries(nm.tensors ?? {}).filter(([, e]) => e.sparsity?.method === '2:4').map(([n]) => Number(n.split('.')[1])));
    expect([...sparse].sort()).toEqual([1, 3]);
    expect(Object.keys(nm.tensors ?? {})).toHaveLength(14);
    // every painted plan is valid, and spread 0 gives one value everywhere
    for (const p of [rank, sp, kv, rp, nm]) expect(validateAllocation(p, spec).ok).toBe(true);
    const flat = paintedPlan(st({ knob: 'rank', strategy: 'ranked', metric: 'cos', budget: 10, spread: 0 }), spec, blankPlan(spec), [SCORES]);
    expect(new Set(Object.values(flat.tensors ?? {}).map((e) => e.rank))).toEqual(new Set([10]));
  });

  it('owl with 2:4: the blocks with the fewest outliers take 2:4 until the budget holds', () => {
    // equal blocks, 2:4 keeps half of one: 0.8 of the parameters needs two blocks, the lowest D: 1 and 3
    const p = owlNmAllocation(spec, [0.3, 0.1, 0.5, 0.2, 0.4], 0.8);
    const blocks = new Set(Object.keys(p.allocation.tensors ?? {}).map((n) => Number(n.split('.')[1])));
    expect([...blocks].sort()).toEqual([1, 3]);
    expect(p.keptParams).toBe(0.8 * p.totalParams);
    expect(p.sparsity).toEqual([0, 0.5, 0, 0.5, 0]);
    expect(estimatePlanSize(spec, table, p.allocation).paramRatio).toBeCloseTo(0.8, 12);
    expect(() => owlNmAllocation(spec, [0.3, 0.1, 0.5, 0.2, 0.4], 0.4)).toThrow(/2:4 keeps half/);
  });
});

describe('through the engine (CPU)', () => {
  it('drank preview = the engine plan; owl 2:4 and the mixed solver keep at most the params budget', async () => {
    const e = new Engine(async () => null);
    await e.load({ kind: 'files', files: [{ name: 'stories260K.gguf', bytes: readModelBytes('stories260K-gguf/stories260K.gguf') }] }, { backend: 'cpu', contextLength: 512 });
    const an = await e.analyze({ texts: [TEXT], metrics: ['weights'], maxTokens: 24 });
    const s = st({ knob: 'rank', strategy: 'drank', budget: 0.6 });
    const viaEngine = await e.allocate(allocateRequestOf(s, an.scores, TEXT, 24));
    const pv = previewPlan(s, spec, an.scores);
    expect(pv).toEqual(drankAllocation(spec, an.scores.find((x) => x.metricId === 'erank')!.perTensor!, 0.6).allocation);
    expect(pv?.tensors).toEqual(viaEngine.allocation.tensors);
    expect(estimatePlanSize(spec, table, viaEngine.allocation).paramRatio).toBeLessThanOrEqual(0.6);

    const owl = await e.allocate(allocateRequestOf(st({ knob: 'sparsity', strategy: 'owl', budget: 0.8, sparsityMethod: '2:4' }), an.scores, TEXT, 24));
    expect(owl.scoresUsed).toBe('owl');
    const methods = new Set(Object.values(owl.allocation.tensors ?? {}).map((t) => t.sparsity?.method));
    expect(methods).toEqual(new Set(['2:4']));
    expect(estimatePlanSize(spec, table, owl.allocation).paramRatio).toBeLessThanOrEqual(0.8);

    const mixed = st({ knob: 'mixed', strategy: 'solve', budget: 0.75, solveBudget: 'params', solveFormats: ['Q8_0'], solveRanks: '0.5', solveDrops: ['attn', 'mlp'] });
    const m = await e.allocate(allocateRequestOf(mixed, null, TEXT, 24));
    const est = estimatePlanSize(spec, table, m.allocation);
    expect(est.errors).toEqual([]);
    expect(est.paramRatio).toBeLessThanOrEqual(0.75 + 1e-12);
    expect(est.paramRatio).toBeLessThan(1);
  });

  it('the KL vs bits-per-weight points leave out runs without a size', () => {
    const base = { allocation: uniform(spec, 'Q8_0'), modelSerial: 1, text: 'x', pieces: [], tokens: 2, scored: 1, nllDiff: 0, klPerToken: [], top1: 1, top1PerToken: [], chunked: null, generation: null, fallbacks: [], drops: [], seconds: 1 };
    const side = { meanNll: 1, ppl: Math.E, prefillTokensPerSecond: 1, decodeTokensPerSecond: 1 };
    const size = (bpw: number) => ({ residentBytes: 1, baseResidentBytes: 2, bitsPerWeight: bpw, matrixBitsPerWeight: bpw, droppedBytes: 0 });
    const runs: CompareRun[] = [
      { ...base, id: 'a', name: 'A', base: side, modified: side, kl: 0.01, size: size(8.5) },
      { ...base, id: 'b', name: 'B', base: side, modified: side, kl: 0.2, size: null },
      { ...base, id: 'c', name: 'C', base: side, modified: side, kl: 0.1, size: size(4.5) },
    ];
    expect(klVsBitsPoints(runs)).toEqual([{ name: 'A', x: 8.5, y: 0.01 }, { name: 'C', x: 4.5, y: 0.1 }]);
  });
});
