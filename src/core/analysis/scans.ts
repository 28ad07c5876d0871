// The heavy scans of the taps and weight metrics as small reductions that a provider (the WebGPU
// scanner in src/gpu/analysis-scans.ts, or the float64 CPU references below) computes, and the
// LayerScores built from their results, field for field the same as the CPU metric modules:
//
//   activations (metrics/cos.ts, lim.ts, contrib.ts; Men et al. 2024 arXiv 2403.03853, Dumitru et al.
//   2024 arXiv 2406.17415, Csordas et al. 2025 arXiv 2505.13898): per block l and token t the nine sums
//   TOKEN_SUMS over the C channels of the residual taps: <in,out>, ||in||^2, ||out||^2, <in,mid>, ||mid||^2,
//   <mid,out>, ||attn_out||^2, ||mlp_out||^2, ||out-in||^2  -> [L, T, 9]. Cosines (zero norm -> 1,
//   clamped) and norm ratios (NaN where ||x|| = 0) follow in float64 on the host.
//
//   linear CKA (metrics/cka.ts; Kornblith et al. 2019 arXiv 1905.00414): CKA(X, Y) =
//   <Kx, Ky>_F / (||Kx||_F ||Ky||_F) with Kx = Xc Xc^T of column-centred X (Gram form, T <= C) or
//   ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F) (feature form, T > C), the same choice as ckaMatrix's
//   'auto'. The provider returns the L values CKA(in_l, out_l) and the L x L matrix CKA(out_i, out_j).
//
//   weights (metrics/weights.ts, zd.ts): three passes over every linear matrix of a block, each giving
//   WEIGHT_SUMS = 8 numbers per matrix (element w at column j, Wanda score a = |w| * norms[j]):
//     pass 0: [sum w, sum |w|, sum w^2, max |w|, sum a, 0, 0, 0]
//     pass 1 (params muT, muL, limT, limL, owlLim): [sum (w-muT)^2, sum (w-muT)^4, sum (w-muL)^2,
//             sum (w-muL)^4, #|w| > limT, #|w| > limL, #a > owlLim, 0]
//     pass 2 (params muT, sigT, muL, sigL): [#|w-muT| > sigT, #|w-muL| > sigL, 0, ...]
//   (T: the matrix's own mean / limits, L: those pooled over the block). Frobenius, Pearson kurtosis,
//   the magnitude-outlier share, OWL's outlier ratio and ZD follow from these; the effective rank stays
//   on the CPU (one-sided Jacobi SVD of each matrix, linalg.ts).

import type { LayerScores, Taps, WeightMatrix } from '../metrics/types.ts';
import { mean, requireTap, scores, tapName } from '../metrics/types.ts';
import { meta as cosMeta } from '../metrics/cos.ts';
import { meta as limMeta } from '../metrics/lim.ts';
import { meta as contribMeta, nanMean } from '../metrics/contrib.ts';
import { meta as ckaMeta, ckaMatrix, linearCka } from '../metrics/cka.ts';
import { meta as zdMeta } from '../metrics/zd.ts';
import { effectiveRank, type TensorStats, type WeightStats, type WeightStatsContext } from '../metrics/weights.ts';
import { layerLinears } from '../metrics/types.ts';
import { singularValues } from '../metrics/linalg.ts';

/** Slots of the per-token sums, [L, T, TOKEN_SUMS]. */
export const TS = { dotInOut: 0, n2In: 1, n2Out: 2, dotInMid: 3, n2Mid: 4, dotMidOut: 5, n2Attn: 6, n2Mlp: 7, n2Delta: 8 } as const;
export const TOKEN_SUMS = 9;
export const WEIGHT_SUMS = 8;

export interface ActivationScanRequest {
  taps: Taps;
  nLayers: number;
  T: number;
  C: number;
  /** Compute the per-token sums (cos, lim, contrib). Missing optional taps (mid, attn_out, mlp_out) give 0 sums. */
  tokens: boolean;
  /** Compute CKA (needs blk.l.in and blk.l.out). */
  cka: boolean;
}

export interface ActivationScan {
  /** [L * T * TOKEN_SUMS], or null when not asked. */
  tokenSums: Float64Array | null;
  /** CKA(in_l, out_l) and CKA(out_i, out_j); null when not asked or when the provider declines (too large): the CPU then computes it. */
  cka: { inOut: number[]; matrix: number[][] } | null;
}

export interface ActivationScanner {
  /** Where the scans run ('gpu'), for the result's `scanBackends`. */
  readonly backend: string;
  scan(req: ActivationScanRequest): Promise<ActivationScan>;
}

/** One linear matrix of a block and the Wanda input norms of its columns (length cols) when known. */
export interface WeightScanTensor {
  name: string;
  w: WeightMatrix;
  norms?: Float32Array;
}

/** The matrices of one block, loaded for the passes (see the header). */
export interface WeightScanBlock {
  /** One pass over every loaded matrix; params [nMats * WEIGHT_SUMS]; result [nMats * WEIGHT_SUMS]. */
  reduce(pass: 0 | 1 | 2, params: Float64Array): Promise<Float64Array>;
  dispose(): void;
}

export interface WeightScanner {
  readonly backend: string;
  load(mats: WeightScanTensor[]): Promise<WeightScanBlock>;
}

// ---------------------------------------------------------------------------------------------------
// CPU references (float64): what the GPU kernels are tested against.

/** The per-token sums of the header, float64, from [T, C] taps (absent optional taps -> 0). */
export function tokenSumsCpu(taps: Taps, L: number, T: number, C: number): Float64Array {
  const out = new Float64Array(L * T * TOKEN_SUMS);
  for (let l = 0; l < L; l++) {
    const hin = requireTap(taps, tapName(l, 'in'), T, C);
    const hout = requireTap(taps, tapName(l, 'out'), T, C);
    const mid = taps[tapName(l, 'mid')];
    const att = taps[tapName(l, 'attn_out')];
    const mlp = taps[tapName(l, 'mlp_out')];
    for (let t = 0; t < T; t++) {
      const s = new Float64Array(TOKEN_SUMS);
      for (let c = 0; c < C; c++) {
        const i = t * C + c;
        const x = hin[i];
        const y = hout[i];
        s[0] += x * y;
        s[1] += x * x;
        s[2] += y * y;
        if (mid) {
          const m = mid[i];
          s[3] += x * m;
          s[4] += m * m;
          s[5] += m * y;
        }
        if (att) s[6] += att[i] * att[i];
        if (mlp) s[7] += mlp[i] * mlp[i];
        s[8] += (y - x) * (y - x);
      }
      out.set(s, (l * T + t) * TOKEN_SUMS);
    }
  }
  return out;
}

/** The reference activation scanner: float64 sums on the CPU and metrics/cka.ts. */
export const cpuActivationScanner: ActivationScanner = {
  backend: 'cpu',
  async scan(req) {
    const { taps, nLayers: L, T, C } = req;
    let cka: ActivationScan['cka'] = null;
    if (req.cka) {
      const inOut: number[] = [];
      const outs: Float32Array[] = [];
      for (let l = 0; l < L; l++) {
        const hin = requireTap(taps, tapName(l, 'in'), T, C);
        const hout = requireTap(taps, tapName(l, 'out'), T, C);
        inOut.push(linearCka(hin, hout, T, C, C));
        outs.push(hout);
      }
      cka = { inOut, matrix: ckaMatrix(outs, T, C) };
    }
    return { tokenSums: req.tokens ? tokenSumsCpu(taps, L, T, C) : null, cka };
  },
};

/** The reference weight scanner: the three passes in float64 on the CPU. */
export const cpuWeightScanner: WeightScanner = {
  backend: 'cpu',
  async load(mats) {
    return {
      async reduce(pass, params) {
        const out = new Float64Array(mats.length * WEIGHT_SUMS);
        mats.forEach(({ w, norms }, m) => {
          const p = params.subarray(m * WEIGHT_SUMS, (m + 1) * WEIGHT_SUMS);
          const s = out.subarray(m * WEIGHT_SUMS, (m + 1) * WEIGHT_SUMS);
          for (let i = 0; i < w.data.length; i++) {
            const v = w.data[i];
            const a = Math.abs(v);
            const sc = norms ? a * norms[i % w.cols] : 0;
            if (pass === 0) {
              s[0] += v;
              s[1] += a;
              s[2] += v * v;
              s[3] = Math.max(s[3], a);
              s[4] += sc;
            } else if (pass === 1) {
              const dt = (v - p[0]) * (v - p[0]);
              const dl = (v - p[1]) * (v - p[1]);
              s[0] += dt;
              s[1] += dt * dt;
              s[2] += dl;
              s[3] += dl * dl;
              if (a > p[2]) s[4]++;
              if (a > p[3]) s[5]++;
              if (norms && sc > p[4]) s[6]++;
            } else {
              if (Math.abs(v - p[0]) > p[1]) s[0]++;
              if (Math.abs(v - p[2]) > p[3]) s[1]++;
            }
          }
        });
        return out;
      },
      dispose() {},
    };
  },
};

// ---------------------------------------------------------------------------------------------------
// LayerScores from the scans (the same fields as metrics/cos.ts, lim.ts, contrib.ts, cka.ts).

function cosOf(dot: number, na: number, nb: number): number {
  return na === 0 || nb === 0 ? 1 : Math.min(1, Math.max(-1, dot / Math.sqrt(na * nb)));
}

/** Per-token values f(sums of (l, t)) as one Float64Array per block. */
function perBlockRows(sums: Float64Array, L: number, T: number, f: (s: Float64Array) => number): Float64Array[] {
  const rows: Float64Array[] = [];
  for (let l = 0; l < L; l++) {
    const r = new Float64Array(T);
    for (let t = 0; t < T; t++) r[t] = f(sums.subarray((l * T + t) * TOKEN_SUMS, (l * T + t + 1) * TOKEN_SUMS));
    rows.push(r);
  }
  return rows;
}

function meanAngular(cos: Float64Array): number {
  let s = 0;
  for (const c of cos) s += Math.acos(c) / Math.PI;
  return cos.length ? s / cos.length : NaN;
}

function needTaps(taps: Taps, L: number, points: ('in' | 'attn_out' | 'mid' | 'mlp_out' | 'out')[]): void {
  for (let l = 0; l < L; l++) for (const p of points) if (!taps[tapName(l, p)]) throw new Error(`metric needs tap '${tapName(l, p)}', which the forward did not return`);
}

/** metrics/cos.ts from the token sums. */
export function cosFromSums(sums: Float64Array, L: number, T: number, taps: Taps): LayerScores {
  needTaps(taps, L, ['in', 'mid', 'out']);
  const block = perBlockRows(sums, L, T, (s) => cosOf(s[TS.dotInOut], s[TS.n2In], s[TS.n2Out]));
  const att = perBlockRows(sums, L, T, (s) => cosOf(s[TS.dotInMid], s[TS.n2In], s[TS.n2Mid]));
  const mlp = perBlockRows(sums, L, T, (s) => cosOf(s[TS.dotMidOut], s[TS.n2Mid], s[TS.n2Out]));
  const meanCos = block.map((b) => mean(b));
  const meanCosNoFirst = block.map((b) => mean(b, 1));
  return scores(cosMeta, meanCos.map((c) => 1 - c), {
    perSublayer: { attn: att.map((a) => 1 - mean(a)), mlp: mlp.map((m) => 1 - mean(m)) },
    perToken: block.map((b) => Array.from(b, (c) => 1 - c)),
    extra: {
      meanCos,
      meanCosNoFirst,
      biNoFirst: meanCosNoFirst.map((c) => 1 - c),
      angular: block.map(meanAngular),
      attnAngular: att.map(meanAngular),
      mlpAngular: mlp.map(meanAngular),
      attnCos: att.map((a) => mean(a)),
      mlpCos: mlp.map((m) => mean(m)),
    },
  });
}

/** metrics/lim.ts from the token sums. */
export function limFromSums(sums: Float64Array, L: number, T: number, taps: Taps): LayerScores {
  needTaps(taps, L, ['in', 'out']);
  const block = perBlockRows(sums, L, T, (s) => cosOf(s[TS.dotInOut], s[TS.n2In], s[TS.n2Out]));
  return scores(limMeta, block.map((b) => -mean(b)), { perToken: block.map((b) => Array.from(b, (c) => -c)) });
}

/** metrics/contrib.ts from the token sums. */
export function contribFromSums(sums: Float64Array, L: number, T: number, taps: Taps): LayerScores {
  needTaps(taps, L, ['in', 'attn_out', 'mid', 'mlp_out', 'out']);
  const ratio = (f: number, x: number) => (x === 0 ? NaN : Math.sqrt(f / x));
  const blk = perBlockRows(sums, L, T, (s) => ratio(s[TS.n2Delta], s[TS.n2In]));
  const att = perBlockRows(sums, L, T, (s) => ratio(s[TS.n2Attn], s[TS.n2In]));
  const mlp = perBlockRows(sums, L, T, (s) => ratio(s[TS.n2Mlp], s[TS.n2Mid]));
  return scores(contribMeta, blk.map(nanMean), {
    perSublayer: { attn: att.map(nanMean), mlp: mlp.map(nanMean) },
    perToken: blk.map((b) => Array.from(b)),
  });
}

/** metrics/cka.ts from the scanned CKA values. */
export function ckaFromScan(cka: { inOut: number[]; matrix: number[][] }): LayerScores {
  return scores(ckaMeta, cka.inOut.map((k) => 1 - k), { matrix: cka.matrix, extra: { ckaInOut: cka.inOut } });
}

// ---------------------------------------------------------------------------------------------------
// Weight statistics and ZD from the three passes.

export interface ZdParts {
  perBlock: number[];
  perTensor: Record<string, number>;
  perMatrixMean: number[];
}

/** metrics/zd.ts's LayerScores from the scanned parts. */
export function zdFromScan(z: ZdParts): LayerScores {
  return scores(zdMeta, z.perBlock, { perTensor: z.perTensor, extra: { perMatrixMean: z.perMatrixMean } });
}

/**
 * weightStats (metrics/weights.ts) and ZD (metrics/zd.ts) of every block from the scanner's passes.
 * The effective rank (when ctx.effectiveRank, default true) is computed here on the CPU by SVD.
 */
export async function scanWeightStats(ctx: WeightStatsContext, scanner: WeightScanner): Promise<{ stats: WeightStats; zd: ZdParts }> {
  const k = ctx.outlierK ?? 5;
  const M = ctx.owlM ?? 5;
  const doRank = ctx.effectiveRank ?? true;
  const perLayer: WeightStats['perLayer'] = { fro: [], kurtosis: [], outliers: [], owl: [], erank: [], erankNormalized: [] };
  const perTensor: Record<string, TensorStats> = {};
  const zd: ZdParts = { perBlock: [], perTensor: {}, perMatrixMean: [] };
  const W = WEIGHT_SUMS;
  for (let l = 0; l < ctx.nLayers; l++) {
    const mats = layerLinears(ctx.weight, l);
    const m = mats.length;
    const tensors: WeightScanTensor[] = mats.map(([name, w]) => {
      const norms = ctx.inputNorms?.(name);
      if (norms && norms.length !== w.cols) throw new Error(`input norms of '${name}': ${norms.length} values, the matrix has ${w.cols} input columns`);
      return { name, w, norms };
    });
    const owlOk = !!ctx.inputNorms && m > 0 && tensors.every((t) => t.norms);
    const ns = mats.map(([, w]) => w.data.length);
    const N = ns.reduce((a, b) => a + b, 0);
    const block = await scanner.load(tensors);
    try {
      const s0 = await block.reduce(0, new Float64Array(m * W));
      let sum = 0;
      let sumAbs = 0;
      let sumSq = 0;
      let sumA = 0;
      for (let i = 0; i < m; i++) {
        sum += s0[i * W];
        sumAbs += s0[i * W + 1];
        sumSq += s0[i * W + 2];
        sumA += s0[i * W + 4];
      }
      const muL = sum / N;
      const limL = (k * sumAbs) / N;
      const owlLim = (M * sumA) / N;
      const p1 = new Float64Array(m * W);
      for (let i = 0; i < m; i++) p1.set([s0[i * W] / ns[i], muL, (k * s0[i * W + 1]) / ns[i], limL, owlLim], i * W);
      const s1 = await block.reduce(1, p1);
      let m2L = 0;
      let m4L = 0;
      let outL = 0;
      let owlL = 0;
      for (let i = 0; i < m; i++) {
        m2L += s1[i * W + 2];
        m4L += s1[i * W + 3];
        outL += s1[i * W + 5];
        owlL += s1[i * W + 6];
      }
      const sigL = Math.sqrt(m2L / N);
      const p2 = new Float64Array(m * W);
      for (let i = 0; i < m; i++) p2.set([s0[i * W] / ns[i], Math.sqrt(s1[i * W] / ns[i]), muL, sigL], i * W);
      const s2 = await block.reduce(2, p2);
      let zL = 0;
      for (let i = 0; i < m; i++) zL += s2[i * W + 1];

      const kurt = (m2: number, m4: number, n: number) => (n === 0 ? NaN : m2 / n > 0 ? m4 / n / ((m2 / n) * (m2 / n)) : NaN);
      const share = (c: number, n: number) => (n === 0 ? NaN : c / n);
      perLayer.fro.push(m ? Math.sqrt(sumSq) : NaN);
      perLayer.kurtosis.push(kurt(m2L, m4L, N));
      perLayer.outliers.push(share(outL, N));
      perLayer.owl.push(owlOk ? share(owlL, N) : NaN);
      zd.perBlock.push(N === 0 ? NaN : sigL === 0 ? 0 : zL / N);
      let er = 0;
      let ern = 0;
      let zs = 0;
      mats.forEach(([name, w], i) => {
        const n = ns[i];
        const e = doRank ? effectiveRank(singularValues(w.data, w.rows, w.cols)) : NaN;
        const en = e / Math.min(w.rows, w.cols);
        er += e;
        ern += en;
        perTensor[name] = {
          fro: Math.sqrt(s0[i * W + 2]),
          kurtosis: kurt(s1[i * W], s1[i * W + 1], n),
          outliers: share(s1[i * W + 4], n),
          owl: owlOk ? s1[i * W + 6] / n : NaN,
          erank: e,
          erankNormalized: en,
        };
        const z = n === 0 ? NaN : p2[i * W + 1] === 0 ? 0 : s2[i * W] / n;
        zd.perTensor[name] = z;
        zs += z;
      });
      perLayer.erank.push(m ? er / m : NaN);
      perLayer.erankNormalized.push(m ? ern / m : NaN);
      zd.perMatrixMean.push(m ? zs / m : NaN);
    } finally {
      block.dispose();
    }
  }
  return { stats: { perLayer, perTensor }, zd };
}
