// The Experiments panel's data, pure: the engine's sweep curves (worker/engine-allocation.ts sweep) as
// line-chart series, the sweeps as CSV, and the papers' claims the charts are read against.
import type { SweepCurve, SweepResult } from '../worker/engine-allocation.ts';

export interface Series {
  name: string;
  points: { x: number; y: number }[];
  dashed?: boolean;
}

export type SweepY = 'meanNll' | 'kl' | 'top1';

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * Format sweep (Layer-Wise Quantization): y against the percent of blocks moved to the lower format, one
 * series per order: the metric's order, its reverse, and the mean of the random orders (each seed is
 * one random order; the mean over seeds is what "random" means on a chart).
 */
export function formatSweepSeries(r: SweepResult, y: SweepY): Series[] {
  const curves = r.curves.filter((c) => c.drop === null);
  const out: Series[] = [];
  const metric = curves.find((c) => c.order === r.metric);
  const rev = curves.find((c) => c.order === 'reverse');
  const randoms = curves.filter((c) => c.order.startsWith('random:'));
  const pts = (c: SweepCurve) => c.points.map((p) => ({ x: p.percent, y: p[y] }));
  if (metric) out.push({ name: `${r.metric} order (least important moved first)`, points: pts(metric) });
  if (rev) out.push({ name: 'reverse order (most important first)', points: pts(rev), dashed: true });
  if (randoms.length) {
    const xs = randoms[0].points.map((p) => p.percent);
    out.push({
      name: `random order (mean of ${randoms.length} seed${randoms.length > 1 ? 's' : ''})`,
      points: xs.map((x, i) => ({ x, y: mean(randoms.map((c) => c.points[i][y])) })),
      dashed: true,
    });
  }
  return out;
}

/** Drop sweep (LLM-Drop): y against the number dropped, one series per kind (block, attention, MLP), in the given order ('metric' = the metric's order). */
export function dropSweepSeries(r: SweepResult, y: SweepY, order: 'metric' | 'reverse' = 'metric'): Series[] {
  const name = order === 'metric' ? r.metric : 'reverse';
  const label: Record<string, string> = { block: 'whole blocks', attn: 'attention sublayers', mlp: 'MLP sublayers' };
  return r.curves
    .filter((c) => c.drop !== null && c.order === name)
    .map((c) => ({ name: `drop ${label[c.drop!] ?? c.drop}`, points: c.points.map((p) => ({ x: p.moved, y: p[y] })) }));
}

const cell = (v: unknown): string => {
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  const s = String(v ?? '');
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** Long-form CSV of sweep results: one row per point of every curve. */
export function sweepCsv(results: readonly (SweepResult | null | undefined)[]): string {
  const lines = ['sweep,metric,from,to,drop,order,percent,moved,mean_nll,kl,top1,format_bits_per_weight,bits_per_weight'];
  for (const r of results) {
    if (!r) continue;
    for (const c of r.curves) {
      for (const p of c.points) {
        lines.push([c.drop ? 'drop' : 'format', r.metric, r.from, r.to, c.drop, c.order, p.percent, p.moved, p.meanNll, p.kl, p.top1, p.formatBitsPerWeight, p.bitsPerWeight].map(cell).join(','));
      }
    }
  }
  return lines.join('\n') + '\n';
}

export interface Claim {
  id: string;
  paper: string;
  arxiv: string;
  text: string;
}

export const CLAIMS: Record<'lwq' | 'drop', Claim> = {
  lwq: {
    id: 'lwq',
    paper: 'Layer-Wise Quantization (Dumitru et al., 2024)',
    arxiv: '2406.17415',
    text:
      'Rank the layers by importance and move the least important ones to fewer bits first: the model stays close to the original until about 25-50% of the layers are moved. In the reverse or a random order it degrades after only 5-10%.',
  },
  drop: {
    id: 'drop',
    paper: 'What Matters in Transformers? Not All Attention is Needed (LLM-Drop; He et al., 2024)',
    arxiv: '2406.15786',
    text:
      'Attention sublayers are the most redundant part of a trained transformer: many can be dropped first with little loss, while dropping as many MLP sublayers, or whole blocks, hurts much sooner.',
  },
};

/** A first reading of a format sweep, in words: where each order's KL first exceeds `tol`. */
export function firstBreak(s: Series, tol: number): number | null {
  const p = s.points.find((q) => q.x > 0 && q.y > tol);
  return p ? p.x : null;
}
