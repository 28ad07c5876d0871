// The metric names an analysis run accepts (the CLI's --metrics LIST) and the LayerScores each one
// produces, with the metadata of every produced metric (src/core/metrics registry + ablation + quant).
// Gradient attribution (issue 3, metric 8: taylor, fisher, zo) runs its backward on the CPU reference
// (src/core/grad, extra.gradientBackend = 'cpu') unless the caller injects GPU gradients (analyze's
// residGrad / weightGradSq; the engine does on its WebGPU backend: 'gpu'). UNAVAILABLE lists names that
// are known but refused (none at present).

import { METRICS } from '../metrics/index.ts';
import type { MetricMeta } from '../metrics/types.ts';
import { meta as ablationMeta } from '../metrics/ablation.ts';
import { meta as quantMeta } from '../metrics/quant-sensitivity.ts';
import { meta as taylorMeta } from '../metrics/taylor.ts';
import { meta as fisherMeta } from '../metrics/fisher.ts';
import { meta as zoMeta } from '../metrics/zo.ts';
import type { AnalysisMetricName } from './types.ts';

/** Metric group -> the metric ids (LayerScores.metricId) it produces, in output order. */
export const GROUPS: Record<AnalysisMetricName, string[]> = {
  cos: ['cos'],
  lim: ['lim'],
  contrib: ['contrib'],
  cka: ['cka'],
  lens: ['lens'],
  zd: ['zd'],
  weights: ['w-fro', 'w-kurtosis', 'w-outliers', 'owl', 'erank'],
  ablation: ['ablation'],
  quant: ['quant'],
  taylor: ['taylor'],
  fisher: ['fisher'],
  zo: ['zo'],
  agreement: [],
};

/** Canonical order of the groups (and so of AnalysisResult.scores). */
export const ANALYSIS_ORDER: AnalysisMetricName[] = ['cos', 'lim', 'contrib', 'cka', 'lens', 'zd', 'weights', 'ablation', 'quant', 'taylor', 'fisher', 'zo', 'agreement'];

export const UNAVAILABLE: Record<string, string> = {};

/** Metadata of every metric id an analysis can produce. */
export const ANALYSIS_META: Record<string, MetricMeta> = { ...METRICS, ablation: ablationMeta, quant: quantMeta, taylor: taylorMeta, fisher: fisherMeta, zo: zoMeta };

export class MetricNameError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'MetricNameError';
  }
}

/** Validate a list of group names ('all' expands to every available group); result in canonical order. */
export function resolveMetricNames(list: readonly string[]): AnalysisMetricName[] {
  const want = new Set<AnalysisMetricName>();
  if (list.length === 0) throw new MetricNameError(`no metrics given (choose from ${ANALYSIS_ORDER.join(', ')} or all)`);
  for (const raw of list) {
    const n = raw.trim().toLowerCase();
    if (!n) continue;
    if (n === 'all') ANALYSIS_ORDER.forEach((g) => want.add(g));
    else if (n in UNAVAILABLE) throw new MetricNameError(`metric "${n}": ${UNAVAILABLE[n]}`);
    else if ((ANALYSIS_ORDER as string[]).includes(n)) want.add(n as AnalysisMetricName);
    else throw new MetricNameError(`unknown metric "${raw}" (choose from ${ANALYSIS_ORDER.join(', ')} or all)`);
  }
  if (want.size === 0) throw new MetricNameError(`no metrics given (choose from ${ANALYSIS_ORDER.join(', ')} or all)`);
  return ANALYSIS_ORDER.filter((g) => want.has(g));
}
