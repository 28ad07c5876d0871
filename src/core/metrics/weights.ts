// Weight statistics per tensor and per block, from the dequantized f32 linear weights of each block
// (blk.l.attn_q/k/v or attn_qkv, attn_output, ffn_gate/up/down; each W row-major [out, in]).
// Every statistic is computed in float64; a "layer" value pools all of the block's linear weights.
//
//   fro        Frobenius norm ||W||_F = sqrt(sum w^2) (layer: over all its matrices together).
//   kurtosis   Pearson kurtosis E[(w - mu)^4] / sigma^4 with population moments (NOT excess:
//              a Gaussian gives 3). Heavy tails / outliers raise it; KurtBoost (Zhang et al. 2025,
//              "Towards Superior Quantization Accuracy: A Layer-sensitive Approach", arXiv 2503.06518)
//              gives high-kurtosis layers more bits. NaN for constant weights.
//   outliers   share of weights with |w| > k * mean|w| (default k = 5, OWL's usual M; mean over the
//              tensor, or over the whole block for the layer value).
//   owl        OWL's layerwise outlier ratio (Yin et al. 2023, "Outlier Weighed Layerwise Sparsity
//              (OWL)", arXiv 2310.05175): Wanda score A_ij = |W_ij| * ||X_j||_2 with ||X_j|| the L2 norm
//              of input feature j over the calibration tokens (ctx.inputNorms); a weight is an outlier
//              when A_ij > M * mean(A), the mean taken over all scores of the block's linear weights;
//              ratio = outliers / weights, a share in [0, 1] (OWL prints it in %). OWL tunes M and
//              reports M = 5 or 7; default M = 5. A common scale on the norms (OWL keeps the mean of
//              squared norms per token) cancels in the test. perTensor: that tensor's share above the
//              block's threshold. Needs activation norms; NaN without them.
//   erank      effective rank (Roy & Vetterli 2007, "The effective rank: a measure of effective
//              dimensionality", EUSIPCO; used by D-Rank, Mi et al. 2025, arXiv 2509.25622):
//              p_i = s_i / sum_j s_j over the singular values, erank = exp(-sum_i p_i ln p_i)
//              (0 ln 0 = 0; an all-zero matrix gives 0). Singular values by one-sided Jacobi (linalg.ts).
//              Layer value: mean over the block's matrices (extra: the mean of erank / min(rows, cols)).
// All five read "higher = more important" (more energy, heavier tails, more salient outliers, more
// spread-out spectrum); each is registered as its own metric (ids below).

import { singularValues } from './linalg.ts';
import { layerLinears, scores, type LayerScores, type MetricMeta, type WeightLookup, type WeightMatrix } from './types.ts';

export type WeightStat = 'fro' | 'kurtosis' | 'outliers' | 'owl' | 'erank';

const common = { higherIsMoreImportant: true } as const;
export const metas: Record<WeightStat, MetricMeta> = {
  fro: { ...common, id: 'w-fro', label: 'Weight Frobenius norm', paper: 'Frobenius norm of the linear weights (no single source)', unit: '||W||_F', needs: ['weights'] },
  kurtosis: { ...common, id: 'w-kurtosis', label: 'Weight kurtosis (Pearson)', paper: 'Zhang et al. 2025, Towards Superior Quantization Accuracy: A Layer-sensitive Approach (KurtBoost), arXiv 2503.06518', unit: 'kurtosis', needs: ['weights'] },
  outliers: { ...common, id: 'w-outliers', label: 'Weight outlier share |w| > k mean|w|', paper: 'Yin et al. 2023, Outlier Weighed Layerwise Sparsity (OWL), arXiv 2310.05175 (magnitude-only variant)', unit: 'share', needs: ['weights'] },
  owl: { ...common, id: 'owl', label: 'OWL outlier ratio (Wanda score)', paper: 'Yin et al. 2023, Outlier Weighed Layerwise Sparsity (OWL): A Missing Secret Sauce for Pruning LLMs to High Sparsity, arXiv 2310.05175', unit: 'share', needs: ['weights', 'activationNorms'] },
  erank: { ...common, id: 'erank', label: 'Effective rank', paper: 'Roy & Vetterli 2007, The effective rank: a measure of effective dimensionality (EUSIPCO); Mi et al. 2025, Layer-wise dynamic rank for compressing large language models (D-Rank), arXiv 2509.25622', unit: 'rank', needs: ['weights'] },
};

export interface WeightStatsContext {
  nLayers: number;
  weight: WeightLookup;
  /** ||X_j||_2 over calibration tokens per input column of a tensor (length cols), by canonical name. */
  inputNorms?: (name: string) => Float32Array | undefined;
  /** Outlier factor k for `outliers` (default 5). */
  outlierK?: number;
  /** OWL's M (default 5). */
  owlM?: number;
  /** Skip the SVDs (erank becomes NaN). Default true. */
  effectiveRank?: boolean;
}

export interface TensorStats {
  fro: number;
  kurtosis: number;
  outliers: number;
  owl: number;
  erank: number;
  erankNormalized: number;
}

export interface WeightStats {
  perLayer: Record<WeightStat, number[]> & { erankNormalized: number[] };
  perTensor: Record<string, TensorStats>;
}

/** Pearson kurtosis E[(x - mu)^4] / sigma^4 (population moments) over the concatenated parts. */
export function kurtosis(parts: readonly ArrayLike<number>[]): number {
  let n = 0;
  let s = 0;
  for (const p of parts) for (let i = 0; i < p.length; i++) { s += p[i]; n++; }
  if (n === 0) return NaN;
  const mu = s / n;
  let m2 = 0;
  let m4 = 0;
  for (const p of parts) {
    for (let i = 0; i < p.length; i++) {
      const d = (p[i] - mu) * (p[i] - mu);
      m2 += d;
      m4 += d * d;
    }
  }
  m2 /= n;
  m4 /= n;
  return m2 > 0 ? m4 / (m2 * m2) : NaN;
}

/** Share of |x| > k * mean|x| over the concatenated parts. */
export function magnitudeOutlierShare(parts: readonly ArrayLike<number>[], k: number): number {
  let n = 0;
  let s = 0;
  for (const p of parts) for (let i = 0; i < p.length; i++) { s += Math.abs(p[i]); n++; }
  if (n === 0) return NaN;
  const lim = (k * s) / n;
  let c = 0;
  for (const p of parts) for (let i = 0; i < p.length; i++) if (Math.abs(p[i]) > lim) c++;
  return c / n;
}

/** exp(Shannon entropy of s_i / sum s); 0 when every s_i is 0. */
export function effectiveRank(s: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < s.length; i++) sum += s[i];
  if (!(sum > 0)) return 0;
  let h = 0;
  for (let i = 0; i < s.length; i++) {
    const p = s[i] / sum;
    if (p > 0) h -= p * Math.log(p);
  }
  return Math.exp(h);
}

/** Wanda scores |W_ij| * norms[j] of a [rows, cols] matrix, float64. */
function wandaScores(w: WeightMatrix, norms: Float32Array, name: string): Float64Array {
  if (norms.length !== w.cols) throw new Error(`input norms of '${name}': ${norms.length} values, the matrix has ${w.cols} input columns`);
  const a = new Float64Array(w.data.length);
  for (let r = 0; r < w.rows; r++) for (let c = 0; c < w.cols; c++) a[r * w.cols + c] = Math.abs(w.data[r * w.cols + c]) * norms[c];
  return a;
}

/** OWL outlier shares of one block: the block's ratio and each tensor's share above the block threshold. */
export function owlOutliers(mats: [string, WeightMatrix][], inputNorms: (name: string) => Float32Array | undefined, M: number): { layer: number; perTensor: Record<string, number> } {
  const scoresByName: [string, Float64Array][] = [];
  for (const [name, w] of mats) {
    const norms = inputNorms(name);
    if (!norms) return { layer: NaN, perTensor: {} };
    scoresByName.push([name, wandaScores(w, norms, name)]);
  }
  let n = 0;
  let s = 0;
  for (const [, a] of scoresByName) for (const v of a) { s += v; n++; }
  if (n === 0) return { layer: NaN, perTensor: {} };
  const lim = (M * s) / n;
  let total = 0;
  const perTensor: Record<string, number> = {};
  for (const [name, a] of scoresByName) {
    let c = 0;
    for (const v of a) if (v > lim) c++;
    perTensor[name] = c / a.length;
    total += c;
  }
  return { layer: total / n, perTensor };
}

export function weightStats(ctx: WeightStatsContext): WeightStats {
  const k = ctx.outlierK ?? 5;
  const M = ctx.owlM ?? 5;
  const doRank = ctx.effectiveRank ?? true;
  const perLayer: WeightStats['perLayer'] = { fro: [], kurtosis: [], outliers: [], owl: [], erank: [], erankNormalized: [] };
  const perTensor: Record<string, TensorStats> = {};
  for (let l = 0; l < ctx.nLayers; l++) {
    const mats = layerLinears(ctx.weight, l);
    const datas = mats.map(([, w]) => w.data);
    let ss = 0;
    for (const d of datas) for (const v of d) ss += v * v;
    perLayer.fro.push(mats.length ? Math.sqrt(ss) : NaN);
    perLayer.kurtosis.push(kurtosis(datas));
    perLayer.outliers.push(magnitudeOutlierShare(datas, k));
    const owl = ctx.inputNorms ? owlOutliers(mats, ctx.inputNorms, M) : { layer: NaN, perTensor: {} as Record<string, number> };
    perLayer.owl.push(owl.layer);
    let er = 0;
    let ern = 0;
    for (const [name, w] of mats) {
      let tss = 0;
      for (const v of w.data) tss += v * v;
      const e = doRank ? effectiveRank(singularValues(w.data, w.rows, w.cols)) : NaN;
      const en = e / Math.min(w.rows, w.cols);
      er += e;
      ern += en;
      perTensor[name] = {
        fro: Math.sqrt(tss),
        kurtosis: kurtosis([w.data]),
        outliers: magnitudeOutlierShare([w.data], k),
        owl: owl.perTensor[name] ?? NaN,
        erank: e,
        erankNormalized: en,
      };
    }
    perLayer.erank.push(mats.length ? er / mats.length : NaN);
    perLayer.erankNormalized.push(mats.length ? ern / mats.length : NaN);
  }
  return { perLayer, perTensor };
}

/**
 * LayerScores for one statistic (perTensor: that statistic per tensor; extra: every per-layer
 * statistic). The SVDs run only for 'erank' unless ctx.effectiveRank says otherwise (extra.erank is
 * NaN then); pass `precomputed` to build several metrics from one weightStats() pass.
 */
export function compute(ctx: WeightStatsContext, stat: WeightStat, precomputed?: WeightStats): LayerScores {
  const ws = precomputed ?? weightStats(stat === 'erank' ? ctx : { ...ctx, effectiveRank: ctx.effectiveRank ?? false });
  const perTensor: Record<string, number> = {};
  for (const [name, t] of Object.entries(ws.perTensor)) perTensor[name] = t[stat];
  return scores(metas[stat], ws.perLayer[stat], { perTensor, extra: { ...ws.perLayer } });
}
