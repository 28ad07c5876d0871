// Layer-importance analysis runs: orchestration over the Backend interface (analyze.ts), the metric
// names it accepts (metrics.ts), activation inputs for OWL (activations.ts), the logit-lens detail
// (lens-detail.ts) and the stable JSON report (report.ts).
export { analyze, calibrationIds, weightLookup } from './analyze.ts';
export { ANALYSIS_META, ANALYSIS_ORDER, GROUPS, MetricNameError, UNAVAILABLE, resolveMetricNames } from './metrics.ts';
export { applyGroupProgress, finishGroupRows, groupWhat, initialGroupRows, parseGroupWhat, stopGroupRows, type GroupProgressRow, type GroupStep } from './progress.ts';
export { ACT_TAP, CTX_TAP, InputNormAccumulator, attentionContext, mlpActivation } from './activations.ts';
export { lensWithDetail, rowTopK, type LensDetail } from './lens-detail.ts';
export { REPORT_SCHEMA, metricReport, ranksOf, reportText, toReport, type AnalysisReport, type MetricReport, type BlockEntry, type SublayerEntry } from './report.ts';
export type { AnalysisMetricName, AnalysisResult, AnalyzeOptions, AnalyzeRequest, CalibrationFacts } from './types.ts';
