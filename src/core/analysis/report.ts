// The stable JSON form of an analysis (what `layerlab analyze --json` prints and external checks read),
// built from an AnalysisResult. Field by field documentation: README.md "analyze JSON". Schema id
// "layerlab.analysis/1": fields may be added under the same id, never renamed or removed.
//
// Conventions: block and sublayer indices are 0-based; rank 1 = most important under the metric's own
// orientation (higherIsMoreImportant); undefined values (NaN) are null and have rank null; sublayer
// ranks order all 2 L sublayers (attention and MLP together).

import { rankBlocks, type LayerScores } from '../metrics/types.ts';
import type { QuantExtra, QuantMeasure } from '../metrics/quant-sensitivity.ts';
import type { AblationSeries } from '../metrics/ablation.ts';
import { ANALYSIS_META } from './metrics.ts';
import type { AnalysisResult, CalibrationFacts } from './types.ts';
import type { LensDetail } from './lens-detail.ts';
import type { Agreement } from '../metrics/agreement.ts';

export const REPORT_SCHEMA = 'layerlab.analysis/1';

export interface BlockEntry {
  block: number;
  value: number | null;
  rank: number | null;
  [detail: string]: unknown;
}

export interface SublayerEntry {
  block: number;
  sublayer: 'attn' | 'mlp';
  value: number | null;
  rank: number | null;
  [detail: string]: unknown;
}

export interface MetricReport {
  id: string;
  label: string;
  paper: string;
  unit: string;
  higherIsMoreImportant: boolean;
  blocks: BlockEntry[];
  sublayers?: SublayerEntry[];
  tensors?: { name: string; value: number | null }[];
  /** L x T (texts concatenated; calibration.textStarts). */
  perToken?: number[][];
  /** L x L (CKA between block outputs). */
  matrix?: number[][];
  details?: Record<string, unknown>;
}

export interface AnalysisReport {
  schema: string;
  model: AnalysisResult['model'];
  calibration: CalibrationFacts;
  metrics: MetricReport[];
  agreement: Agreement | null;
  lens: LensDetail | null;
  options: AnalysisResult['options'];
  timings: Record<string, number>;
  /** Per metric id, where its heavy scan ran ('gpu' = the WGSL scanner, 'cpu' = the metric module). */
  scanBackends?: Record<string, string>;
}

const fin = (v: number): number | null => (Number.isFinite(v) ? v : null);

/** 1-based ranks (rank 1 = most important) of `values` under the orientation; null for NaN. */
export function ranksOf(values: readonly number[], higherIsMoreImportant: boolean): (number | null)[] {
  const order = rankBlocks(values, higherIsMoreImportant);
  const ranks = new Array<number | null>(values.length).fill(null);
  order.forEach((i, r) => {
    if (!Number.isNaN(values[i])) ranks[i] = r + 1;
  });
  return ranks;
}

function measure(m: { dNll: number; kl: number; top1: number }): { dNll: number | null; kl: number | null; top1: number | null } {
  return { dNll: fin(m.dNll), kl: fin(m.kl), top1: fin(m.top1) };
}

function quantEntry(m: QuantMeasure): Record<string, unknown> {
  return { ...measure(m), tensors: m.tensors, skippedTensors: m.skippedTensors };
}

export function metricReport(s: LayerScores): MetricReport {
  const meta = ANALYSIS_META[s.metricId];
  const hi = s.higherIsMoreImportant;
  const ranks = ranksOf(s.perBlock, hi);
  const blocks: BlockEntry[] = s.perBlock.map((v, block) => ({ block, value: fin(v), rank: ranks[block] }));
  const out: MetricReport = {
    id: s.metricId,
    label: s.label,
    paper: meta?.paper ?? '',
    unit: s.unit,
    higherIsMoreImportant: hi,
    blocks,
  };
  if (s.perSublayer) {
    const L = s.perBlock.length;
    const flat = [...s.perSublayer.attn, ...s.perSublayer.mlp];
    const r = ranksOf(flat, hi);
    out.sublayers = [];
    for (let b = 0; b < L; b++) {
      out.sublayers.push({ block: b, sublayer: 'attn', value: fin(flat[b]), rank: r[b] });
      out.sublayers.push({ block: b, sublayer: 'mlp', value: fin(flat[L + b]), rank: r[L + b] });
    }
  }
  if (s.perTensor) out.tensors = Object.entries(s.perTensor).map(([name, v]) => ({ name, value: fin(v) }));
  if (s.perToken) out.perToken = s.perToken;
  if (s.matrix) out.matrix = s.matrix;
  const x = (s.extra ?? {}) as Record<string, unknown>;
  switch (s.metricId) {
    case 'cos':
      out.details = { meanCos: x.meanCos, meanCosNoFirst: x.meanCosNoFirst, biNoFirst: x.biNoFirst, angular: x.angular, attnAngular: x.attnAngular, mlpAngular: x.mlpAngular };
      break;
    case 'cka':
      out.details = { ckaInOut: x.ckaInOut };
      break;
    case 'zd':
      out.details = { perMatrixMean: x.perMatrixMean };
      break;
    case 'erank':
      out.details = { erankNormalized: x.erankNormalized };
      break;
    case 'lens':
      out.details = { embedKl: x.embedKl, klDrop: x.klDrop, agreement: x.agreement };
      break;
    case 'taylor':
      out.details = { signed: x.signed, loss: x.loss, scored: x.scored, gradientBackend: x.gradientBackend };
      break;
    case 'fisher':
      out.details = { samples: x.samples, sample: x.sample, perTensorSum: x.perTensorSum, gradientBackend: x.gradientBackend };
      break;
    case 'zo':
      out.details = { eps: x.eps, signed: x.signed, exact: x.exact, relErr: x.relErr, maxRelErr: x.maxRelErr, gradientBackend: x.gradientBackend, forwardBackend: x.forwardBackend };
      break;
    case 'ablation': {
      const e = x as unknown as { block: AblationSeries; attn: AblationSeries; mlp: AblationSeries; nllBase: number };
      const pick = (a: AblationSeries, b: number) => measure({ dNll: a.dNll[b], kl: a.kl[b], top1: a.top1[b] });
      blocks.forEach((e2, b) => Object.assign(e2, pick(e.block, b)));
      out.sublayers?.forEach((e2) => Object.assign(e2, pick(e2.sublayer === 'attn' ? e.attn : e.mlp, e2.block)));
      out.details = { nllBase: fin(e.nllBase) };
      break;
    }
    case 'quant': {
      const e = x as unknown as QuantExtra;
      blocks.forEach((e2, b) => {
        e2.plain = e.plain.map((p) => ({ bits: p.bits, ...measure(p.blocks[b]) }));
        e2.formats = e.formats.map((f) => ({ format: f.format, ...quantEntry(f.blocks[b]) }));
      });
      out.details = {
        valueFrom: e.valueFrom,
        refBits: e.refBits,
        nllBase: fin(e.nllBase),
        allBlocks: {
          plain: e.plain.map((p) => ({ bits: p.bits, ...measure(p.all) })),
          formats: e.formats.map((f) => ({ format: f.format, ...quantEntry(f.all) })),
        },
        skipped: e.skipped,
      };
      break;
    }
  }
  return out;
}

export function toReport(r: AnalysisResult): AnalysisReport {
  return {
    schema: REPORT_SCHEMA,
    model: r.model,
    calibration: r.calibration,
    metrics: r.scores.map(metricReport),
    agreement: r.agreement,
    lens: r.lens,
    options: r.options,
    timings: r.timings,
    ...(r.scanBackends ? { scanBackends: r.scanBackends } : {}),
  };
}

function fmt(v: unknown): string {
  if (typeof v !== 'number') return v === null || v === undefined ? '-' : String(v);
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-3 ? v.toExponential(3) : v.toFixed(4);
}

/** Plain-text summary of a report (the CLI's non-JSON output): per metric a block table, then agreement. */
export function reportText(r: AnalysisReport): string {
  const lines: string[] = [];
  const c = r.calibration;
  lines.push(`${r.model.arch} ${r.model.name}: ${r.model.nLayers} blocks; calibration ${c.texts} text(s), ${c.tokens} tokens${c.truncated.length ? ` (${c.truncated.length} cut to ${c.maxTokens})` : ''}; base NLL ${fmt(c.baseNll)} nats/token`);
  for (const m of r.metrics) {
    lines.push('');
    lines.push(`${m.id}: ${m.label} [${m.unit}; ${m.higherIsMoreImportant ? 'higher' : 'lower'} = more important]`);
    const sub = new Map((m.sublayers ?? []).map((s) => [`${s.block}.${s.sublayer}`, s]));
    for (const b of m.blocks) {
      let line = `  block ${String(b.block).padStart(3)}  ${fmt(b.value).padStart(11)}  rank ${b.rank ?? '-'}`;
      const a = sub.get(`${b.block}.attn`);
      const p = sub.get(`${b.block}.mlp`);
      if (a && p) line += `   attn ${fmt(a.value)} (rank ${a.rank ?? '-'})  mlp ${fmt(p.value)} (rank ${p.rank ?? '-'})`;
      if (m.id === 'ablation') line += `   dNLL ${fmt(b.dNll)}  top-1 ${fmt(b.top1)}`;
      if (m.id === 'quant') {
        const plain = (b.plain as { bits: number; kl: number | null }[]).map((q) => `${q.bits}b ${fmt(q.kl)}`);
        const f = (b.formats as { format: string; kl: number | null }[]).map((q) => `${q.format} ${fmt(q.kl)}`);
        line += `   KL: ${[...plain, ...f].join(', ')}`;
      }
      lines.push(line);
    }
    if (m.id === 'quant') {
      const d = m.details as { valueFrom: string; allBlocks: { plain: { bits: number; kl: number | null; dNll: number | null }[]; formats: { format: string; kl: number | null; dNll: number | null }[] }; skipped: unknown[] };
      lines.push(`  value = KL with only that block quantized (${d.valueFrom}); all blocks at once: ${[...d.allBlocks.plain.map((q) => `${q.bits}b KL ${fmt(q.kl)} dNLL ${fmt(q.dNll)}`), ...d.allBlocks.formats.map((q) => `${q.format} KL ${fmt(q.kl)} dNLL ${fmt(q.dNll)}`)].join('; ')}`);
      if (d.skipped.length) lines.push(`  ${d.skipped.length} tensor/format pair(s) left unquantized (row length not a multiple of the block size); see --json details.skipped`);
    }
  }
  if (r.agreement && r.agreement.ids.length > 1) {
    lines.push('');
    lines.push('rank agreement (Spearman rho; Kendall tau-b in --json):');
    const ids = r.agreement.ids;
    const w = Math.max(...ids.map((s) => s.length), 6);
    lines.push(`  ${''.padEnd(w)} ${ids.map((s) => s.slice(0, 7).padStart(7)).join(' ')}`);
    r.agreement.spearman.forEach((row, i) => lines.push(`  ${ids[i].padEnd(w)} ${row.map((v) => (Number.isFinite(v) ? v.toFixed(2) : '-').padStart(7)).join(' ')}`));
  }
  lines.push('');
  lines.push(`time: ${Object.entries(r.timings).map(([k, v]) => `${k} ${(v / 1000).toFixed(2)} s`).join(', ')}`);
  return lines.join('\n');
}
