// analyze()'s injected fisher gradients (AnalyzeOptions.weightGradSq, src/core/analysis/analyze.ts, and
// src/core/metrics/fisher.ts fisherSumsFrom / fromSums) with a hand-made provider whose answer is known:
// text A reports sum_i g_i^2 = n (as if every entry's gradient were +-1), text B 3 n, for every tensor of n
// entries; a one-token text has no target and must not be asked. Mean over the S = 2 samples: every
// perTensor value is (1 + 3) / 2 = 2, so perBlock and both sublayers are 2, and the Fisher trace of a
// tensor is 2 n. A provider that answers null falls back to the CPU GradModel (gradientBackend 'cpu',
// values equal to fisher.compute); a tensor the provider leaves out counts 0.
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/core/analysis/index.ts';
import { GradModel } from '../../src/core/grad/backward.ts';
import * as fisher from '../../src/core/metrics/fisher.ts';
import { CpuBackend } from '../../src/core/model/cpu-backend.ts';
import { tinyGpt2 } from './grad-fixtures.ts';

const ids = [[3, 1, 4, 1, 5], [9, 2, 6], [7]];

describe('analyze with an injected weightGradSq provider', () => {
  it('hand-made per-tensor sums -> perTensor 2, perBlock 2, trace 2 n; one-token text not asked', async () => {
    const model = tinyGpt2();
    const size = (name: string) => model.tensors.get(name)!.shape.reduce((a, b) => a * b, 1);
    const asked: number[][] = [];
    const r = await analyze(new CpuBackend(model), model, {
      ids,
      metrics: ['fisher'],
      weightGradSq: async (m, x) => {
        expect(m).toBe(model);
        asked.push(x);
        const k = asked.length === 1 ? 1 : 3;
        return Object.fromEntries([...m.tensors.keys()].map((n) => [n, k * size(n)]));
      },
    });
    expect(asked).toEqual([ids[0], ids[1]]);
    const s = r.scores.find((x) => x.metricId === 'fisher')!;
    expect(s.extra!.gradientBackend).toBe('gpu');
    expect(s.extra!.samples).toBe(2);
    for (const [name, v] of Object.entries(s.perTensor!)) expect(v, name).toBeCloseTo(2, 12);
    expect(Object.keys(s.perTensor!)).toEqual([...model.tensors.keys()]);
    const trace = s.extra!.perTensorSum as Record<string, number>;
    for (const name of model.tensors.keys()) expect(trace[name], name).toBeCloseTo(2 * size(name), 9);
    for (const v of [...s.perBlock, ...s.perSublayer!.attn, ...s.perSublayer!.mlp]) expect(v).toBeCloseTo(2, 12);
  });

  it('a tensor left out counts 0; perBlock is the entry-weighted mean', async () => {
    const model = tinyGpt2();
    const size = (name: string) => model.tensors.get(name)!.shape.reduce((a, b) => a * b, 1);
    const sums = await fisher.fisherSumsFrom([ids[0]], async () => ({ 'blk.0.ffn_up': size('blk.0.ffn_up') }), 'gpu');
    const s = fisher.fromSums(2, [...model.tensors].map(([n, t]): [string, number] => [n, t.shape.reduce((a, b) => a * b, 1)]), sums!);
    expect(s.perTensor!['blk.0.ffn_up']).toBe(1);
    expect(s.perTensor!['blk.0.ffn_down']).toBe(0);
    const blk0 = [...model.tensors.keys()].filter((n) => /^blk\.0\.(attn|ffn)_/.test(n));
    const n0 = blk0.reduce((a, n) => a + size(n), 0);
    expect(s.perBlock[0]).toBeCloseTo(size('blk.0.ffn_up') / n0, 14);
    expect(s.perBlock[1]).toBe(0);
    expect(s.perSublayer!.attn[0]).toBe(0);
  });

  it('null from the provider -> the CPU gradients, equal to fisher.compute', async () => {
    const model = tinyGpt2();
    const r = await analyze(new CpuBackend(model), model, { ids, metrics: ['fisher'], weightGradSq: async () => null });
    const s = r.scores.find((x) => x.metricId === 'fisher')!;
    expect(s.extra!.gradientBackend).toBe('cpu');
    const want = fisher.compute({ grad: new GradModel(model), ids });
    expect(s.perTensor).toEqual(want.perTensor);
    expect(s.perBlock).toEqual(want.perBlock);
  });
});
