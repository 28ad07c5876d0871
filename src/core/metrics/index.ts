// Registry of the layer-importance metrics (DESIGN.md §6): METRICS holds each metric's metadata
// (id, label, paper, unit, orientation, needs) as plain data for the UI and the worker, and
// computeMetric(id, ctx) runs one from a context that carries what it needs. Every metric module
// documents its definition in its header; rank agreement between metrics is in agreement.ts and
// next-token divergence for ablation-type metrics in divergence.ts.

import * as cka from './cka.ts';
import * as contrib from './contrib.ts';
import * as cos from './cos.ts';
import * as lens from './lens.ts';
import * as lim from './lim.ts';
import * as weights from './weights.ts';
import * as zd from './zd.ts';
import type { LayerScores, MetricMeta, Taps, WeightLookup } from './types.ts';

export type MetricId = 'cos' | 'lim' | 'contrib' | 'cka' | 'lens' | 'zd' | 'w-fro' | 'w-kurtosis' | 'w-outliers' | 'owl' | 'erank';

export const METRICS: Record<MetricId, MetricMeta> = {
  cos: cos.meta,
  lim: lim.meta,
  contrib: contrib.meta,
  cka: cka.meta,
  lens: lens.meta,
  zd: zd.meta,
  'w-fro': weights.metas.fro,
  'w-kurtosis': weights.metas.kurtosis,
  'w-outliers': weights.metas.outliers,
  owl: weights.metas.owl,
  erank: weights.metas.erank,
};

export const METRIC_IDS = Object.keys(METRICS) as MetricId[];

/** Everything any metric may need; each metric checks for its own needs. */
export interface MetricContext {
  nLayers: number;
  /** Forward taps ([T, C] each; 'logits' [T, V]). */
  taps?: Taps;
  T?: number;
  C?: number;
  /** Dequantized f32 weights by canonical name. */
  weight?: WeightLookup;
  /** ||X_j||_2 over calibration tokens per input column, by canonical tensor name (OWL). */
  inputNorms?: (name: string) => Float32Array | undefined;
  /** Final norm + unembedding [T, C] -> [T, V] (logit lens). */
  unembed?: (h: Float32Array, T: number) => Float32Array;
  options?: { outlierK?: number; owlM?: number; ckaForm?: cka.CkaForm };
}

function need<T>(v: T | undefined, id: string, what: string): T {
  if (v === undefined) throw new Error(`metric '${id}' needs ${what}`);
  return v;
}

export function computeMetric(id: MetricId, ctx: MetricContext): LayerScores {
  const m = METRICS[id];
  if (!m) throw new Error(`unknown metric '${id}'`);
  const tapsCtx = () => ({ taps: need(ctx.taps, id, 'forward taps'), T: need(ctx.T, id, 'T'), C: need(ctx.C, id, 'C'), nLayers: ctx.nLayers });
  const weightCtx = () => ({
    nLayers: ctx.nLayers,
    weight: need(ctx.weight, id, 'weights'),
    inputNorms: m.needs.includes('activationNorms') ? need(ctx.inputNorms, id, 'activation norms') : ctx.inputNorms,
    outlierK: ctx.options?.outlierK,
    owlM: ctx.options?.owlM,
  });
  switch (id) {
    case 'cos': return cos.compute(tapsCtx());
    case 'lim': return lim.compute(tapsCtx());
    case 'contrib': return contrib.compute(tapsCtx());
    case 'cka': return cka.compute({ ...tapsCtx(), form: ctx.options?.ckaForm });
    case 'lens': return lens.compute({ ...tapsCtx(), unembed: need(ctx.unembed, id, 'an unembed function') });
    case 'zd': return zd.compute({ nLayers: ctx.nLayers, weight: need(ctx.weight, id, 'weights') });
    case 'w-fro': return weights.compute(weightCtx(), 'fro');
    case 'w-kurtosis': return weights.compute(weightCtx(), 'kurtosis');
    case 'w-outliers': return weights.compute(weightCtx(), 'outliers');
    case 'owl': return weights.compute(weightCtx(), 'owl');
    case 'erank': return weights.compute(weightCtx(), 'erank');
  }
}

export type { LayerScores, MetricMeta, MetricNeed, Taps, TapsContext, WeightLookup, WeightMatrix } from './types.ts';
export { rankBlocks, tapName, LINEAR_SUFFIXES } from './types.ts';
export { rankAgreement, spearman, kendallTauB, type Agreement } from './agreement.ts';
export { compareLogits, logSoftmaxRow, klFromLogProbs, type Divergence } from './divergence.ts';
export { svd, singularValues, type Svd } from './linalg.ts';
export { linearCka, linearCkaGram, linearCkaFeature, ckaMatrix } from './cka.ts';
export { weightStats, kurtosis, effectiveRank, type WeightStats, type TensorStats } from './weights.ts';
