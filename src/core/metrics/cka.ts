// Linear centered kernel alignment (CKA) between layer representations: Kornblith et al. 2019,
// "Similarity of Neural Network Representations Revisited", arXiv 1905.00414.
//
// Representations X [T, p] and Y [T, q] (tokens are the examples). Center every column over the T
// tokens (Xc = X - 1 mean(X)), then
//   CKA(X, Y) = ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)                  (feature form, C x C)
//             = <Kx, Ky>_F / (||Kx||_F ||Ky||_F),  Kx = Xc Xc^T, Ky = Yc Yc^T    (Gram form, T x T)
// The two are equal since ||Yc^T Xc||_F^2 = tr(Xc^T Yc Yc^T Xc) = <Xc Xc^T, Yc Yc^T>_F. CKA lies in
// [0, 1] and is invariant to orthogonal transforms and isotropic scaling of either representation.
// We use the Gram form when T <= C (cost T^2 C per layer, T^2 per pair, memory (L+1) T^2 float64) and
// the feature form otherwise (T C^2 per pair). Arithmetic in float64. A representation whose
// centered columns are all zero (e.g. T = 1) has undefined CKA: NaN.
//
// compute(): matrix[i][j] = CKA(blk.i.out, blk.j.out) over all L block outputs (L x L), and
// perBlock[l] = 1 - CKA(blk.l.in, blk.l.out): how much block l reshapes the token geometry
// (higher = more important).

import { requireTap, scores, tapName, type LayerScores, type MetricMeta, type TapsContext } from './types.ts';

export const meta: MetricMeta = {
  id: 'cka',
  label: '1 - linear CKA(in, out)',
  paper: 'Kornblith et al. 2019, Similarity of Neural Network Representations Revisited, arXiv 1905.00414',
  unit: '1 - CKA',
  higherIsMoreImportant: true,
  needs: ['taps'],
};

export type CkaForm = 'auto' | 'gram' | 'feature';

/** X [T, p] with every column centered over the T rows, as float64. */
export function centerColumns(x: ArrayLike<number>, T: number, p: number): Float64Array {
  const out = new Float64Array(T * p);
  for (let c = 0; c < p; c++) {
    let s = 0;
    for (let t = 0; t < T; t++) s += x[t * p + c];
    const m = s / T;
    for (let t = 0; t < T; t++) out[t * p + c] = x[t * p + c] - m;
  }
  return out;
}

/** Kx = Xc Xc^T, [T, T] (symmetric). */
function gram(xc: Float64Array, T: number, p: number): Float64Array {
  const k = new Float64Array(T * T);
  for (let i = 0; i < T; i++) {
    for (let j = i; j < T; j++) {
      let s = 0;
      for (let c = 0; c < p; c++) s += xc[i * p + c] * xc[j * p + c];
      k[i * T + j] = s;
      k[j * T + i] = s;
    }
  }
  return k;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** ||Bc^T Ac||_F^2 for centered A [T, p], B [T, q]: sum over (i, j) of (sum_t B[t,i] A[t,j])^2. */
function crossFro2(ac: Float64Array, p: number, bc: Float64Array, q: number, T: number): number {
  let total = 0;
  const row = new Float64Array(p);
  for (let i = 0; i < q; i++) {
    row.fill(0);
    for (let t = 0; t < T; t++) {
      const b = bc[t * q + i];
      if (b === 0) continue;
      const o = t * p;
      for (let j = 0; j < p; j++) row[j] += b * ac[o + j];
    }
    for (let j = 0; j < p; j++) total += row[j] * row[j];
  }
  return total;
}

function ratio(num: number, a: number, b: number): number {
  const den = a * b;
  return den > 0 ? num / den : NaN;
}

/** Linear CKA by the Gram (T x T) form. */
export function linearCkaGram(x: ArrayLike<number>, y: ArrayLike<number>, T: number, p: number, q: number): number {
  const kx = gram(centerColumns(x, T, p), T, p);
  const ky = gram(centerColumns(y, T, q), T, q);
  return ratio(dot(kx, ky), Math.sqrt(dot(kx, kx)), Math.sqrt(dot(ky, ky)));
}

/** Linear CKA by the feature (p x q) form. */
export function linearCkaFeature(x: ArrayLike<number>, y: ArrayLike<number>, T: number, p: number, q: number): number {
  const xc = centerColumns(x, T, p);
  const yc = centerColumns(y, T, q);
  return ratio(crossFro2(xc, p, yc, q, T), Math.sqrt(crossFro2(xc, p, xc, p, T)), Math.sqrt(crossFro2(yc, q, yc, q, T)));
}

/** Linear CKA between X [T, p] and Y [T, q]; 'auto' picks the Gram form when T <= min(p, q). */
export function linearCka(x: ArrayLike<number>, y: ArrayLike<number>, T: number, p: number, q: number, form: CkaForm = 'auto'): number {
  const useGram = form === 'gram' || (form === 'auto' && T <= Math.min(p, q));
  return useGram ? linearCkaGram(x, y, T, p, q) : linearCkaFeature(x, y, T, p, q);
}

/** L x L linear CKA between representations that all have shape [T, C]. */
export function ckaMatrix(reps: readonly ArrayLike<number>[], T: number, C: number, form: CkaForm = 'auto'): number[][] {
  const L = reps.length;
  const useGram = form === 'gram' || (form === 'auto' && T <= C);
  const m = Array.from({ length: L }, () => new Array<number>(L).fill(NaN));
  if (useGram) {
    const ks = reps.map((r) => gram(centerColumns(r, T, C), T, C));
    const norms = ks.map((k) => Math.sqrt(dot(k, k)));
    for (let i = 0; i < L; i++) for (let j = i; j < L; j++) m[i][j] = m[j][i] = ratio(dot(ks[i], ks[j]), norms[i], norms[j]);
  } else {
    const xs = reps.map((r) => centerColumns(r, T, C));
    const norms = xs.map((x) => Math.sqrt(crossFro2(x, C, x, C, T)));
    for (let i = 0; i < L; i++) for (let j = i; j < L; j++) m[i][j] = m[j][i] = ratio(crossFro2(xs[i], C, xs[j], C, T), norms[i], norms[j]);
  }
  return m;
}

export function compute(ctx: TapsContext & { form?: CkaForm }): LayerScores {
  const { taps, T, C, nLayers } = ctx;
  const form = ctx.form ?? 'auto';
  const outs: Float32Array[] = [];
  const perBlock: number[] = [];
  const ckaInOut: number[] = [];
  for (let l = 0; l < nLayers; l++) {
    const hin = requireTap(taps, tapName(l, 'in'), T, C);
    const hout = requireTap(taps, tapName(l, 'out'), T, C);
    outs.push(hout);
    const k = linearCka(hin, hout, T, C, C, form);
    ckaInOut.push(k);
    perBlock.push(1 - k);
  }
  return scores(meta, perBlock, { matrix: ckaMatrix(outs, T, C, form), extra: { ckaInOut } });
}
