// The metric registry: metadata is complete and consistent, computeMetric dispatches and checks needs,
// and the LayerScores it returns are plain data (survive structuredClone unchanged).
import { describe, expect, it } from 'vitest';
import { computeMetric, METRIC_IDS, METRICS, type MetricContext } from '../../src/core/metrics/index.ts';
import { randn } from '../../src/core/tensor.ts';
import type { Taps, WeightMatrix } from '../../src/core/metrics/types.ts';

function randomCtx(): MetricContext {
  const T = 5;
  const C = 4;
  const L = 3;
  const taps: Taps = {};
  for (let l = 0; l < L; l++) {
    const hin = l === 0 ? randn(T * C, 1) : taps[`blk.${l - 1}.out`];
    const a = randn(T * C, 10 + l, 0.5);
    const m = randn(T * C, 20 + l, 0.5);
    const mid = hin.map((v, i) => v + a[i]);
    taps[`blk.${l}.in`] = hin;
    taps[`blk.${l}.attn_out`] = a;
    taps[`blk.${l}.mid`] = mid;
    taps[`blk.${l}.mlp_out`] = m;
    taps[`blk.${l}.out`] = mid.map((v, i) => v + m[i]);
  }
  const W: Record<string, WeightMatrix> = {};
  for (let l = 0; l < L; l++) {
    W[`blk.${l}.attn_q`] = { rows: C, cols: C, data: randn(C * C, 30 + l) };
    W[`blk.${l}.ffn_up`] = { rows: 6, cols: C, data: randn(6 * C, 40 + l) };
  }
  const V = 7;
  const E = randn(V * C, 50);
  const unembed = (h: Float32Array, n: number) => {
    const out = new Float32Array(n * V);
    for (let t = 0; t < n; t++) for (let v = 0; v < V; v++) for (let c = 0; c < C; c++) out[t * V + v] += h[t * C + c] * E[v * C + c];
    return out;
  };
  return {
    nLayers: L, T, C, taps, unembed,
    weight: (n) => W[n],
    inputNorms: (n) => (W[n] ? Float32Array.from({ length: W[n].cols }, (_, j) => 1 + j) : undefined),
  };
}

describe('metric registry', () => {
  it('metadata: ids match keys, a citation, unit, orientation and needs for each', () => {
    expect(METRIC_IDS.length).toBeGreaterThanOrEqual(11);
    for (const id of METRIC_IDS) {
      const m = METRICS[id];
      expect(m.id).toBe(id);
      expect(m.label.length).toBeGreaterThan(0);
      expect(m.paper.length).toBeGreaterThan(10);
      expect(m.unit.length).toBeGreaterThan(0);
      expect(typeof m.higherIsMoreImportant).toBe('boolean');
      expect(m.needs.length).toBeGreaterThan(0);
    }
    expect(structuredClone(METRICS)).toEqual(METRICS);
  });

  it('every metric computes on a small random model; results are plain data with a full ranking', () => {
    const ctx = randomCtx();
    for (const id of METRIC_IDS) {
      const r = computeMetric(id, ctx);
      expect(r.metricId).toBe(id);
      expect(r.perBlock.length).toBe(3);
      expect([...r.ranking].sort()).toEqual([0, 1, 2]);
      for (const v of r.perBlock) expect(Number.isFinite(v)).toBe(true);
      expect(structuredClone(r)).toEqual(r);
    }
  });

  it('names what is missing', () => {
    const ctx = randomCtx();
    expect(() => computeMetric('lens', { ...ctx, unembed: undefined })).toThrow(/unembed/);
    expect(() => computeMetric('owl', { ...ctx, inputNorms: undefined })).toThrow(/activation norms/);
    expect(() => computeMetric('cos', { nLayers: 3 })).toThrow(/taps/);
    expect(() => computeMetric('zd', { nLayers: 3 })).toThrow(/weights/);
  });
});
